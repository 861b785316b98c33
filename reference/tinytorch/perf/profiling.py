"""Module 14 -- Profiling: measure before you optimize.

Every later optimization module starts here, because a speedup on the wrong layer buys nothing.
This module answers four questions about a model, each with a number that is counted or measured,
never guessed:

  * How big is it? `count_parameters` adds up every trainable number.
  * How much work is one call? FLOP counts from the layer shapes (`linear_flops`, `conv2d_flops`,
    `attention_flops`, `count_flops` for a whole model). Convention used throughout: a
    multiply-accumulate counts 2 FLOPs, a bias add 1 per output; elementwise work (activations,
    softmax, normalization, residual adds) is not counted, because it is linear in the activation
    size and small next to the matrix products.
  * How much memory does a call allocate at its peak? `peak_memory` traces NumPy's and Python's
    allocations with the standard library's tracemalloc.
  * How long does it take? `measure_latency` runs warm-up calls first (caches, allocator), then
    times repeated calls and reports the median and the spread: one timing is an anecdote.

`profile_model` puts these side by side, one row per layer of a Sequential, `format_profile`
prints the table and names the bottleneck, and `amdahl_speedup` says what speeding up one part
can buy overall: 2x on 70% of the runtime gives only 1 / (0.3 + 0.7 / 2) = 1.54x.
"""
from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np

from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear, Module, Sequential
from tinytorch.core.spatial import Conv2d, conv2d_macs, conv2d_output_shape
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, FeedForward, TransformerBlock


# ---------------------------------------------------------------- argument checking (no solution logic)
def _count(value, name: str, owner: str, minimum: int = 0) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _shape(value, name: str, owner: str, ndim: int | None = None) -> tuple[int, ...]:
    try:
        shape = tuple(value)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be a tuple of sizes, got {type(value).__name__}") from None
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{owner}: {name} must have {ndim} sizes, got {shape}")
    for size in shape:
        _count(size, f"every size in {name}", owner)
    return tuple(int(size) for size in shape)


# ---------------------------------------------------------------- size
def count_parameters(model) -> int:
    """Number of trainable numbers in a model (a Parameter shared by two layers counts once).

    Args:
        model (Module): any tinytorch Module.

    Returns:
        int: the sum of the sizes of model.parameters(), each distinct Parameter once.

    Raises:
        TypeError: model is not a Module.

    Example:
        >>> count_parameters(Linear(3, 2))
        8
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Module):
        raise TypeError(f"count_parameters expects a Module, got {type(model).__name__}")
    distinct = {id(parameter): parameter for parameter in model.parameters()}
    return int(sum(parameter.size for parameter in distinct.values()))
    ### END SOLUTION


# ---------------------------------------------------------------- work: FLOPs from shapes
def linear_flops(batch: int, in_features: int, out_features: int, bias: bool = True) -> int:
    """FLOPs of a Linear layer applied to `batch` rows.

    Each output is a dot product of length in_features (in_features multiply-accumulates, 2 FLOPs
    each) plus, with a bias, one add: batch * out_features * (2 * in_features + bias).

    Args:
        batch (int): number of rows (every leading dimension multiplied together), >= 0.
        in_features (int): input size, >= 1.
        out_features (int): output size, >= 1.
        bias (bool): whether the layer adds a bias.

    Returns:
        int: the FLOP count.

    Raises:
        ValueError: a size is not an integer in range.

    Example:
        >>> linear_flops(batch=32, in_features=784, out_features=128)
        6426624
    """
    ### BEGIN SOLUTION
    batch = _count(batch, "batch", "linear_flops")
    in_features = _count(in_features, "in_features", "linear_flops", 1)
    out_features = _count(out_features, "out_features", "linear_flops", 1)
    return batch * out_features * (2 * in_features + (1 if bias else 0))
    ### END SOLUTION


def conv2d_flops(input_shape: tuple, out_channels: int, kernel_size, stride: int = 1, padding: int = 0,
                 bias: bool = True) -> int:
    """FLOPs of a 2-D convolution over a batch: 2 per multiply-accumulate plus one per biased output.

    Args:
        input_shape (tuple[int, int, int, int]): (N, C_in, H, W), batch included.
        out_channels (int): C_out.
        kernel_size (int | tuple[int, int]): K or (K_h, K_w).
        stride (int): window step.
        padding (int): zeros added on every side.
        bias (bool): whether one bias per output channel is added.

    Returns:
        int: 2 * N * C_out * H_out * W_out * C_in * K_h * K_w (+ N * C_out * H_out * W_out with bias).

    Raises:
        ValueError: the shape is not 4 sizes or the convolution does not fit (see module 09).

    Example:
        >>> conv2d_flops((1, 1, 3, 3), 1, 2, bias=False)
        32
    """
    ### BEGIN SOLUTION
    batch, _, height, width = _shape(input_shape, "input_shape", "conv2d_flops", ndim=4)
    macs = conv2d_macs(input_shape, out_channels, kernel_size, stride, padding)
    h_out, w_out = conv2d_output_shape((height, width), kernel_size, stride, padding)
    outputs = batch * int(out_channels) * h_out * w_out
    return 2 * macs + (outputs if bias else 0)
    ### END SOLUTION


def attention_flops(batch: int, seq_len: int, embed_dim: int, num_heads: int, context_len: int | None = None,
                    bias: bool = True) -> int:
    """FLOPs of one MultiHeadAttention call with T queries over S keys (S = T for self-attention).

    Four projections (queries from T rows, keys and values from S rows, output from T rows), then
    the scores Q K^T (2 * T * S * head_dim per head, 2 * T * S * D over all heads) and the weighted
    sum of values (the same again). The head count does not change the total: H heads of width D/H
    do the work of one head of width D. Softmax and masking are not counted.

    Args:
        batch (int): B, number of sequences.
        seq_len (int): T, query positions.
        embed_dim (int): D, model width.
        num_heads (int): H; must divide D.
        context_len (int | None): S, key/value positions (None: S = T).
        bias (bool): whether the projections have biases.

    Returns:
        int: 2 * linear_flops-style projection work + 4 * B * T * S * D.

    Raises:
        ValueError: a size is not a positive integer or num_heads does not divide embed_dim.

    Example:
        >>> attention_flops(batch=1, seq_len=4, embed_dim=8, num_heads=2, bias=False)
        2560
    """
    ### BEGIN SOLUTION
    batch = _count(batch, "batch", "attention_flops")
    seq_len = _count(seq_len, "seq_len", "attention_flops", 1)
    embed_dim = _count(embed_dim, "embed_dim", "attention_flops", 1)
    num_heads = _count(num_heads, "num_heads", "attention_flops", 1)
    context = seq_len if context_len is None else _count(context_len, "context_len", "attention_flops", 1)
    if embed_dim % num_heads:
        raise ValueError(f"attention_flops: num_heads={num_heads} must divide embed_dim={embed_dim}")
    queries = batch * seq_len
    keys = batch * context
    projections = (2 * linear_flops(queries, embed_dim, embed_dim, bias)
                   + 2 * linear_flops(keys, embed_dim, embed_dim, bias))
    scores_and_mix = 2 * (2 * batch * seq_len * context * embed_dim)
    return projections + scores_and_mix
    ### END SOLUTION


def count_flops(model, input_shape: tuple) -> int:
    """FLOPs of one forward call of a whole model on inputs of `input_shape` (batch included).

    Known layers are counted from their shapes: Linear, Conv2d, MultiHeadAttention (self-attention),
    FeedForward, TransformerBlock, GPT (blocks plus the output head; the embedding lookups do no
    arithmetic). A Sequential is walked step by step, running each step on zeros to learn the next
    step's input shape; steps without matrix products (activations, pooling, Flatten, Dropout,
    LayerNorm) count 0.

    Args:
        model (Module): the model (or a single layer).
        input_shape (tuple[int, ...]): shape of one input batch: (N, features) for Linear,
            (N, C, H, W) for Conv2d, (B, T, D) for attention and blocks, (B, T) token ids for GPT.

    Returns:
        int: the FLOP count of one forward call.

    Raises:
        TypeError: model is none of the kinds above.
        ValueError: input_shape does not fit the model.

    Example:
        >>> count_flops(Sequential(Linear(4, 3), Linear(3, 2)), (5, 4))
        205
    """
    ### BEGIN SOLUTION
    shape = _shape(input_shape, "input_shape", "count_flops")
    if isinstance(model, Sequential):
        total, x = 0, Tensor(np.zeros(shape, dtype=np.float32))
        with no_grad():
            for layer in model.layers:
                total += _step_flops(layer, x.shape)
                x = layer(x)
        return total
    if isinstance(model, GPT):
        if len(shape) != 2:
            raise ValueError(f"count_flops: a GPT takes token ids of shape (B, T), got {shape}")
        batch, seq_len = shape
        rows = (batch, seq_len, model.embed_dim)
        blocks = sum(_step_flops(block, rows) for block in model.blocks)
        return blocks + linear_flops(batch * seq_len, model.embed_dim, model.vocab_size, model.head.bias is not None)
    if isinstance(model, (Linear, Conv2d, MultiHeadAttention, FeedForward, TransformerBlock)):
        return _step_flops(model, shape)
    raise TypeError(
        "count_flops knows Linear, Conv2d, MultiHeadAttention, FeedForward, TransformerBlock, GPT and "
        f"Sequential models of them, got {type(model).__name__}"
    )
    ### END SOLUTION


def _step_flops(layer, shape: tuple) -> int:
    """FLOPs of one layer on an input of `shape` (0 for layers without matrix products)."""
    ### BEGIN SOLUTION
    if isinstance(layer, Linear):
        if not shape or shape[-1] != layer.in_features:
            raise ValueError(f"count_flops: Linear({layer.in_features}, ...) cannot take inputs of shape {shape}")
        return linear_flops(math.prod(shape[:-1]), layer.in_features, layer.out_features, layer.bias is not None)
    if isinstance(layer, Conv2d):
        if len(shape) != 4 or shape[1] != layer.in_channels:
            raise ValueError(f"count_flops: Conv2d({layer.in_channels}, ...) cannot take inputs of shape {shape}")
        return conv2d_flops(shape, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                            layer.bias is not None)
    if isinstance(layer, (MultiHeadAttention, TransformerBlock)):
        if len(shape) != 3 or shape[-1] != layer.embed_dim:
            raise ValueError(f"count_flops: {type(layer).__name__} needs inputs (B, T, {layer.embed_dim}), got {shape}")
        attention = layer if isinstance(layer, MultiHeadAttention) else layer.attn
        flops = attention_flops(shape[0], shape[1], attention.embed_dim, attention.num_heads,
                                bias=attention.q_proj.bias is not None)
        return flops + (_step_flops(layer.ffn, shape) if isinstance(layer, TransformerBlock) else 0)
    if isinstance(layer, FeedForward):
        rows = math.prod(shape[:-1])
        return (linear_flops(rows, layer.embed_dim, layer.hidden_dim, layer.fc1.bias is not None)
                + linear_flops(rows, layer.hidden_dim, layer.embed_dim, layer.fc2.bias is not None))
    return 0
    ### END SOLUTION


# ---------------------------------------------------------------- memory
def peak_memory(fn, *args, **kwargs) -> int:
    """Peak bytes allocated while `fn(*args, **kwargs)` runs, measured with tracemalloc.

    NumPy reports its array buffers to tracemalloc, so this counts every temporary array a call
    creates (and Python objects), relative to what was allocated when the call started. If
    tracing was already on it stays on (and its own peak is reset); otherwise it is started and
    stopped around the call.

    Args:
        fn (callable): the function to measure.
        *args (any): positional arguments for fn.
        **kwargs (any): keyword arguments for fn.

    Returns:
        int: peak traced bytes during the call minus traced bytes before it (>= 0).

    Raises:
        TypeError: fn is not callable.

    Example:
        >>> peak_memory(np.ones, 1_000_000) >= 8_000_000
        True
    """
    ### BEGIN SOLUTION
    if not callable(fn):
        raise TypeError(f"peak_memory expects a callable, got {type(fn).__name__}")
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if started_here:
            tracemalloc.stop()
    return max(0, int(peak - before))
    ### END SOLUTION


# ---------------------------------------------------------------- time
def summarize_times(times) -> dict:
    """Median and spread of repeated timings (seconds).

    Args:
        times (sequence of float): at least one timing.

    Returns:
        dict: {"median", "mean", "std" (sample standard deviation, ddof=1; 0.0 for one timing),
        "min", "max", "p25", "p75", "iqr" (p75 - p25; linear interpolation percentiles),
        "repeats"}, all floats except the int "repeats".

    Raises:
        ValueError: times is empty or holds a negative or non-finite value.

    Example:
        >>> summarize_times([1.0, 2.0, 4.0])["median"]
        2.0
    """
    ### BEGIN SOLUTION
    values = np.asarray(list(times), dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"summarize_times needs at least one timing, got {values.size}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"summarize_times: timings must be finite and >= 0, got {values.tolist()}")
    p25, median, p75 = np.percentile(values, [25, 50, 75])
    return {
        "median": float(median), "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "min": float(values.min()), "max": float(values.max()),
        "p25": float(p25), "p75": float(p75), "iqr": float(p75 - p25), "repeats": int(values.size),
    }
    ### END SOLUTION


def measure_latency(fn, *args, warmup: int = 3, repeats: int = 10, timer=time.perf_counter, **kwargs) -> dict:
    """Time `fn(*args, **kwargs)`: `warmup` untimed calls, then `repeats` timed ones.

    Each timed call is bracketed by exactly two timer readings (before, after), so a test can
    drive this with a fake clock. Warm-up calls read no timer.

    Args:
        fn (callable): what to time.
        *args (any): positional arguments for fn, on every call.
        **kwargs (any): keyword arguments for fn, on every call.
        warmup (int): untimed calls first (>= 0): the first calls pay for allocation and caches.
        repeats (int): timed calls (>= 1).
        timer (callable): returns the current time in seconds (default time.perf_counter).

    Returns:
        dict: summarize_times(...) of the timed calls plus "times" (list of float, in call order)
        and "warmup" (int).

    Raises:
        TypeError: fn or timer is not callable.
        ValueError: warmup < 0 or repeats < 1, or the timer went backwards.

    Example:
        >>> sorted(measure_latency(sum, [1, 2], repeats=3))[:3]
        ['iqr', 'max', 'mean']
    """
    ### BEGIN SOLUTION
    if not callable(fn) or not callable(timer):
        raise TypeError("measure_latency expects a callable fn and a callable timer")
    warmup = _count(warmup, "warmup", "measure_latency")
    repeats = _count(repeats, "repeats", "measure_latency", 1)
    for _ in range(warmup):
        fn(*args, **kwargs)
    times = []
    for _ in range(repeats):
        start = timer()
        fn(*args, **kwargs)
        times.append(float(timer() - start))
    if min(times) < 0:
        raise ValueError(f"measure_latency: the timer went backwards (timings {times})")
    return {**summarize_times(times), "times": times, "warmup": warmup}
    ### END SOLUTION


# ---------------------------------------------------------------- per-layer profile
def profile_model(model, x, warmup: int = 1, repeats: int = 5, timer=time.perf_counter) -> list[dict]:
    """One row per step of a Sequential: what it costs in parameters, FLOPs, memory and time.

    Each step is run on the output of the previous one (so each sees its real input), under
    no_grad. Its time is measure_latency's median; its memory is peak_memory of one call.

    Args:
        model (Sequential | Module): a Sequential is profiled step by step; any other Module
            gives a single row.
        x (Tensor | np.ndarray): one input batch.
        warmup (int): untimed calls per step.
        repeats (int): timed calls per step.
        timer (callable): clock in seconds (default time.perf_counter).

    Returns:
        list[dict]: per step, in order: {"index" (int), "name" (class name), "output_shape" (tuple),
        "parameters" (int), "flops" (int, 0 for steps count_flops does not count),
        "peak_bytes" (int), "seconds" (float median), "share" (fraction of the summed medians,
        0.0 when every median is 0)}.

    Raises:
        TypeError: model is not a Module.

    Example:
        >>> rows = profile_model(Sequential(Linear(4, 8), Linear(8, 2)), np.zeros((3, 4)))
        >>> [row["flops"] for row in rows]
        [216, 102]
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Module):
        raise TypeError(f"profile_model expects a Module, got {type(model).__name__}")
    steps = model.layers if isinstance(model, Sequential) else [model]
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    rows = []
    with no_grad():
        for index, step in enumerate(steps):
            timing = measure_latency(step, x, warmup=warmup, repeats=repeats, timer=timer)
            memory = peak_memory(step, x)
            flops = _step_flops(step, x.shape) if isinstance(step, Module) else 0
            x = step(x)
            rows.append({
                "index": index, "name": type(step).__name__, "output_shape": tuple(x.shape),
                "parameters": count_parameters(step) if isinstance(step, Module) else 0,
                "flops": flops, "peak_bytes": memory, "seconds": timing["median"],
            })
    total = sum(row["seconds"] for row in rows)
    for row in rows:
        row["share"] = row["seconds"] / total if total > 0 else 0.0
    return rows
    ### END SOLUTION


def bottleneck(rows, key: str = "seconds") -> int:
    """Index of the row with the largest `key` (the first one on a tie).

    Args:
        rows (list[dict]): profile rows (profile_model's, or any with the key).
        key (str): which column decides ("seconds", "flops", "peak_bytes", ...).

    Returns:
        int: the position in rows of the most expensive row.

    Raises:
        ValueError: rows is empty or a row lacks the key.

    Example:
        >>> bottleneck([{"seconds": 1.0}, {"seconds": 3.0}])
        1
    """
    ### BEGIN SOLUTION
    rows = list(rows)
    if not rows:
        raise ValueError("bottleneck needs at least one row")
    missing = [index for index, row in enumerate(rows) if key not in row]
    if missing:
        raise ValueError(f"bottleneck: rows {missing} have no {key!r} column")
    return int(np.argmax([float(row[key]) for row in rows]))
    ### END SOLUTION


def format_profile(rows) -> str:
    """The profile as a text table, one line per layer, and a last line naming the bottleneck.

    Columns: #, layer, output shape, parameters, FLOPs, peak memory (bytes), median time (ms),
    share of the total time (%). The last line reads
    "bottleneck: #<index> <name> (<share>% of the time)".

    Args:
        rows (list[dict]): profile_model's rows.

    Returns:
        str: the table (lines separated by newlines).

    Raises:
        ValueError: rows is empty or a row lacks a column.

    Example:
        >>> print(format_profile(profile_model(Sequential(Linear(2, 2)), np.zeros((1, 2))))).splitlines()[-1][:14]
        bottleneck: #0
    """
    ### BEGIN SOLUTION
    rows = list(rows)
    columns = ("index", "name", "output_shape", "parameters", "flops", "peak_bytes", "seconds", "share")
    for position, row in enumerate(rows):
        absent = [column for column in columns if column not in row]
        if absent:
            raise ValueError(f"format_profile: row {position} lacks {absent}")
    worst = rows[bottleneck(rows)]
    header = f"{'#':>3}  {'layer':<20} {'output':<18} {'params':>10} {'FLOPs':>14} {'peak bytes':>12} {'ms':>10} {'share':>7}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['index']:>3}  {row['name']:<20} {str(tuple(row['output_shape'])):<18} {row['parameters']:>10,} "
            f"{row['flops']:>14,} {row['peak_bytes']:>12,} {row['seconds'] * 1e3:>10.3f} {row['share'] * 100:>6.1f}%"
        )
    lines.append(f"bottleneck: #{worst['index']} {worst['name']} ({worst['share'] * 100:.1f}% of the time)")
    return "\n".join(lines)
    ### END SOLUTION


# ---------------------------------------------------------------- what a speedup can buy
def amdahl_speedup(fraction: float, factor: float) -> float:
    """Overall speedup when a fraction p of the runtime is made s times faster (Amdahl's law).

        speedup = 1 / ((1 - p) + p / s)

    The untouched part bounds it: even s -> infinity gives at most 1 / (1 - p).

    Args:
        fraction (float): p, share of the runtime that is sped up, in [0, 1].
        factor (float): s, how many times faster that part becomes (> 0; < 1 is a slowdown).

    Returns:
        float: the overall speedup.

    Raises:
        ValueError: fraction outside [0, 1] or factor not > 0 (or not finite).

    Example:
        >>> round(amdahl_speedup(0.7, 2.0), 2)
        1.54
    """
    ### BEGIN SOLUTION
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"amdahl_speedup: fraction must be a number in [0, 1], got {fraction!r}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.floating, np.integer)) \
            or not (math.isfinite(float(factor)) and float(factor) > 0):
        raise ValueError(f"amdahl_speedup: factor must be a finite number > 0, got {factor!r}")
    p, s = float(fraction), float(factor)
    return 1.0 / ((1.0 - p) + p / s)
    ### END SOLUTION
