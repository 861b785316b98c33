"""Module 17 -- Acceleration: why the fast one is fast, measured.

Module 09 wrote a convolution twice: seven explicit loops (`conv2d_explicit`) and im2col plus one
matrix product (Conv2d). Module 14 taught how to measure. This module puts the two together and
explains, with a number for each claim, where the speed of vectorized code comes from:

  * Vectorization. The seven loops run one Python-level multiply-accumulate per iteration; im2col
    copies every receptive field into a column so the whole convolution, forward and backward, is
    one matrix product per result (a GEMM), which NumPy hands to compiled code that uses SIMD
    instructions (one instruction, several numbers) and the caches well. `conv2d_im2col`,
    `conv2d_im2col_backward` and `conv2d_backward_explicit` give the same answers;
    `convolution_speedup` measures how much faster the vectorized one is, and says when the slow
    side was timed on part of the batch and scaled up (it never returns a made-up constant).
  * Kernel fusion. `gelu_unfused` evaluates the GELU formula as a chain of NumPy expressions, each
    allocating a full temporary array that is written once and read once: memory traffic, not
    arithmetic, is the cost. `fused_gelu` and `fused_bias_relu` do the same work in place, in one
    output buffer. `count_temporaries` measures the difference with tracemalloc (NumPy reports its
    array allocations to it), so "fewer temporaries" is a measured count (`fusion_temporaries`
    measures all four functions side by side).
  * Cache locality. A cache line holds 64 bytes: reading memory in the order it is laid out uses
    all of every line fetched; striding across it uses one number per line. `traversal_times`
    sums a C-ordered matrix row by row and column by column; `tiled_matmul` multiplies matrices
    block by block (`tile_schedule` lists the blocks) so each block is reused while it is still in
    the cache.
"""
from __future__ import annotations

import time

import numpy as np

from tinytorch.core.activations import GELU_CUBIC, GELU_SCALE
from tinytorch.core.spatial import col2im, conv2d_explicit, conv2d_macs, conv2d_output_shape, im2col
from tinytorch.perf.profiling import peak_memory


# ---------------------------------------------------------------- argument checking (no solution logic)
def _whole(value, name: str, owner: str, minimum: int = 1) -> int:
    """`value` as an int, or a ValueError naming `owner`, `name`, the minimum and what arrived."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _numeric(array, name: str, owner: str) -> np.ndarray:
    """`array` as an ndarray of numbers, or a TypeError naming what arrived."""
    array = np.asarray(array)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: {name} must hold integer or float numbers, got dtype {array.dtype}")
    return array


def _floats(array, name: str, owner: str) -> np.ndarray:
    """`array` as a float ndarray: float32/float64 kept, integers converted to float32."""
    array = _numeric(array, name, owner)
    return array if array.dtype.kind == "f" else array.astype(np.float32)


def _conv_operands(x, weight, stride, padding, owner: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Check images (N, C_in, H, W) and kernels (C_out, C_in, K_h, K_w); return them and (H_out, W_out)."""
    x, weight = _numeric(x, "x", owner), _numeric(weight, "weight", owner)
    if x.ndim != 4:
        raise ValueError(f"{owner} expects x as a batch of images (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{owner} expects weight of shape (C_out, C_in, K_h, K_w), got shape {weight.shape}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{owner}: weight expects C_in={weight.shape[1]} input channels, "
                         f"got {x.shape[1]} in x of shape {x.shape}")
    _whole(stride, "stride", owner)
    _whole(padding, "padding", owner, minimum=0)
    return x, weight, conv2d_output_shape(x.shape[2:], weight.shape[2:], stride, padding)


def _bias_operands(x, bias, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """x and bias as float arrays, with bias broadcasting to x's shape (which must not change)."""
    x, bias = _floats(x, "x", owner), _floats(bias, "bias", owner)
    try:
        shape = np.broadcast_shapes(x.shape, bias.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"{owner}: bias of shape {bias.shape} must broadcast to x's shape {x.shape} "
                         "without changing it")
    return x, bias


def _timer(timer, owner: str):
    if not callable(timer):
        raise TypeError(f"{owner}: timer must be a function returning seconds (like time.perf_counter), "
                        f"got {type(timer).__name__}")
    return timer


def _timed(timer, owner: str, function, *args) -> float:
    """Seconds one call of function(*args) takes on `timer` (called exactly twice: before and after)."""
    start = float(timer())
    function(*args)
    elapsed = float(timer()) - start
    if not elapsed >= 0.0:
        raise ValueError(f"{owner}: the timer went backwards ({elapsed!r} seconds): expected a clock that never decreases")
    return elapsed


def _positive_seconds(seconds: float, what: str, owner: str) -> float:
    if not seconds > 0.0:
        raise ValueError(f"{owner}: the fastest {what} took {seconds!r} seconds on the timer: a ratio needs a "
                         "duration > 0 (use a finer timer or a larger problem)")
    return seconds


# ---------------------------------------------------------------- im2col convolution, forward and backward
def conv2d_im2col(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: int = 1,
                  padding: int = 0) -> np.ndarray:
    """Convolution as im2col plus ONE matrix product: the vectorized twin of conv2d_explicit.

    cols = im2col(x) has shape (C_in*K_h*K_w, N*H_out*W_out); weight.reshape(C_out, -1) @ cols
    computes every output of every image at once (one GEMM); reshaping to (N, C_out, H_out, W_out)
    and adding the bias finishes the job. Cross-correlation, as in module 09:

        out[n, o, h, w] = bias[o] + sum_{c, i, j} x_pad[n, c, h*stride + i, w*stride + j] * weight[o, c, i, j]

    Args:
        x (np.ndarray, shape (N, C_in, H, W)): input images.
        weight (np.ndarray, shape (C_out, C_in, K_h, K_w)): the kernels.
        bias (np.ndarray | None, shape (C_out,)): one value added per output channel.
        stride (int): window step (>= 1).
        padding (int): zeros added on every side of H and W (>= 0).

    Returns:
        np.ndarray: shape (N, C_out, H_out, W_out); float64 when x or weight is float64, else float32.

    Raises:
        TypeError: x or weight does not hold numbers.
        ValueError: x or weight is not 4-D, their channel counts differ, bias is not (C_out,),
            stride/padding are invalid, or the kernel does not fit in the padded input.

    Example:
        >>> conv2d_im2col(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).tolist()
        [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    ### BEGIN SOLUTION
    x, weight, (h_out, w_out) = _conv_operands(x, weight, stride, padding, "conv2d_im2col")
    batch, c_out = x.shape[0], weight.shape[0]
    if bias is not None and np.shape(bias) != (c_out,):
        raise ValueError(f"conv2d_im2col: bias must have shape ({c_out},), got {np.shape(bias)}")
    dtype = np.result_type(x.dtype, weight.dtype, np.float32)
    cols = im2col(x.astype(dtype, copy=False), weight.shape[2:], stride, padding)
    product = weight.reshape(c_out, -1).astype(dtype, copy=False) @ cols  # the one GEMM: (C_out, N*H_out*W_out)
    out = np.ascontiguousarray(product.reshape(c_out, batch, h_out, w_out).transpose(1, 0, 2, 3))
    if bias is not None:
        out += np.asarray(bias, dtype=dtype).reshape(1, c_out, 1, 1)
    return out
    ### END SOLUTION


def conv2d_im2col_backward(x: np.ndarray, weight: np.ndarray, grad_out: np.ndarray, stride: int = 1,
                           padding: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a convolution with one matrix product per gradient (im2col / col2im).

    With cols = im2col(x) and G = grad_out arranged as (C_out, N*H_out*W_out):
        grad_weight = G @ cols.T                               (one GEMM), reshaped like weight,
        grad_x      = col2im(weight.reshape(C_out, -1).T @ G)  (one GEMM, then adding the columns back),
        grad_bias   = G summed over its columns.

    Args:
        x (np.ndarray, shape (N, C_in, H, W)): the input of the forward pass.
        weight (np.ndarray, shape (C_out, C_in, K_h, K_w)): the kernels.
        grad_out (np.ndarray, shape (N, C_out, H_out, W_out)): gradient of the loss with respect to
            the convolution's output.
        stride (int): window step used in the forward pass.
        padding (int): zeros added on every side in the forward pass.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (grad_x shaped like x, grad_weight shaped like
        weight, grad_bias of shape (C_out,)), float64 when any operand is float64, else float32.

    Raises:
        TypeError: an operand does not hold numbers.
        ValueError: the operands do not fit together (x/weight as in conv2d_im2col, or grad_out not
            (N, C_out, H_out, W_out); the expected and actual shapes are named).

    Example:
        >>> grad_x, grad_w, grad_b = conv2d_im2col_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
        >>> grad_x[0, 0].tolist(), grad_b.tolist()
        ([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], [4.0])
    """
    ### BEGIN SOLUTION
    x, weight, (h_out, w_out) = _conv_operands(x, weight, stride, padding, "conv2d_im2col_backward")
    grad_out = _numeric(grad_out, "grad_out", "conv2d_im2col_backward")
    batch, c_out = x.shape[0], weight.shape[0]
    expected = (batch, c_out, h_out, w_out)
    if grad_out.shape != expected:
        raise ValueError(f"conv2d_im2col_backward: grad_out must have the output's shape (N, C_out, H_out, W_out) = "
                         f"{expected}, got {grad_out.shape}")
    dtype = np.result_type(x.dtype, weight.dtype, grad_out.dtype, np.float32)
    cols = im2col(x.astype(dtype, copy=False), weight.shape[2:], stride, padding)
    flat_grad = np.ascontiguousarray(grad_out.astype(dtype, copy=False).transpose(1, 0, 2, 3)).reshape(c_out, -1)
    flat_weight = weight.reshape(c_out, -1).astype(dtype, copy=False)
    grad_weight = (flat_grad @ cols.T).reshape(weight.shape)  # GEMM 1
    grad_x = col2im(flat_weight.T @ flat_grad, x.shape, weight.shape[2:], stride, padding)  # GEMM 2
    grad_bias = flat_grad.sum(axis=1)
    return grad_x, grad_weight, grad_bias
    ### END SOLUTION


def conv2d_backward_explicit(x: np.ndarray, weight: np.ndarray, grad_out: np.ndarray, stride: int = 1,
                             padding: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolution gradients as seven explicit nested loops -- DELIBERATELY SLOW, the trusted answer.

    The same loops as conv2d_explicit (batch, out-channel, out-row, out-col, in-channel,
    kernel-row, kernel-col). Each forward multiply-accumulate
    out[b, o, h, w] += x_pad[b, c, h*s + i, w*s + j] * weight[o, c, i, j] sends, with
    g = grad_out[b, o, h, w]:
        grad_weight[o, c, i, j]          += g * x_pad[b, c, h*s + i, w*s + j]
        grad_x_pad[b, c, h*s + i, w*s + j] += g * weight[o, c, i, j]
    and grad_bias[o] += g once per output position. grad_x is grad_x_pad without the padding.

    Args:
        x (np.ndarray, shape (N, C_in, H, W)): the input of the forward pass.
        weight (np.ndarray, shape (C_out, C_in, K_h, K_w)): the kernels.
        grad_out (np.ndarray, shape (N, C_out, H_out, W_out)): gradient of the output.
        stride (int): window step.
        padding (int): zeros added on every side.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (grad_x, grad_weight, grad_bias), shaped like x,
        weight and (C_out,), float64 when any operand is float64, else float32.

    Raises:
        TypeError: an operand does not hold numbers.
        ValueError: the operands do not fit together (as in conv2d_im2col_backward).

    Example:
        >>> grad_x, grad_w, grad_b = conv2d_backward_explicit(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
        >>> grad_w[0, 0].tolist()
        [[4.0, 4.0], [4.0, 4.0]]
    """
    ### BEGIN SOLUTION
    x, weight, (h_out, w_out) = _conv_operands(x, weight, stride, padding, "conv2d_backward_explicit")
    grad_out = _numeric(grad_out, "grad_out", "conv2d_backward_explicit")
    batch, c_in, height, width = x.shape
    c_out, _, k_h, k_w = weight.shape
    if grad_out.shape != (batch, c_out, h_out, w_out):
        raise ValueError(f"conv2d_backward_explicit: grad_out must have the output's shape (N, C_out, H_out, W_out) = "
                         f"{(batch, c_out, h_out, w_out)}, got {grad_out.shape}")
    dtype = np.result_type(x.dtype, weight.dtype, grad_out.dtype, np.float32)
    padded = np.zeros((batch, c_in, height + 2 * padding, width + 2 * padding), dtype=dtype)
    padded[:, :, padding:padding + height, padding:padding + width] = x
    grad_padded = np.zeros_like(padded)
    grad_weight = np.zeros(weight.shape, dtype=dtype)
    grad_bias = np.zeros(c_out, dtype=dtype)
    for b in range(batch):
        for o in range(c_out):
            for h in range(h_out):
                for w in range(w_out):
                    g = grad_out[b, o, h, w]
                    grad_bias[o] += g
                    for c in range(c_in):
                        for i in range(k_h):
                            for j in range(k_w):
                                row, col = h * stride + i, w * stride + j
                                grad_weight[o, c, i, j] += g * padded[b, c, row, col]
                                grad_padded[b, c, row, col] += g * weight[o, c, i, j]
    grad_x = np.ascontiguousarray(grad_padded[:, :, padding:padding + height, padding:padding + width])
    return grad_x, grad_weight, grad_bias
    ### END SOLUTION


# ---------------------------------------------------------------- measuring the speedup
def convolution_speedup(x_shape: tuple, weight_shape: tuple, stride: int = 1, padding: int = 0, repeats: int = 3,
                        loop_batch: int | None = None, seed: int = 0, timer=time.perf_counter) -> dict:
    """Time the seven loops against im2col + GEMM on the same random data; return the measured ratio.

    x (N images of x_shape) and weight are drawn as float32 standard normals from `seed`. The
    loops (conv2d_explicit) run on the first `loop_batch` images, im2col (conv2d_im2col) on all N.
    Each is run `repeats` times, interleaved -- for every repeat: the loops, then im2col -- and each
    run is timed by calling `timer()` once just before and once just after it (so `timer` is called
    exactly 4 * repeats times). The fastest run of each counts (noise only ever adds time).

    When loop_batch < N the loops were timed on loop_batch images only: their time is scaled
    linearly, loop_seconds = loop_measured_seconds * N / loop_batch (every image costs the same
    number of multiply-accumulates), `extrapolated` is True and `method` says so. The speedup is
    always loop_seconds / im2col_seconds from these measurements.

    Args:
        x_shape (tuple[int, int, int, int]): (N, C_in, H, W) of the input batch.
        weight_shape (tuple[int, int, int, int]): (C_out, C_in, K_h, K_w) of the kernels.
        stride (int): window step.
        padding (int): zeros added on every side.
        repeats (int): timed runs of each implementation (>= 1).
        loop_batch (int | None): images the loops run on, 1..N; None means all N (no scaling).
        seed (int): seed of the random input and kernels.
        timer (callable): returns the current time in seconds (default time.perf_counter); a test
            may pass a fake clock.

    Returns:
        dict: "loop_seconds" (float, the loops on all N images: measured, or scaled when
        extrapolated), "loop_measured_seconds" (float, the fastest loop run as timed, on loop_batch
        images), "im2col_seconds" (float, the fastest im2col run on all N images), "speedup" (float,
        loop_seconds / im2col_seconds), "extrapolated" (bool), "method" (str, how loop_seconds was
        obtained), "batch" (int, N), "loop_batch" (int), "repeats" (int), "macs" (int, the
        multiply-accumulates of the full convolution, conv2d_macs), "max_abs_difference" (float,
        largest |loops - im2col| over the images both computed).

    Raises:
        TypeError: timer is not callable.
        ValueError: a shape is not four positive sizes, the channel counts differ, the kernel does not
            fit, repeats < 1, loop_batch is outside 1..N, the timer went backwards, or the fastest
            im2col run took 0 seconds (no ratio can be formed).

    Example:
        >>> result = convolution_speedup((2, 1, 6, 6), (2, 1, 3, 3), repeats=1, loop_batch=1)
        >>> result["extrapolated"], result["batch"], result["loop_batch"]
        (True, 2, 1)
    """
    ### BEGIN SOLUTION
    owner = "convolution_speedup"
    for name, shape in (("x_shape", x_shape), ("weight_shape", weight_shape)):
        if not isinstance(shape, (tuple, list)) or len(shape) != 4:
            raise ValueError(f"{owner}: {name} must be four sizes, got {shape!r}")
        for size in shape:
            _whole(size, f"every size in {name}", owner)
    repeats = _whole(repeats, "repeats", owner)
    timer = _timer(timer, owner)
    batch = int(x_shape[0])
    loop_batch = batch if loop_batch is None else _whole(loop_batch, "loop_batch", owner)
    if loop_batch > batch:
        raise ValueError(f"{owner}: loop_batch must be between 1 and the batch size {batch}, got {loop_batch}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(tuple(int(s) for s in x_shape)).astype(np.float32)
    weight = rng.standard_normal(tuple(int(s) for s in weight_shape)).astype(np.float32)
    _conv_operands(x, weight, stride, padding, owner)  # raises before anything is timed
    x_loops = np.ascontiguousarray(x[:loop_batch])
    loop_runs, im2col_runs = [], []
    for _ in range(repeats):
        loop_runs.append(_timed(timer, owner, conv2d_explicit, x_loops, weight, None, stride, padding))
        im2col_runs.append(_timed(timer, owner, conv2d_im2col, x, weight, None, stride, padding))
    loop_measured = min(loop_runs)
    im2col_seconds = _positive_seconds(min(im2col_runs), "im2col run", owner)
    extrapolated = loop_batch < batch
    loop_seconds = loop_measured * batch / loop_batch if extrapolated else loop_measured
    if extrapolated:
        method = (f"extrapolated linearly: the loops were timed on {loop_batch} of {batch} images and their time "
                  f"multiplied by {batch}/{loop_batch}")
    else:
        method = f"measured: the loops and im2col both ran on all {batch} images"
    difference = conv2d_explicit(x_loops, weight, None, stride, padding) - conv2d_im2col(x_loops, weight, None,
                                                                                           stride, padding)
    return {
        "loop_seconds": float(loop_seconds),
        "loop_measured_seconds": float(loop_measured),
        "im2col_seconds": float(im2col_seconds),
        "speedup": float(loop_seconds / im2col_seconds),
        "extrapolated": bool(extrapolated),
        "method": method,
        "batch": batch,
        "loop_batch": loop_batch,
        "repeats": repeats,
        "macs": int(conv2d_macs(tuple(x.shape), weight.shape[0], weight.shape[2:], stride, padding)),
        "max_abs_difference": float(np.max(np.abs(difference))),
    }
    ### END SOLUTION


# ---------------------------------------------------------------- fusion and temporaries
def bias_relu_unfused(x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """relu(x + bias) written naively, one NumPy expression (and one temporary array) per step.

    The chain, each line a new array kept until the function returns:
        shifted = x + bias      (a float array the size of x)
        mask = shifted > 0      (a boolean array the size of x)
        result = np.where(mask, shifted, 0.0)

    Args:
        x (np.ndarray, any shape): pre-activations (integers become float32).
        bias (np.ndarray, shape broadcastable to x.shape): e.g. (features,) for x of (batch, features).

    Returns:
        np.ndarray: shape x.shape, the float dtype of x + bias, every value >= 0.

    Raises:
        TypeError: x or bias does not hold numbers.
        ValueError: bias does not broadcast to x's shape (both shapes are named).

    Example:
        >>> bias_relu_unfused(np.array([[-1.0, 2.0]]), np.array([0.5, -3.0])).tolist()
        [[0.0, 0.0]]
    """
    ### BEGIN SOLUTION
    x, bias = _bias_operands(x, bias, "bias_relu_unfused")
    shifted = x + bias
    mask = shifted > 0
    result = np.where(mask, shifted, 0.0)
    return result
    ### END SOLUTION


def fused_bias_relu(x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """relu(x + bias) fused: the sum is written into the output buffer and clipped there, in place.

    np.add creates the only array (the result); np.maximum(out, 0, out=out) then works inside it,
    so no temporary the size of x is allocated. Equal to bias_relu_unfused (same dtype, same values).

    Args:
        x (np.ndarray, any shape): pre-activations (integers become float32).
        bias (np.ndarray, shape broadcastable to x.shape): one offset per feature.

    Returns:
        np.ndarray: shape x.shape, the float dtype of x + bias, every value >= 0.

    Raises:
        TypeError: x or bias does not hold numbers.
        ValueError: bias does not broadcast to x's shape (both shapes are named).

    Example:
        >>> fused_bias_relu(np.array([[-1.0, 2.0]]), np.array([3.0, 0.5])).tolist()
        [[2.0, 2.5]]
    """
    ### BEGIN SOLUTION
    x, bias = _bias_operands(x, bias, "fused_bias_relu")
    out = np.add(x, bias)
    np.maximum(out, 0, out=out)
    return out
    ### END SOLUTION


def gelu_unfused(x: np.ndarray) -> np.ndarray:
    """GELU (the module-02 tanh formula) written naively: one temporary array per step.

        GELU(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))

    The chain, each line a new array kept until the function returns (seven temporaries and the
    result):
        cube = x ** 3;  scaled = 0.044715 * cube;  inner = x + scaled;  u = sqrt(2/pi) * inner;
        tanh_u = tanh(u);  one_plus = 1 + tanh_u;  half_x = 0.5 * x;  result = half_x * one_plus

    Args:
        x (np.ndarray, any shape): input values (integers become float32).

    Returns:
        np.ndarray: shape and float dtype of x.

    Raises:
        TypeError: x does not hold numbers.

    Example:
        >>> gelu_unfused(np.array([0.0, 1.0])).round(4).tolist()
        [0.0, 0.8412]
    """
    ### BEGIN SOLUTION
    x = _floats(x, "x", "gelu_unfused")
    cube = x ** 3
    scaled = GELU_CUBIC * cube
    inner = x + scaled
    u = GELU_SCALE * inner
    tanh_u = np.tanh(u)
    one_plus = 1.0 + tanh_u
    half_x = 0.5 * x
    result = half_x * one_plus
    return result
    ### END SOLUTION


def fused_gelu(x: np.ndarray) -> np.ndarray:
    """GELU evaluated in ONE output buffer: every step writes in place (out=), no temporaries.

    The same formula as gelu_unfused, rearranged as x + 0.044715 x^3 = x * (1 + 0.044715 x^2):
        out = x * x;  out *= 0.044715;  out += 1;  out *= x;  out *= sqrt(2/pi);  tanh(out, out=out);
        out += 1;  out *= x;  out *= 0.5
    Only `out` (the result) is allocated: no array besides the result the size of x.

    Args:
        x (np.ndarray, any shape): input values (integers become float32).

    Returns:
        np.ndarray: shape and float dtype of x; equal to gelu_unfused(x) up to rounding.

    Raises:
        TypeError: x does not hold numbers.

    Example:
        >>> fused_gelu(np.array([0.0, 1.0])).round(4).tolist()
        [0.0, 0.8412]
    """
    ### BEGIN SOLUTION
    x = _floats(x, "x", "fused_gelu")
    out = np.multiply(x, x)
    out *= GELU_CUBIC
    out += 1.0
    out *= x
    out *= GELU_SCALE
    np.tanh(out, out=out)
    out += 1.0
    out *= x
    out *= 0.5
    return out
    ### END SOLUTION


def count_temporaries(fn, *args) -> dict:
    """Measure the memory a call allocates beyond its result, in bytes and in result-sized arrays.

    tracemalloc (standard library) follows every allocation, NumPy's array buffers included. The
    call fn(*args) runs with tracing on; the peak of traced memory above the level before the call
    is its high-water mark. The result itself is still alive at the end, so
    extra_bytes = peak_bytes - result_bytes is what the temporaries alive at that moment took, and
    extra_arrays = extra_bytes / result_bytes counts them in units of the result's size. The count
    is a measurement of memory, not of time: repeating it gives the same number up to a few hundred
    bytes of Python objects. Measure with large arrays (say 1 MiB): besides those objects, NumPy may
    allocate a fixed-size work buffer (8192 elements) when an operation broadcasts, which is small
    next to a large result but not next to a small one.

    Tracing is switched on for the call (and off again) unless it was already on; then only its
    peak is reset.

    Args:
        fn (callable): the function to measure; must return an np.ndarray with at least one element.
        *args (object): the arguments passed to fn.

    Returns:
        dict: "peak_bytes" (int, highest traced memory above the starting level during the call),
        "result_bytes" (int, the result's nbytes), "extra_bytes" (int, peak_bytes - result_bytes, at
        least 0), "extra_arrays" (float, extra_bytes / result_bytes).

    Raises:
        TypeError: fn is not callable, or it did not return a non-empty np.ndarray.

    Example:
        >>> count_temporaries(gelu_unfused, np.ones(10_000, dtype=np.float32))["extra_arrays"] > 5
        True
    """
    ### BEGIN SOLUTION
    if not callable(fn):
        raise TypeError(f"count_temporaries: fn must be callable, got {type(fn).__name__}")
    results = []
    peak_bytes = peak_memory(lambda: results.append(fn(*args)))  # module 14's tracemalloc measurement
    result = results[0]
    if not isinstance(result, np.ndarray) or result.nbytes == 0:
        raise TypeError(f"count_temporaries: fn must return a non-empty numpy array, got {type(result).__name__}")
    extra_bytes = max(peak_bytes - int(result.nbytes), 0)
    return {"peak_bytes": peak_bytes, "result_bytes": int(result.nbytes), "extra_bytes": extra_bytes,
            "extra_arrays": extra_bytes / result.nbytes}
    ### END SOLUTION


def fusion_temporaries(x: np.ndarray, bias: np.ndarray) -> dict:
    """count_temporaries for the unfused and the fused version of both operations, on the same input.

    Measures, in this order, bias_relu_unfused(x, bias), fused_bias_relu(x, bias), gelu_unfused(x)
    and fused_gelu(x): the side-by-side numbers of the fusion lesson. Use large inputs (about 1 MiB).

    Args:
        x (np.ndarray, any shape): input values (float32 or float64 keep their dtype).
        bias (np.ndarray, shape broadcastable to x.shape): the offsets for the bias + ReLU pair.

    Returns:
        dict: {"bias_relu_unfused": ..., "fused_bias_relu": ..., "gelu_unfused": ..., "fused_gelu": ...},
        each value the dict count_temporaries returns for that function.

    Raises:
        TypeError: x or bias does not hold numbers.
        ValueError: bias does not broadcast to x's shape.

    Example:
        >>> counts = fusion_temporaries(np.ones((256, 1024), dtype=np.float32), np.zeros(1024, dtype=np.float32))
        >>> counts["fused_gelu"]["extra_arrays"] < counts["gelu_unfused"]["extra_arrays"]
        True
    """
    ### BEGIN SOLUTION
    return {
        "bias_relu_unfused": count_temporaries(bias_relu_unfused, x, bias),
        "fused_bias_relu": count_temporaries(fused_bias_relu, x, bias),
        "gelu_unfused": count_temporaries(gelu_unfused, x),
        "fused_gelu": count_temporaries(fused_gelu, x),
    }
    ### END SOLUTION


# ---------------------------------------------------------------- cache locality
def tile_schedule(m: int, n: int, k: int, tile: int) -> list[tuple[slice, slice, slice]]:
    """The blocks of a tiled (m x k) @ (k x n) product, in the order tiled_matmul computes them.

    For every output tile (rows, cols) -- row tiles outermost, then column tiles -- the inner
    dimension is walked tile by tile: block (rows, cols, inner) adds a[rows, inner] @ b[inner, cols]
    into out[rows, cols]. Each slice is slice(start, stop) with step None, start a multiple of
    `tile`, and at most `tile` long (the last tile of a dimension may be shorter). Together the
    blocks cover every (output element, inner index) triple exactly once.

    Args:
        m (int): rows of a and of the output (>= 0).
        n (int): columns of b and of the output (>= 0).
        k (int): the inner dimension: columns of a, rows of b (>= 0).
        tile (int): the block edge (>= 1).

    Returns:
        list[tuple[slice, slice, slice]]: (row slice, column slice, inner slice) per block;
        ceil(m/tile) * ceil(n/tile) * ceil(k/tile) blocks.

    Raises:
        ValueError: a size is negative or not an integer, or tile < 1.

    Example:
        >>> tile_schedule(3, 1, 2, 2)
        [(slice(0, 2, None), slice(0, 1, None), slice(0, 2, None)), (slice(2, 3, None), slice(0, 1, None), slice(0, 2, None))]
    """
    ### BEGIN SOLUTION
    m, n, k = (_whole(size, name, "tile_schedule", minimum=0) for size, name in ((m, "m"), (n, "n"), (k, "k")))
    tile = _whole(tile, "tile", "tile_schedule")
    return [(slice(i, min(i + tile, m)), slice(j, min(j + tile, n)), slice(p, min(p + tile, k)))
            for i in range(0, m, tile) for j in range(0, n, tile) for p in range(0, k, tile)]
    ### END SOLUTION


def tiled_matmul(a: np.ndarray, b: np.ndarray, tile: int = 32) -> np.ndarray:
    """a @ b computed block by block: out[rows, cols] += a[rows, inner] @ b[inner, cols].

    The blocks are exactly tile_schedule(m, n, k, tile). While one output block accumulates, its
    tile x tile pieces of a, b and out are small enough to stay in the cache and be reused, instead
    of streaming whole rows and columns through it. (NumPy's own `@` already tiles, in compiled
    code: this version makes the schedule visible, not faster.)

    Args:
        a (np.ndarray, shape (m, k)): left matrix.
        b (np.ndarray, shape (k, n)): right matrix.
        tile (int): block edge (>= 1); a tile larger than the matrices means a single block.

    Returns:
        np.ndarray: shape (m, n), dtype np.result_type(a, b); equal to a @ b (exactly for integers,
        up to rounding in a different summation order for floats).

    Raises:
        TypeError: a or b does not hold integer or float numbers.
        ValueError: a or b is not 2-D, the inner sizes differ (both shapes are named), or tile is not
            an integer >= 1.

    Example:
        >>> tiled_matmul(np.arange(6.0).reshape(2, 3), np.ones((3, 2)), tile=2).tolist()
        [[3.0, 3.0], [12.0, 12.0]]
    """
    ### BEGIN SOLUTION
    a, b = _numeric(a, "a", "tiled_matmul"), _numeric(b, "b", "tiled_matmul")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"tiled_matmul expects two matrices (2-D arrays), got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"tiled_matmul: inner sizes differ: a of shape {a.shape} has {a.shape[1]} columns, "
                         f"b of shape {b.shape} has {b.shape[0]} rows (expected them equal)")
    tile = _whole(tile, "tile", "tiled_matmul")
    (m, k), n = a.shape, b.shape[1]
    out = np.zeros((m, n), dtype=np.result_type(a, b))
    for rows, cols, inner in tile_schedule(m, n, k, tile):
        out[rows, cols] += a[rows, inner] @ b[inner, cols]
    return out
    ### END SOLUTION


def traversal_times(n: int = 1024, repeats: int = 3, timer=time.perf_counter) -> dict:
    """Sum a C-ordered n x n float64 matrix row by row and column by column; time both.

    The matrix is np.arange(n * n, dtype=float64).reshape(n, n) (C order: each row contiguous).
    The row traversal adds matrix[i, :].sum() for every i (consecutive elements 8 bytes apart,
    every cache line fully used); the column traversal adds matrix[:, j].sum() for every j
    (elements n * 8 bytes apart: one number per cache line fetched). Same arithmetic, same sum
    (exact: integers below 2**53 for n <= 8192), different memory order.

    For every repeat the rows are timed, then the columns, each by calling `timer()` once before
    and once after (4 * repeats calls in all); the fastest run of each counts.

    Args:
        n (int): matrix side (>= 1).
        repeats (int): timed runs of each traversal (>= 1).
        timer (callable): returns the current time in seconds (default time.perf_counter).

    Returns:
        dict: "n" (int), "row_seconds" (float), "column_seconds" (float), "ratio" (float,
        column_seconds / row_seconds), "row_sum" (float), "column_sum" (float), "matrix_bytes"
        (int), "row_step_bytes" (int, distance between consecutive elements of a row: 8),
        "column_step_bytes" (int, distance between consecutive elements of a column: 8 * n).

    Raises:
        TypeError: timer is not callable.
        ValueError: n or repeats is not an integer >= 1, the timer went backwards, or the fastest
            row traversal took 0 seconds.

    Example:
        >>> times = traversal_times(n=64, repeats=1)
        >>> times["row_sum"] == times["column_sum"] == 64 * 64 * (64 * 64 - 1) / 2
        True
    """
    ### BEGIN SOLUTION
    n = _whole(n, "n", "traversal_times")
    repeats = _whole(repeats, "repeats", "traversal_times")
    timer = _timer(timer, "traversal_times")
    matrix = np.arange(n * n, dtype=np.float64).reshape(n, n)
    sums = {}

    def by_rows():
        total = 0.0
        for i in range(n):
            total += float(matrix[i, :].sum())
        sums["row"] = total

    def by_columns():
        total = 0.0
        for j in range(n):
            total += float(matrix[:, j].sum())
        sums["column"] = total

    row_runs, column_runs = [], []
    for _ in range(repeats):
        row_runs.append(_timed(timer, "traversal_times", by_rows))
        column_runs.append(_timed(timer, "traversal_times", by_columns))
    row_seconds = _positive_seconds(min(row_runs), "row traversal", "traversal_times")
    column_seconds = min(column_runs)
    return {
        "n": n,
        "row_seconds": float(row_seconds),
        "column_seconds": float(column_seconds),
        "ratio": float(column_seconds / row_seconds),
        "row_sum": sums["row"],
        "column_sum": sums["column"],
        "matrix_bytes": int(matrix.nbytes),
        "row_step_bytes": int(matrix.strides[1]),
        "column_step_bytes": int(matrix.strides[0]),
    }
    ### END SOLUTION
