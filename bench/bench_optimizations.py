"""Benchmark: the optimization tier (modules 15-18), every number measured in one run.

Four tables, each a comparison within this run (machines are noisy; ratios travel, seconds do not):
  1. conv    -- the paper's convolution (128, 3, 32, 32) x (32, 3, 5, 5): module 17's im2col + GEMM
               against the seven explicit loops, forward AND backward. The loops are timed on
               --loop-images images and scaled linearly to the batch (every image costs the same
               MACs); the table says "extrapolated" for those rows.
  2. kvcache -- greedy generation of 64, 256 and 512 new tokens from a 1-token prompt on one GPT
               (D 128, 4 layers, 4 heads, vocab 64, context 576): uncached (module 13) against the
               KV cache (module 18), tokens checked equal; with PyTorch CPU's own cached/uncached
               ratio for the same shapes when torch is installed (`pip install '.[bench]'`).
  3. int8    -- a 64-128-10 MLP trained on TinyDigits-shaped synthetic data: float32 against
               quantize_model (per-tensor INT8): stored bytes, test accuracy, and the latency of the
               quantized Linear against the float Linear on a batch of 256.
  4. pruning -- the same MLP pruned globally to 50/80/90% sparsity: accuracy without and with a
               short fine-tune (MaskedOptimizer), nonzeros, and bytes stored as CSR.
Run:  .venv/bin/python bench/bench_optimizations.py [--only conv,kvcache,int8,pruning] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="conv,kvcache,int8,pruning", help="comma-separated tables to run")
    parser.add_argument("--threads", type=int, default=1, help="BLAS (and PyTorch) threads (default 1)")
    parser.add_argument("--loop-images", type=int, default=1, help="images the seven loops are timed on")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats for the fast paths")
    parser.add_argument("--tokens", default="64,256,512", help="new-token counts for the KV-cache table")
    return parser.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else parse_args([])
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = str(ARGS.threads)  # before NumPy loads its BLAS

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference"))

from tinytorch import Adam, CrossEntropyLoss, Linear, ReLU, Sequential, Tensor, enable_autograd  # noqa: E402
from tinytorch.core.autograd import no_grad  # noqa: E402
from tinytorch.core.spatial import conv2d_macs  # noqa: E402
from tinytorch.core.transformer import GPT  # noqa: E402
from tinytorch.perf.acceleration import (conv2d_backward_explicit, conv2d_explicit, conv2d_im2col,  # noqa: E402
                                         conv2d_im2col_backward)
from tinytorch.perf.compression import MaskedOptimizer, compression_report, magnitude_prune  # noqa: E402
from tinytorch.perf.memoization import generate_cached  # noqa: E402
from tinytorch.perf.quantization import model_bytes, quantize_model  # noqa: E402


def best_of(repeats: int, fn, *args) -> float:
    """Fastest of `repeats` timed calls after one untimed call (noise only ever adds time)."""
    fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))


# ---------------------------------------------------------------- 1. convolution
def conv_table() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 3, 32, 32)).astype(np.float32)
    w = rng.standard_normal((32, 3, 5, 5)).astype(np.float32)
    grad = rng.standard_normal((128, 32, 28, 28)).astype(np.float32)
    part = ARGS.loop_images
    scale = 128 / part
    loops_forward = best_of(1, conv2d_explicit, x[:part], w) * scale
    loops_backward = best_of(1, conv2d_backward_explicit, x[:part], w, grad[:part]) * scale
    fast_forward = best_of(ARGS.repeats, conv2d_im2col, x, w)
    fast_backward = best_of(ARGS.repeats, conv2d_im2col_backward, x, w, grad)
    label = f"extrapolated from {part} image(s) x {scale:g}"
    macs = conv2d_macs(x.shape, 32, 5)
    table(f"1. Convolution (128,3,32,32) x (32,3,5,5), {macs:,} MACs, {ARGS.threads} BLAS thread(s)",
          ["pass", "seven loops (s)", "loops timing", "im2col + GEMM (s)", "speedup"],
          [["forward", f"{loops_forward:.1f}", label, f"{fast_forward:.3f}", f"{loops_forward / fast_forward:,.0f}x"],
           ["backward", f"{loops_backward:.1f}", label, f"{fast_backward:.3f}",
            f"{loops_backward / fast_backward:,.0f}x"]])


# ---------------------------------------------------------------- 2. KV cache
def torch_generation_ratio(model: GPT, tokens: int) -> str:
    """PyTorch CPU's own uncached/cached ratio for the same shapes (its weights copied from ours)."""
    try:
        import torch
    except ImportError:
        return "torch not installed"
    torch.set_num_threads(ARGS.threads)
    dim, heads = model.embed_dim, model.num_heads
    layers = []
    for block in model.blocks:
        attn = block.attn
        layers.append({name: torch.from_numpy(getattr(attn, name).weight.data.copy())
                       for name in ("q_proj", "k_proj", "v_proj", "out_proj")}
                      | {f"{name}_b": torch.from_numpy(getattr(attn, name).bias.data.copy())
                         for name in ("q_proj", "k_proj", "v_proj", "out_proj")}
                      | {"g1": torch.from_numpy(block.ln1.gamma.data.copy()), "b1": torch.from_numpy(block.ln1.beta.data.copy()),
                         "g2": torch.from_numpy(block.ln2.gamma.data.copy()), "b2": torch.from_numpy(block.ln2.beta.data.copy()),
                         "w1": torch.from_numpy(block.ffn.fc1.weight.data.copy()), "c1": torch.from_numpy(block.ffn.fc1.bias.data.copy()),
                         "w2": torch.from_numpy(block.ffn.fc2.weight.data.copy()), "c2": torch.from_numpy(block.ffn.fc2.bias.data.copy())})
    tok = torch.from_numpy(model.token_embedding.weight.data.copy())
    pos = torch.from_numpy(model.position_embedding.weight.data.copy())
    gf, bf = torch.from_numpy(model.final_norm.gamma.data.copy()), torch.from_numpy(model.final_norm.beta.data.copy())
    head_w, head_b = torch.from_numpy(model.head.weight.data.copy()), torch.from_numpy(model.head.bias.data.copy())
    norm = torch.nn.functional.layer_norm

    def run(ids, start, caches):
        x = tok[ids] + pos[start:start + ids.shape[1]]
        for layer, p in enumerate(layers):
            h = norm(x, (dim,), p["g1"], p["b1"])
            q, k, v = (h @ p[n] + p[n + "_b"] for n in ("q_proj", "k_proj", "v_proj"))
            split = lambda t: t.view(1, -1, heads, dim // heads).transpose(1, 2)  # noqa: E731
            q, k, v = split(q), split(k), split(v)
            if caches is not None:
                if caches[layer] is not None:
                    k = torch.cat([caches[layer][0], k], dim=2)
                    v = torch.cat([caches[layer][1], v], dim=2)
                caches[layer] = (k, v)
            causal = start == 0 and ids.shape[1] > 1
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
            x = x + (out.transpose(1, 2).reshape(1, -1, dim) @ p["out_proj"] + p["out_proj_b"])
            h = norm(x, (dim,), p["g2"], p["b2"])
            x = x + (torch.nn.functional.gelu(h @ p["w1"] + p["c1"], approximate="tanh") @ p["w2"] + p["c2"])
        return norm(x, (dim,), gf, bf) @ head_w + head_b

    def uncached():
        ids = torch.zeros((1, 1), dtype=torch.long)
        for _ in range(tokens):
            nxt = run(ids, 0, None)[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
        return ids

    def cached():
        caches = [None] * len(layers)
        ids = torch.zeros((1, 1), dtype=torch.long)
        logits = run(ids, 0, caches)
        for step in range(tokens):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
            logits = run(nxt, step + 1, caches)
        return ids

    with torch.no_grad():
        slow, fast = best_of(1, uncached), best_of(1, cached)
        same = torch.equal(uncached(), cached())
    return f"{slow / fast:.1f}x" + ("" if same else " (tokens differ!)")


def kvcache_table() -> None:
    counts = [int(n) for n in ARGS.tokens.split(",")]
    model = GPT(vocab_size=64, embed_dim=128, num_heads=4, num_layers=4, max_seq_len=max(counts) + 64, seed=0)
    model.eval()
    prompt = np.zeros((1, 1), dtype=np.int64)
    rows = []
    for tokens in counts:
        uncached_s = best_of(1, model.generate, prompt, tokens, 0.0)
        cached_s = best_of(1, generate_cached, model, prompt, tokens, 0.0)
        same = np.array_equal(model.generate(prompt, tokens, 0.0), generate_cached(model, prompt, tokens, 0.0))
        rows.append([str(tokens), f"{uncached_s:.2f}", f"{cached_s:.2f}", f"{uncached_s / cached_s:.1f}x",
                     "yes" if same else "NO", torch_generation_ratio(model, tokens)])
    table("2. Greedy generation, GPT D 128, 4 layers, 4 heads, 1-token prompt",
          ["new tokens", "uncached (s)", "KV cache (s)", "speedup", "same tokens", "PyTorch CPU cached speedup"],
          rows)


# ---------------------------------------------------------------- 3 and 4. INT8 and pruning
def digits(count: int, seed: int):
    templates = np.random.default_rng(1234).uniform(0, 1, size=(10, 64))
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = np.clip(templates[labels] + rng.normal(scale=0.6, size=(count, 64)), 0, 1)
    return images.astype(np.float32), labels


def train(model, x, y, steps, optimizer=None):
    optimizer = optimizer or Adam(model.parameters(), lr=0.01)
    loss_fn = CrossEntropyLoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(Tensor(x)), y).backward()
        optimizer.step()
    return model


def accuracy(model, x, y) -> float:
    with no_grad():
        return float((model(Tensor(x)).data.argmax(axis=1) == y).mean())


def trained_mlp():
    train_x, train_y = digits(1000, 0)
    test_x, test_y = digits(2000, 1)
    model = train(Sequential(Linear(64, 128, seed=0), ReLU(), Linear(128, 10, seed=1)), train_x, train_y, 150)
    return model, train_x, train_y, test_x, test_y


def int8_table() -> None:
    model, train_x, _, test_x, test_y = trained_mlp()
    quantized = quantize_model(model, [train_x[:256]])
    batch = Tensor(test_x[:256])
    with no_grad():
        float_s = best_of(ARGS.repeats * 20, model.layers[0], batch)
        int8_s = best_of(ARGS.repeats * 20, quantized.layers[0], batch)
    float_acc, int8_acc = accuracy(model, test_x, test_y), accuracy(quantized, test_x, test_y)
    table("3. INT8 against float32: 64-128-10 MLP, synthetic TinyDigits-shaped data (2,000 test examples)",
          ["model", "stored bytes", "test accuracy", "first Linear, batch 256 (ms)"],
          [["float32", f"{model_bytes(model):,}", f"{float_acc:.3f}", f"{float_s * 1e3:.3f}"],
           ["INT8 (per-tensor)", f"{model_bytes(quantized):,}", f"{int8_acc:.3f}", f"{int8_s * 1e3:.3f}"],
           ["ratio", f"{model_bytes(model) / model_bytes(quantized):.2f}x smaller",
            f"{(int8_acc - float_acc) * 100:+.1f} points", f"{int8_s / float_s:.1f}x the float time"]])


def pruning_table() -> None:
    rows = []
    for sparsity in (0.5, 0.8, 0.9):
        model, train_x, train_y, test_x, test_y = trained_mlp()
        dense = compression_report(model)
        before = accuracy(model, test_x, test_y)
        mask = magnitude_prune(model, sparsity)
        pruned = accuracy(model, test_x, test_y)
        train(model, train_x, train_y, 30, MaskedOptimizer(Adam(model.parameters(), lr=0.003), mask))
        tuned = accuracy(model, test_x, test_y)
        report = compression_report(model)
        rows.append([f"{sparsity:.0%}", f"{before:.3f}", f"{(pruned - before) * 100:+.1f}",
                     f"{(tuned - before) * 100:+.1f}", f"{report['nonzeros']:,} / {report['parameters']:,}",
                     f"{dense['dense_bytes']:,}", f"{report['sparse_bytes']:,}", f"{report['ratio']:.2f}x"])
    table("4. Global magnitude pruning of the 64-128-10 MLP (fine-tune: 30 full-batch Adam steps, masks kept)",
          ["sparsity", "dense accuracy", "pruned (points)", "fine-tuned (points)", "nonzeros", "dense bytes",
           "CSR bytes", "smaller by"], rows)


def main() -> None:
    enable_autograd()
    chosen = ARGS.only.split(",")
    print(f"threads={ARGS.threads}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    for name, run in (("conv", conv_table), ("kvcache", kvcache_table), ("int8", int8_table),
                      ("pruning", pruning_table)):
        if name in chosen:
            start = time.perf_counter()
            run()
            print(f"({name}: {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
