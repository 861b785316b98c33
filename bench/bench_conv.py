"""Benchmark: Conv2d forward + backward on a CIFAR-sized batch (paper §5.2).

Input (128, 3, 32, 32), weight (32, 3, 5, 5), stride 1, no padding: 240,844,800 MACs forward.
Compares, in one run on the same data:
  * tinytorch (the reference Conv2d, through autograd: im2col + one matrix product, col2im),
  * the seven explicit loops (conv2d_explicit) -- far too slow for the full batch, so it is timed
    on a slice (1 image, a few output channels) and EXTRAPOLATED to the full problem by the MAC
    ratio; its backward (module 17's conv2d_backward_explicit, loops for the input, weight and bias
    gradients) is timed on the same slice and extrapolated the same way. The output says so.
  * PyTorch CPU, when torch is installed (`pip install '.[bench]'`), with the same number of
    threads as NumPy's BLAS (`--threads N` pins both; default: every core, both libraries' default).
Every implementation gets the same input, weight and upstream gradient; the input requires a
gradient everywhere, so all compute grad_input, grad_weight and grad_bias. Reports the median
time over repeats (implementations timed in turns, after untimed runs) and ratios to PyTorch CPU.
Run:  .venv/bin/python bench/bench_conv.py [--repeats 15] [--slice-channels 4] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--slice-channels", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None,
                        help="pin NumPy's BLAS and PyTorch to this many threads (default: library defaults, all cores)")
    return parser.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else parse_args([])
if ARGS.threads is not None:  # must happen before NumPy loads its BLAS
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference"))

from tinytorch.core.autograd import enable_autograd  # noqa: E402
from tinytorch.core.spatial import Conv2d, conv2d_explicit, conv2d_macs  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.perf.acceleration import conv2d_backward_explicit  # noqa: E402

BATCH, C_IN, SIZE, C_OUT, KERNEL = 128, 3, 32, 32, 5


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, C_IN, SIZE, SIZE)).astype(np.float32)
    weight = (rng.normal(size=(C_OUT, C_IN, KERNEL, KERNEL)) * 0.1).astype(np.float32)
    bias = rng.normal(size=C_OUT).astype(np.float32)
    out = SIZE - KERNEL + 1
    upstream = rng.normal(size=(BATCH, C_OUT, out, out)).astype(np.float32)
    return x, weight, bias, upstream


def median_ms(fn, repeats: int, untimed: int = 3) -> float:
    for _ in range(untimed):  # imports, allocator, thread pools
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def interleaved_median_ms(steps: dict, repeats: int, untimed: int = 3) -> dict[str, float]:
    """Median ms per step, timing the implementations in turns (A B A B ...) so that a change
    in machine load affects all of them alike."""
    for fn in steps.values():
        for _ in range(untimed):
            fn()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, fn in steps.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def tinytorch_step(x, weight, bias, upstream):
    enable_autograd()
    layer = Conv2d(C_IN, C_OUT, KERNEL)
    layer.weight.data, layer.bias.data = weight.copy(), bias.copy()
    upstream_tensor = Tensor(upstream)
    result = {}

    def step():
        layer.weight.grad = layer.bias.grad = None
        inputs = Tensor(x, requires_grad=True)
        out = layer(inputs)
        out.backward(upstream_tensor)
        result.update(out=out.data, grad_x=inputs.grad.data, grad_w=layer.weight.grad.data, grad_b=layer.bias.grad.data)

    return step, result


def torch_step(x, weight, bias, upstream):
    import torch

    conv = torch.nn.Conv2d(C_IN, C_OUT, KERNEL)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weight))
        conv.bias.copy_(torch.from_numpy(bias))
    x_t, upstream_t = torch.from_numpy(x), torch.from_numpy(upstream)
    result = {}

    def step():
        conv.zero_grad(set_to_none=True)
        inputs = x_t.clone().requires_grad_(True)
        out = conv(inputs)
        out.backward(upstream_t)
        result.update(out=out.detach().numpy(), grad_x=inputs.grad.numpy(), grad_w=conv.weight.grad.numpy(),
                      grad_b=conv.bias.grad.numpy())

    return step, result


def explicit_estimate_ms(x, weight, bias, upstream, slice_channels: int, repeats: int) -> tuple[float, float, int]:
    """Time the seven loops forward and backward on 1 image x `slice_channels` filters; extrapolate
    both by the MAC ratio. Returns (forward ms, forward + backward ms, slice MACs)."""
    x_slice, w_slice, b_slice = x[:1].astype(np.float64), weight[:slice_channels].astype(np.float64), bias[:slice_channels]
    grad_slice = upstream[:1, :slice_channels].astype(np.float64)
    slice_macs = conv2d_macs(x_slice.shape, slice_channels, KERNEL)
    scale = conv2d_macs(x.shape, C_OUT, KERNEL) / slice_macs
    runs = max(1, repeats // 5)
    forward_ms = median_ms(lambda: conv2d_explicit(x_slice, w_slice, b_slice), runs, untimed=1) * scale
    backward_ms = median_ms(lambda: conv2d_backward_explicit(x_slice, w_slice, grad_slice), runs, untimed=1) * scale
    return forward_ms, forward_ms + backward_ms, slice_macs


def main(args: argparse.Namespace = ARGS) -> int:
    x, weight, bias, upstream = make_data()
    macs = conv2d_macs(x.shape, C_OUT, KERNEL)
    print(f"Conv2d forward+backward: input {x.shape}, weight {weight.shape}, float32, {macs:,} MACs forward")
    threads = "library defaults" if args.threads is None else str(args.threads)
    print(f"threads: {threads} ({os.cpu_count()} cores visible); NumPy {np.__version__}")

    steps = {}
    steps["tinytorch reference"], ours = tinytorch_step(x, weight, bias, upstream)
    try:
        import torch
    except ModuleNotFoundError:
        torch = None
        print("torch not installed: PyTorch row skipped (pip install '.[bench]')")
    if torch is not None:
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        steps[f"PyTorch {torch.__version__} CPU"], theirs = torch_step(x, weight, bias, upstream)
    rows = interleaved_median_ms(steps, args.repeats)
    if torch is not None:
        for key in ("out", "grad_x", "grad_w", "grad_b"):  # same answers, or the timings mean nothing
            scale = float(np.abs(theirs[key]).max())
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-3, atol=1e-4 * scale, err_msg=key)
        print("outputs and all three gradients agree with PyTorch (rtol 1e-3)")

    forward_ms, total_ms, slice_macs = explicit_estimate_ms(x, weight, bias, upstream, args.slice_channels, args.repeats)
    rows["seven loops (EXTRAPOLATED)"] = total_ms

    baseline_name = next((name for name in rows if name.startswith("PyTorch")), "tinytorch reference")
    baseline = rows[baseline_name]
    if torch is not None:
        print(f"PyTorch threads: {torch.get_num_threads()}")
    print(f"\nmedian of {args.repeats} runs (after 3 untimed); ratios are to {baseline_name}")
    print(f"{'implementation':<34}{'ms fwd+bwd':>14}{'ratio':>12}")
    for name, ms in rows.items():
        print(f"{name:<34}{ms:>14,.1f}{ms / baseline:>11,.2f}x")
    print(f"\nseven loops: timed on 1 image x {args.slice_channels} filters ({slice_macs:,} MACs), scaled by "
          f"{macs / slice_macs:,.0f}x to the full batch = {forward_ms / 1e3:,.1f} s forward, "
          f"{total_ms / 1e3:,.1f} s forward + backward (the backward loops timed on the same slice)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
