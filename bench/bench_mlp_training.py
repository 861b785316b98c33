"""Benchmark: one training step of a 64-128-10 MLP (ReLU, cross-entropy, Adam, batch 32).

Compares, in one run on the same data:
  * tinytorch (the reference, via autograd),
  * the same math written by hand in NumPy (forward, backward and Adam, no framework),
  * PyTorch CPU, when torch is installed (`pip install '.[bench]'`).
Reports the median time per step over repeats after warm-up, and ratios to hand-written NumPy.
Run:  .venv/bin/python bench/bench_mlp_training.py [--steps 200] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference"))

from tinytorch import Adam, CrossEntropyLoss, Linear, ReLU, Sequential, Tensor, enable_autograd  # noqa: E402

IN, HIDDEN, OUT, BATCH, LR = 64, 128, 10, 32, 1e-3


def make_data(steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(steps, BATCH, IN)).astype(np.float32)
    y = rng.integers(0, OUT, size=(steps, BATCH))
    return x, y


def init_weights(seed: int = 0):
    rng = np.random.default_rng(seed)
    a1, a2 = np.sqrt(6 / (IN + HIDDEN)), np.sqrt(6 / (HIDDEN + OUT))
    return [rng.uniform(-a1, a1, (IN, HIDDEN)).astype(np.float32), np.zeros(HIDDEN, np.float32),
            rng.uniform(-a2, a2, (HIDDEN, OUT)).astype(np.float32), np.zeros(OUT, np.float32)]


def run_tinytorch(x, y):
    enable_autograd()
    model = Sequential(Linear(IN, HIDDEN), ReLU(), Linear(HIDDEN, OUT))
    for parameter, value in zip(model.parameters(), init_weights()):
        parameter.data = value.copy()
    optimizer, loss_fn = Adam(model.parameters(), lr=LR), CrossEntropyLoss()
    for xb, yb in zip(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(Tensor(xb)), yb)
        loss.backward()
        optimizer.step()
    return float(loss.item())


def run_numpy(x, y):
    params = init_weights()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t, (xb, yb) in enumerate(zip(x, y), start=1):
        w1, c1, w2, c2 = params
        pre = xb @ w1 + c1
        hidden = np.maximum(pre, 0)
        logits = hidden @ w2 + c2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(BATCH), yb].mean()
        d_logits = np.exp(log_probs)
        d_logits[np.arange(BATCH), yb] -= 1
        d_logits /= BATCH
        d_hidden = (d_logits @ w2.T) * (pre > 0)
        grads = [xb.T @ d_hidden, d_hidden.sum(0), hidden.T @ d_logits, d_logits.sum(0)]
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            params[i] -= LR * (m[i] / (1 - b1 ** t)) / (np.sqrt(v[i] / (1 - b2 ** t)) + eps)
    return float(loss)


def run_torch(x, y):
    import torch

    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, OUT))
    w1, c1, w2, c2 = init_weights()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(w1.T.copy()))
        model[0].bias.copy_(torch.from_numpy(c1))
        model[2].weight.copy_(torch.from_numpy(w2.T.copy()))
        model[2].bias.copy_(torch.from_numpy(c2))
    optimizer, loss_fn = torch.optim.Adam(model.parameters(), lr=LR), torch.nn.CrossEntropyLoss()
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    for xb, yb in zip(xs, ys):
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
    return float(loss.item())


def time_per_step(fn, x, y, repeats: int) -> tuple[float, float]:
    fn(x[:10], y[:10])  # warm-up: imports, allocator, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        final_loss = fn(x, y)
        times.append((time.perf_counter() - start) / len(x))
    return statistics.median(times), final_loss


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    x, y = make_data(args.steps)
    runners = {"hand-written NumPy": run_numpy, "tinytorch (reference)": run_tinytorch}
    try:
        import torch  # noqa: F401
        runners["PyTorch CPU (1 thread)"] = run_torch
    except ModuleNotFoundError:
        print("torch not installed: PyTorch column skipped (pip install '.[bench]')")
    results = {name: time_per_step(fn, x, y, args.repeats) for name, fn in runners.items()}
    baseline = results["hand-written NumPy"][0]
    print(f"\nMLP {IN}-{HIDDEN}-{OUT}, Adam, batch {BATCH}: median of {args.repeats} runs x {args.steps} steps")
    print(f"{'implementation':<26}{'ms/step':>10}{'vs NumPy':>10}{'final loss':>12}")
    for name, (seconds, loss) in results.items():
        print(f"{name:<26}{seconds * 1e3:>10.3f}{seconds / baseline:>9.2f}x{loss:>12.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
