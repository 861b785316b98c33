"""Benchmark: one GPT training step (forward + backward + Adam) -- tinytorch vs PyTorch CPU.

Model: vocab 60, embed_dim 64, 2 pre-norm blocks with 4 heads, feed-forward 256, context 64;
batch 16 (16 x 64 = 1,024 token positions per step), tanh-GELU, causal self-attention,
mean cross-entropy over every position, Adam lr 1e-3.

Both implementations start from the SAME weights (copied from the tinytorch model) and see the
same batches, so their losses must agree (they are printed). NumPy's BLAS and PyTorch get the
same number of threads (--threads, default 1). Reports the median time per step
over repeats (implementations take turns) after a short untimed run, the ratio to PyTorch, and a cProfile summary of one
tinytorch step (--profile) to show where the time goes.
Run:  .venv/bin/python bench/bench_gpt.py [--steps 30] [--repeats 5] [--threads 1] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path


def _requested_threads(argv: list[str]) -> str:
    """The --threads value, read before NumPy is imported (BLAS reads its thread count at import)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


# Same thread budget on both sides: NumPy's BLAS and PyTorch's intra-op pool. On a small or busy
# machine a multi-threaded BLAS can be 10-100x slower on these small matrices than one thread.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _requested_threads(sys.argv[1:]))

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference"))

from tinytorch import Adam, enable_autograd  # noqa: E402
from tinytorch.core.transformer import GPT  # noqa: E402

VOCAB, EMBED, HEADS, LAYERS, SEQ, BATCH, LR = 60, 64, 4, 2, 64, 16, 1e-3


def make_data(steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, size=(steps, BATCH, SEQ + 1))
    return tokens[:, :, :-1], tokens[:, :, 1:]


def make_tinytorch_model() -> GPT:
    enable_autograd()
    return GPT(VOCAB, EMBED, HEADS, LAYERS, SEQ, dropout=0.0, seed=0)


def run_tinytorch(x, y):
    model = make_tinytorch_model()
    optimizer = Adam(model.parameters(), lr=LR)
    losses = []
    for xb, yb in zip(x, y):
        optimizer.zero_grad()
        _, loss = model(xb, yb)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return losses


def build_torch_model():
    """The same architecture in PyTorch, initialised from the tinytorch model's weights."""
    import torch
    import torch.nn.functional as F

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = torch.nn.LayerNorm(EMBED), torch.nn.LayerNorm(EMBED)
            self.q, self.k, self.v, self.o = (torch.nn.Linear(EMBED, EMBED) for _ in range(4))
            self.fc1, self.fc2 = torch.nn.Linear(EMBED, 4 * EMBED), torch.nn.Linear(4 * EMBED, EMBED)

        def forward(self, x):
            b, t, d = x.shape
            h = self.ln1(x)
            q, k, v = (proj(h).view(b, t, HEADS, d // HEADS).transpose(1, 2) for proj in (self.q, self.k, self.v))
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.o(att.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))

    class TorchGPT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = torch.nn.Embedding(VOCAB, EMBED), torch.nn.Embedding(SEQ, EMBED)
            self.blocks = torch.nn.ModuleList(Block() for _ in range(LAYERS))
            self.ln_f, self.head = torch.nn.LayerNorm(EMBED), torch.nn.Linear(EMBED, VOCAB)

        def forward(self, idx):
            x = self.tok(idx) + self.pos.weight[: idx.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    reference = make_tinytorch_model()
    model = TorchGPT()

    def put(linear, tt_linear):  # tinytorch stores (in, out); torch stores (out, in)
        linear.weight.copy_(torch.from_numpy(tt_linear.weight.data.T.copy()))
        linear.bias.copy_(torch.from_numpy(tt_linear.bias.data.copy()))

    def put_norm(norm, tt_norm):
        norm.weight.copy_(torch.from_numpy(tt_norm.gamma.data.copy()))
        norm.bias.copy_(torch.from_numpy(tt_norm.beta.data.copy()))

    with torch.no_grad():
        model.tok.weight.copy_(torch.from_numpy(reference.token_embedding.weight.data.copy()))
        model.pos.weight.copy_(torch.from_numpy(reference.position_embedding.weight.data.copy()))
        for block, tt in zip(model.blocks, reference.blocks):
            put_norm(block.ln1, tt.ln1)
            put_norm(block.ln2, tt.ln2)
            for mine, theirs in ((block.q, tt.attn.q_proj), (block.k, tt.attn.k_proj), (block.v, tt.attn.v_proj),
                                 (block.o, tt.attn.out_proj), (block.fc1, tt.ffn.fc1), (block.fc2, tt.ffn.fc2)):
                put(mine, theirs)
        put_norm(model.ln_f, reference.final_norm)
        put(model.head, reference.head)
    return model


def run_torch(x, y):
    import torch

    model = build_torch_model()
    optimizer, loss_fn = torch.optim.Adam(model.parameters(), lr=LR), torch.nn.CrossEntropyLoss()
    losses = []
    for xb, yb in zip(torch.from_numpy(x), torch.from_numpy(y)):
        optimizer.zero_grad()
        loss = loss_fn(model(xb).reshape(-1, VOCAB), yb.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return losses


def time_per_step(runners: dict, x, y, repeats: int) -> dict:
    """Median seconds per step and the losses of the last run, for every runner.

    The runners take turns (A, B, A, B, ...) so a change in machine load affects all of them alike.
    """
    for fn in runners.values():
        fn(x[:3], y[:3])  # untimed first run: imports, allocator, caches
    times = {name: [] for name in runners}
    losses = {}
    for _ in range(repeats):
        for name, fn in runners.items():
            start = time.perf_counter()
            losses[name] = fn(x, y)
            times[name].append((time.perf_counter() - start) / len(x))
    return {name: (statistics.median(times[name]), losses[name]) for name in runners}


def profile_tinytorch(x, y, top: int = 25) -> str:
    """cProfile of tinytorch training steps, sorted by internal time (where Python spends it)."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_tinytorch(x, y)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    return stream.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS and PyTorch threads (default 1)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the tinytorch steps")
    args = parser.parse_args(argv)
    x, y = make_data(args.steps)
    runners = {"tinytorch (reference)": run_tinytorch}
    try:
        import torch
    except ModuleNotFoundError:
        print("torch not installed: PyTorch column skipped (pip install '.[bench]')")
    else:
        torch.set_num_threads(args.threads)
        runners[f"PyTorch CPU ({args.threads} thread{'s' if args.threads > 1 else ''})"] = run_torch
    results = time_per_step(runners, x, y, args.repeats)
    baseline_name = next((name for name in results if name.startswith("PyTorch")), None)
    print(f"\nGPT V={VOCAB} D={EMBED} L={LAYERS} H={HEADS} T={SEQ} batch={BATCH}, Adam: "
          f"median of {args.repeats} runs x {args.steps} steps")
    print(f"{'implementation':<26}{'ms/step':>10}{'vs PyTorch':>12}{'first loss':>12}{'last loss':>12}")
    for name, (seconds, losses) in results.items():
        ratio = f"{seconds / results[baseline_name][0]:>11.2f}x" if baseline_name else f"{'-':>12}"
        print(f"{name:<26}{seconds * 1e3:>10.2f}{ratio}{losses[0]:>12.4f}{losses[-1]:>12.4f}")
    if args.profile:
        print(profile_tinytorch(x[: min(10, args.steps)], y[: min(10, args.steps)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
