"""Module 09 -- Convolutions: one small kernel slid over every position of an image.

A convolution layer (Conv2d) computes, at every output position, the dot product of a small
kernel (C_in x K_h x K_w numbers) with the patch of the input under it, for each of C_out
kernels. Like every deep-learning framework this is cross-correlation: the kernel is not flipped.

Systems lessons:
  * Cost you can count. `conv2d_explicit` spells the computation as seven nested loops (batch,
    out-channel, out-row, out-col, in-channel, kernel-row, kernel-col), so the work is
    B x C_out x H_out x W_out x C_in x K_h x K_w multiply-accumulates (MACs): a CIFAR batch
    (128, 3, 32, 32) through 32 filters of 5x5 is 240,844,800, about 241M (`conv2d_macs`).
  * Weight sharing. Every output position reuses the same kernel, so Conv2d(3 -> 32, 3x3) has
    896 parameters while a dense layer from a 3x32x32 image to 32 outputs has 98,336: about
    109x fewer (`conv_parameter_count`, `dense_equivalent_parameter_count`).
  * im2col. Copying every receptive field into one column of a matrix turns the seven loops into
    a single matrix multiplication (fast), at the price of memory: the column matrix holds each
    input element up to K_h x K_w times (`im2col_bytes`). `col2im` is its adjoint: it adds the
    columns back onto the input positions they came from, which is exactly the input gradient.

Pooling (MaxPool2d, AvgPool2d) shrinks the spatial size without parameters; Flatten turns
(N, C, H, W) feature maps into (N, C*H*W) rows for a Linear layer.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinytorch.core.autograd import Function
from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import Tensor


# ---------------------------------------------------------------- argument checking (no solution logic)
def _positive_int(value, name: str, owner: str, minimum: int = 1) -> int:
    """`value` as an int, or a ValueError naming `owner`, `name`, the minimum and what arrived."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{owner}: {name} must be {wanted}, got {value!r}")
    return int(value)


def _pair(value, name: str, owner: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as (rows, cols), each checked with _positive_int."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{owner}: {name} must be an int or a pair (rows, cols), got {value!r}")
        return (_positive_int(value[0], name, owner, minimum), _positive_int(value[1], name, owner, minimum))
    single = _positive_int(value, name, owner, minimum)
    return single, single


def _check_images(shape: tuple, owner: str) -> None:
    """Raise ValueError unless `shape` is a batch of images (N, C, H, W)."""
    if len(shape) != 4:
        raise ValueError(
            f"{owner} expects a batch of images with 4 dimensions (N, C, H, W), got shape {tuple(shape)} "
            f"with {len(shape)} dimension(s)"
        )


# ---------------------------------------------------------------- shapes and counts
def conv2d_output_shape(input_hw: tuple, kernel_size, stride: int = 1, padding: int = 0) -> tuple[int, int]:
    """Spatial output size of a convolution or pooling window: floor((H + 2P - K) / S) + 1 per side.

    Args:
        input_hw (tuple[int, int]): input height and width (H, W).
        kernel_size (int | tuple[int, int]): K, or (K_h, K_w).
        stride (int): step S between neighbouring windows (>= 1).
        padding (int): P zeros added on every side (>= 0).

    Returns:
        tuple[int, int]: (H_out, W_out).

    Raises:
        ValueError: a size is not a positive integer, padding is negative, or the kernel does not
            fit inside the padded input (the kernel and the padded size are both named).

    Example:
        >>> conv2d_output_shape((32, 32), 5)
        (28, 28)
    """
    ### BEGIN SOLUTION
    if not isinstance(input_hw, (tuple, list)) or len(input_hw) != 2:
        raise ValueError(f"conv2d_output_shape: input_hw must be a pair (H, W), got {input_hw!r}")
    height = _positive_int(input_hw[0], "input height", "conv2d_output_shape")
    width = _positive_int(input_hw[1], "input width", "conv2d_output_shape")
    k_h, k_w = _pair(kernel_size, "kernel_size", "conv2d_output_shape")
    stride = _positive_int(stride, "stride", "conv2d_output_shape")
    padding = _positive_int(padding, "padding", "conv2d_output_shape", minimum=0)
    padded_h, padded_w = height + 2 * padding, width + 2 * padding
    if k_h > padded_h or k_w > padded_w:
        raise ValueError(
            f"kernel {k_h}x{k_w} does not fit in the padded input {padded_h}x{padded_w} "
            f"(input {height}x{width} with padding {padding}): expected kernel <= H + 2*padding and W + 2*padding"
        )
    return (padded_h - k_h) // stride + 1, (padded_w - k_w) // stride + 1
    ### END SOLUTION


def conv_parameter_count(in_channels: int, out_channels: int, kernel_size, bias: bool = True) -> int:
    """Learnable numbers of a Conv2d: C_out * C_in * K_h * K_w weights, plus C_out biases.

    The count does not depend on the image size: the same kernels are shared by every position.

    Args:
        in_channels (int): C_in.
        out_channels (int): C_out.
        kernel_size (int | tuple[int, int]): K or (K_h, K_w).
        bias (bool): count one bias per output channel.

    Returns:
        int: the number of parameters.

    Raises:
        ValueError: a count or kernel size is not a positive integer.

    Example:
        >>> conv_parameter_count(3, 32, 3)
        896
    """
    ### BEGIN SOLUTION
    c_in = _positive_int(in_channels, "in_channels", "conv_parameter_count")
    c_out = _positive_int(out_channels, "out_channels", "conv_parameter_count")
    k_h, k_w = _pair(kernel_size, "kernel_size", "conv_parameter_count")
    return c_out * c_in * k_h * k_w + (c_out if bias else 0)
    ### END SOLUTION


def dense_equivalent_parameter_count(input_shape: tuple, out_features: int, bias: bool = True) -> int:
    """Parameters of a Linear layer that maps a whole flattened (C, H, W) image to out_features.

    Compare with conv_parameter_count: a dense layer has one weight per (input pixel, output)
    pair, a convolution only one kernel per output channel.

    Args:
        input_shape (tuple[int, int, int]): one image's shape (C, H, W).
        out_features (int): number of outputs (e.g. the conv layer's C_out).
        bias (bool): count one bias per output.

    Returns:
        int: C*H*W * out_features (+ out_features).

    Raises:
        ValueError: input_shape is not three positive integers, or out_features is not positive.

    Example:
        >>> dense_equivalent_parameter_count((3, 32, 32), 32)
        98336
    """
    ### BEGIN SOLUTION
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"dense_equivalent_parameter_count: input_shape must be (C, H, W), got {input_shape!r}")
    sizes = [_positive_int(s, "input_shape entry", "dense_equivalent_parameter_count") for s in input_shape]
    outputs = _positive_int(out_features, "out_features", "dense_equivalent_parameter_count")
    return sizes[0] * sizes[1] * sizes[2] * outputs + (outputs if bias else 0)
    ### END SOLUTION


def conv2d_macs(input_shape: tuple, out_channels: int, kernel_size, stride: int = 1, padding: int = 0) -> int:
    """Multiply-accumulate operations (MACs) of one convolution: the iterations of the seven loops.

    MACs = N * C_out * H_out * W_out * C_in * K_h * K_w, with H_out, W_out from conv2d_output_shape.

    Args:
        input_shape (tuple[int, int, int, int]): (N, C_in, H, W).
        out_channels (int): C_out.
        kernel_size (int | tuple[int, int]): K or (K_h, K_w).
        stride (int): window step.
        padding (int): zeros added on every side.

    Returns:
        int: the MAC count.

    Raises:
        ValueError: input_shape is not four positive integers, or the sizes are invalid (see
            conv2d_output_shape).

    Example:
        >>> conv2d_macs((128, 3, 32, 32), 32, 5)
        240844800
    """
    ### BEGIN SOLUTION
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 4:
        raise ValueError(f"conv2d_macs: input_shape must be (N, C, H, W), got {input_shape!r}")
    n, c_in, height, width = (_positive_int(s, "input_shape entry", "conv2d_macs") for s in input_shape)
    c_out = _positive_int(out_channels, "out_channels", "conv2d_macs")
    k_h, k_w = _pair(kernel_size, "kernel_size", "conv2d_macs")
    h_out, w_out = conv2d_output_shape((height, width), (k_h, k_w), stride, padding)
    return n * c_out * h_out * w_out * c_in * k_h * k_w
    ### END SOLUTION


def im2col_bytes(input_shape: tuple, kernel_size, stride: int = 1, padding: int = 0, dtype=np.float32) -> int:
    """Memory of the im2col column matrix: (C_in * K_h * K_w) x (N * H_out * W_out) elements.

    Each input element is copied into up to K_h * K_w columns, so for stride 1 the matrix is about
    K_h * K_w times larger than the input: the memory price of turning the loops into one product.

    Args:
        input_shape (tuple[int, int, int, int]): (N, C_in, H, W).
        kernel_size (int | tuple[int, int]): K or (K_h, K_w).
        stride (int): window step.
        padding (int): zeros added on every side.
        dtype (np.dtype | type): element type of the matrix.

    Returns:
        int: bytes.

    Raises:
        ValueError: input_shape is not four positive integers, or the sizes are invalid.

    Example:
        >>> im2col_bytes((128, 3, 32, 32), 5)
        30105600
    """
    ### BEGIN SOLUTION
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 4:
        raise ValueError(f"im2col_bytes: input_shape must be (N, C, H, W), got {input_shape!r}")
    n, c_in, height, width = (_positive_int(s, "input_shape entry", "im2col_bytes") for s in input_shape)
    k_h, k_w = _pair(kernel_size, "kernel_size", "im2col_bytes")
    h_out, w_out = conv2d_output_shape((height, width), (k_h, k_w), stride, padding)
    return c_in * k_h * k_w * n * h_out * w_out * np.dtype(dtype).itemsize
    ### END SOLUTION


# ---------------------------------------------------------------- the explicit seven loops
def conv2d_explicit(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: int = 1,
                    padding: int = 0) -> np.ndarray:
    """Convolution written as seven explicit nested loops -- DELIBERATELY SLOW, for learning.

    The loops are, outermost first: batch, out-channel, out-row, out-col, in-channel, kernel-row,
    kernel-col, so the innermost statement runs exactly conv2d_macs(...) times. This is the one
    place in tinytorch where per-element Python loops are the point: count them, time them, and
    use this function as the trusted answer when checking the fast Conv2d. Cross-correlation (no
    kernel flip):

        out[b, o, h, w] = bias[o] + sum_{c, i, j} x_pad[b, c, h*stride + i, w*stride + j] * weight[o, c, i, j]

    Args:
        x (np.ndarray, shape (N, C_in, H, W)): input images.
        weight (np.ndarray, shape (C_out, C_in, K_h, K_w)): the kernels.
        bias (np.ndarray | None, shape (C_out,)): one value added per output channel.
        stride (int): window step (>= 1).
        padding (int): zeros added on every side of H and W (>= 0).

    Returns:
        np.ndarray: shape (N, C_out, H_out, W_out), dtype float (float64 when x or weight is
        float64, else float32).

    Raises:
        ValueError: x or weight does not have 4 dimensions, their channel counts differ, bias is
            not (C_out,), stride/padding are invalid, or the kernel does not fit.

    Example:
        >>> conv2d_explicit(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).tolist()
        [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    ### BEGIN SOLUTION
    x, weight = np.asarray(x), np.asarray(weight)
    _check_images(x.shape, "conv2d_explicit")
    if weight.ndim != 4:
        raise ValueError(f"conv2d_explicit expects weight of shape (C_out, C_in, K_h, K_w), got shape {weight.shape}")
    batch, c_in, height, width = x.shape
    c_out, weight_c_in, k_h, k_w = weight.shape
    if weight_c_in != c_in:
        raise ValueError(f"conv2d_explicit: weight expects C_in={weight_c_in} input channels, got {c_in} in x of shape {x.shape}")
    if bias is not None and np.shape(bias) != (c_out,):
        raise ValueError(f"conv2d_explicit: bias must have shape ({c_out},), got {np.shape(bias)}")
    h_out, w_out = conv2d_output_shape((height, width), (k_h, k_w), stride, padding)
    dtype = np.result_type(x.dtype, weight.dtype, np.float32)
    padded = np.zeros((batch, c_in, height + 2 * padding, width + 2 * padding), dtype=dtype)
    padded[:, :, padding:padding + height, padding:padding + width] = x
    out = np.zeros((batch, c_out, h_out, w_out), dtype=dtype)
    # Count them: 1, 2, 3, 4, 5, 6, 7 loops.
    for b in range(batch):
        for o in range(c_out):
            for h in range(h_out):
                for w in range(w_out):
                    total = 0.0 if bias is None else float(bias[o])
                    for c in range(c_in):
                        for i in range(k_h):
                            for j in range(k_w):
                                total += padded[b, c, h * stride + i, w * stride + j] * weight[o, c, i, j]
                    out[b, o, h, w] = total
    return out
    ### END SOLUTION


# ---------------------------------------------------------------- im2col / col2im
def im2col(x: np.ndarray, kernel_size, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Copy every receptive field of x into one column of a matrix (no Python loops over elements).

    Row r = (c, i, j) in row-major order (c * K_h * K_w + i * K_w + j) and column
    q = (n, h, w) in row-major order (n * H_out * W_out + h * W_out + w) hold
    x_pad[n, c, h*stride + i, w*stride + j]. Then a convolution is one matrix product:
    weight.reshape(C_out, -1) @ im2col(x) has shape (C_out, N * H_out * W_out).

    Args:
        x (np.ndarray, shape (N, C, H, W)): input images.
        kernel_size (int | tuple[int, int]): K or (K_h, K_w).
        stride (int): window step.
        padding (int): zeros added on every side.

    Returns:
        np.ndarray: shape (C * K_h * K_w, N * H_out * W_out), x's dtype, a fresh contiguous array.

    Raises:
        ValueError: x is not 4-D, or the sizes are invalid (see conv2d_output_shape).

    Example:
        >>> im2col(np.arange(9.0).reshape(1, 1, 3, 3), 2).shape
        (4, 4)
    """
    ### BEGIN SOLUTION
    x = np.asarray(x)
    _check_images(x.shape, "im2col")
    batch, channels, height, width = x.shape
    k_h, k_w = _pair(kernel_size, "kernel_size", "im2col")
    h_out, w_out = conv2d_output_shape((height, width), (k_h, k_w), stride, padding)
    # Channels first, then images: each column block (c, i, j) becomes one strided copy whose inner
    # runs are contiguous image rows.
    padded = np.zeros((channels, batch, height + 2 * padding, width + 2 * padding), dtype=x.dtype)
    padded[:, :, padding:padding + height, padding:padding + width] = x.transpose(1, 0, 2, 3)
    s_c, s_n, s_h, s_w = padded.strides
    windows = as_strided(padded, shape=(channels, k_h, k_w, batch, h_out, w_out),
                         strides=(s_c, s_h, s_w, s_n, s_h * stride, s_w * stride), writeable=False)
    return np.ascontiguousarray(windows).reshape(channels * k_h * k_w, batch * h_out * w_out)
    ### END SOLUTION


def col2im(cols: np.ndarray, input_shape: tuple, kernel_size, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The adjoint of im2col: add every column entry back onto the input position it was copied from.

    Positions covered by several windows receive the sum of their entries; padding positions are
    dropped. This is exactly the input gradient of a convolution, given the gradient of the
    column matrix. One strided add per kernel offset (K_h * K_w of them), never one per element.

    Args:
        cols (np.ndarray, shape (C * K_h * K_w, N * H_out * W_out)): a column matrix laid out as
            im2col returns it.
        input_shape (tuple[int, int, int, int]): (N, C, H, W) of the images im2col was applied to.
        kernel_size (int | tuple[int, int]): K or (K_h, K_w).
        stride (int): window step.
        padding (int): zeros that were added on every side.

    Returns:
        np.ndarray: shape (N, C, H, W), cols' dtype.

    Raises:
        ValueError: input_shape is not 4-D, or cols does not have the shape im2col would produce
            (expected and actual shapes are named).

    Example:
        >>> col2im(np.ones((4, 4)), (1, 1, 3, 3), 2).tolist()
        [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    """
    ### BEGIN SOLUTION
    cols = np.asarray(cols)
    _check_images(tuple(input_shape), "col2im")
    batch, channels, height, width = (int(s) for s in input_shape)
    k_h, k_w = _pair(kernel_size, "kernel_size", "col2im")
    h_out, w_out = conv2d_output_shape((height, width), (k_h, k_w), stride, padding)
    expected = (channels * k_h * k_w, batch * h_out * w_out)
    if cols.shape != expected:
        raise ValueError(f"col2im: expected cols of shape {expected} for input {tuple(input_shape)}, got {cols.shape}")
    blocks = cols.reshape(channels, k_h, k_w, batch, h_out, w_out)
    padded = np.zeros((channels, batch, height + 2 * padding, width + 2 * padding), dtype=cols.dtype)
    row_span, col_span = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    for i in range(k_h):  # one strided add per kernel offset; overlapping windows accumulate
        for j in range(k_w):
            padded[:, :, i:i + row_span:stride, j:j + col_span:stride] += blocks[:, i, j]
    return np.ascontiguousarray(padded[:, :, padding:padding + height, padding:padding + width].transpose(1, 0, 2, 3))
    ### END SOLUTION


# ---------------------------------------------------------------- differentiable convolution
class Conv2dFunction(Function):
    """Convolution as one registered differentiable operation (im2col + one matrix product).

    Forward saves the column matrix; backward reuses it:
        grad_weight = grad_out (C_out, N*H_out*W_out) @ cols.T,
        grad_bias   = grad_out summed over N, H_out, W_out,
        grad_input  = col2im(weight.reshape(C_out, -1).T @ grad_out).

    Call `Conv2dFunction.apply(x, weight, bias, stride, padding, input_grad)` with Tensors x and
    weight, bias a Tensor or array of shape (C_out,) (zeros when there is no bias), and plain ints
    stride, padding; input_grad=False skips computing the input's gradient (when nothing needs it).

    Example:
        >>> out = Conv2dFunction.apply(Tensor(np.ones((1, 1, 3, 3))), Tensor(np.ones((1, 1, 2, 2))), np.zeros(1), 1, 0)
        >>> out.shape
        (1, 1, 2, 2)
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0, input_grad=True):
        """Compute the convolution with im2col and a single matrix multiplication.

        Args:
            ctx (object): where the column matrix and sizes are saved for backward.
            x (np.ndarray, shape (N, C_in, H, W)): input images (already checked by Conv2d).
            weight (np.ndarray, shape (C_out, C_in, K_h, K_w)): kernels.
            bias (np.ndarray, shape (C_out,)): per-channel offsets.
            stride (int | np.ndarray): window step.
            padding (int | np.ndarray): zeros added on every side.
            input_grad (bool | np.ndarray): whether backward must compute the input's gradient.

        Returns:
            np.ndarray: shape (N, C_out, H_out, W_out), dtype of x and weight combined.

        Example:
            >>> ctx = type("Context", (), {})()
            >>> Conv2dFunction.forward(ctx, np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1)).shape
            (1, 1, 2, 2)
        """
        ### BEGIN SOLUTION
        stride, padding = int(stride), int(padding)
        if x.dtype.kind != "f":
            x = x.astype(weight.dtype)
        dtype = np.result_type(x.dtype, weight.dtype)
        batch, _, height, width = x.shape
        c_out, _, k_h, k_w = weight.shape
        h_out, w_out = conv2d_output_shape((height, width), (k_h, k_w), stride, padding)
        cols = im2col(x.astype(dtype, copy=False), (k_h, k_w), stride, padding)
        flat_weight = weight.reshape(c_out, -1).astype(dtype, copy=False)
        product = (flat_weight @ cols).reshape(c_out, batch, h_out, w_out)
        out = np.empty((batch, c_out, h_out, w_out), dtype=dtype)
        # Back to (N, C_out, ...) and add the bias in the same pass over memory.
        np.add(product.transpose(1, 0, 2, 3), bias.astype(dtype, copy=False).reshape(1, c_out, 1, 1), out=out)
        ctx.cols, ctx.flat_weight = cols, flat_weight
        ctx.x_shape, ctx.weight_shape = x.shape, weight.shape
        ctx.stride, ctx.padding, ctx.input_grad = stride, padding, bool(input_grad)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Gradients of the input, weight and bias from the output's gradient.

        Args:
            ctx (object): what forward saved.
            grad (np.ndarray, shape (N, C_out, H_out, W_out)): gradient of the output.

        Returns:
            tuple: (grad_x or None, grad_weight, grad_bias, None, None, None), shaped like the inputs.

        Example:
            >>> ctx = type("Context", (), {})(); _ = Conv2dFunction.forward(ctx, np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1))
            >>> Conv2dFunction.backward(ctx, np.ones((1, 1, 2, 2)))[0].shape
            (1, 1, 3, 3)
        """
        ### BEGIN SOLUTION
        c_out = ctx.weight_shape[0]
        grad = np.asarray(grad, dtype=ctx.cols.dtype)
        flat_grad = np.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(c_out, -1)
        grad_weight = (ctx.cols @ flat_grad.T).T.reshape(ctx.weight_shape)
        grad_bias = flat_grad.sum(axis=1)
        grad_x = None
        if ctx.input_grad:
            grad_cols = ctx.flat_weight.T @ flat_grad
            grad_x = col2im(grad_cols, ctx.x_shape, ctx.weight_shape[2:], ctx.stride, ctx.padding)
        return grad_x, grad_weight, grad_bias, None, None, None
        ### END SOLUTION


class Conv2d(Module):
    """2-D convolution layer over a batch of images (N, C_in, H, W) -> (N, C_out, H_out, W_out).

    weight has shape (C_out, C_in, K, K) and starts He (Kaiming) uniform for ReLU networks:
    U(-a, a) with a = sqrt(6 / fan_in), fan_in = C_in * K_h * K_w (so Var(w) = 2 / fan_in and the
    size of activations stays roughly constant from layer to layer); bias starts at zero. All
    parameters are float32. H_out = floor((H + 2*padding - K) / stride) + 1, the same for W.

    Forward and backward are one registered differentiable operation (Conv2dFunction): im2col
    plus one matrix multiplication, so a small CNN trains in seconds.

    Args:
        in_channels (int): C_in, channels of each input image.
        out_channels (int): C_out, number of kernels (output channels).
        kernel_size (int | tuple[int, int]): K (square kernel) or (K_h, K_w).
        stride (int): window step (>= 1).
        padding (int): zeros added on every side (>= 0).
        bias (bool): learn one bias per output channel (default True).
        seed (int | None): seed of the initial weights (None: fresh randomness).

    Attributes:
        weight (Parameter): shape (C_out, C_in, K_h, K_w).
        bias (Parameter | None): shape (C_out,), or None when bias=False.

    Raises:
        ValueError: a channel count, kernel size or stride is not a positive integer, or padding
            is negative (the bad value is named).

    Example:
        >>> Conv2d(3, 8, 3, padding=1, seed=0)(Tensor(np.zeros((2, 3, 16, 16)))).shape
        (2, 8, 16, 16)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1, padding: int = 0,
                 bias: bool = True, seed: int | None = None):
        ### BEGIN SOLUTION
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = _positive_int(stride, "stride", "Conv2d")
        self.padding = _positive_int(padding, "padding", "Conv2d", minimum=0)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = math.sqrt(6.0 / fan_in)
        rng = np.random.default_rng(seed)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(np.float32))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=np.float32)) if bias else None
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Convolve every image of the batch with every kernel.

        Args:
            x (Tensor, shape (N, C_in, H, W)): input images (integer images are treated as float).

        Returns:
            Tensor: shape (N, C_out, H_out, W_out), float32 for float32 inputs; differentiable
            with respect to x, weight and bias once autograd is enabled.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x does not have 4 dimensions (the message says (N, C, H, W) and names
                the shape that arrived), its channel count is not in_channels (the message names
                both counts), or the kernel does not fit in the padded input.

        Example:
            >>> Conv2d(1, 4, 3, seed=0)(Tensor(np.zeros((5, 1, 8, 8)))).shape
            (5, 4, 6, 6)
        """
        ### BEGIN SOLUTION
        if not isinstance(x, Tensor):
            raise TypeError(f"Conv2d expects a Tensor, got {type(x).__name__}")
        _check_images(x.shape, "Conv2d")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d expected C_in={self.in_channels} input channels (dimension 1 of (N, C, H, W)), "
                f"got {x.shape[1]} in input of shape {x.shape}"
            )
        conv2d_output_shape(x.shape[2:], self.kernel_size, self.stride, self.padding)  # raises if it does not fit
        bias = self.bias if self.bias is not None else np.zeros(self.out_channels, dtype=self.weight.dtype)
        # Skip the input's gradient when nothing needs it (the first layer's images). Tensors only
        # have requires_grad once autograd is enabled; before that nothing is recorded anyway.
        needs_input_grad = bool(getattr(x, "requires_grad", False))
        return Conv2dFunction.apply(x, self.weight, bias, self.stride, self.padding, needs_input_grad)
        ### END SOLUTION

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})")


# ---------------------------------------------------------------- pooling
def _windows(x: np.ndarray, k_h: int, k_w: int, s_h: int, s_w: int) -> np.ndarray:
    """Read-only strided view of every pooling window: shape (N, C, H_out, W_out, k_h, k_w).

    Args:
        x (np.ndarray, shape (N, C, H, W)): input images.
        k_h (int): window rows.
        k_w (int): window cols.
        s_h (int): step between window rows.
        s_w (int): step between window cols.

    Returns:
        np.ndarray: a view (no copy) into x.

    Example:
        >>> _windows(np.zeros((1, 1, 4, 4)), 2, 2, 2, 2).shape
        (1, 1, 2, 2, 2, 2)
    """
    ### BEGIN SOLUTION
    batch, channels, height, width = x.shape
    h_out, w_out = (height - k_h) // s_h + 1, (width - k_w) // s_w + 1
    n_s, c_s, h_s, w_s = x.strides
    return as_strided(x, shape=(batch, channels, h_out, w_out, k_h, k_w),
                      strides=(n_s, c_s, h_s * s_h, w_s * s_w, h_s, w_s), writeable=False)
    ### END SOLUTION


class MaxPool2dFunction(Function):
    """Max pooling as a registered differentiable operation.

    Each window's gradient goes to the position of its maximum. Ties: the FIRST maximal element of
    the window in row-major order receives the whole gradient (the others get 0), so the total
    gradient is conserved. Overlapping windows (stride < kernel) add up their contributions.
    Call `MaxPool2dFunction.apply(x, k_h, k_w, s_h, s_w)`.

    Example:
        >>> MaxPool2dFunction.apply(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2, 2, 2, 2).data.tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """

    @staticmethod
    def forward(ctx, x, k_h, k_w, s_h, s_w):
        """Maximum of every window, remembering where it was.

        Args:
            ctx (object): saves the winning positions for backward.
            x (np.ndarray, shape (N, C, H, W)): input images.
            k_h (int | np.ndarray): window rows.
            k_w (int | np.ndarray): window cols.
            s_h (int | np.ndarray): row step.
            s_w (int | np.ndarray): col step.

        Returns:
            np.ndarray: shape (N, C, H_out, W_out), x's dtype.

        Example:
            >>> ctx = type("Context", (), {})()
            >>> MaxPool2dFunction.forward(ctx, np.ones((1, 1, 4, 4)), 2, 2, 2, 2).shape
            (1, 1, 2, 2)
        """
        ### BEGIN SOLUTION
        k_h, k_w, s_h, s_w = int(k_h), int(k_w), int(s_h), int(s_w)
        windows = _windows(x, k_h, k_w, s_h, s_w)
        flat = windows.reshape(*windows.shape[:4], k_h * k_w)
        winner = flat.argmax(axis=-1)  # argmax returns the first maximum: the tie rule
        ctx.winner, ctx.x_shape, ctx.kernel, ctx.stride = winner, x.shape, (k_h, k_w), (s_h, s_w)
        return np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0]
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Send each window's gradient to its winning input position.

        Args:
            ctx (object): what forward saved.
            grad (np.ndarray, shape (N, C, H_out, W_out)): gradient of the output.

        Returns:
            tuple: (grad_x, None, None, None, None).

        Example:
            >>> ctx = type("Context", (), {})(); _ = MaxPool2dFunction.forward(ctx, np.ones((1, 1, 4, 4)), 2, 2, 2, 2)
            >>> MaxPool2dFunction.backward(ctx, np.ones((1, 1, 2, 2)))[0].shape
            (1, 1, 4, 4)
        """
        ### BEGIN SOLUTION
        (k_h, k_w), (s_h, s_w) = ctx.kernel, ctx.stride
        h_out, w_out = grad.shape[2:]
        grad_x = np.zeros(ctx.x_shape, dtype=grad.dtype)
        zero = np.zeros((), dtype=grad.dtype)
        for i in range(k_h):  # one masked strided add per window offset
            for j in range(k_w):
                grad_x[:, :, i:i + s_h * (h_out - 1) + 1:s_h, j:j + s_w * (w_out - 1) + 1:s_w] += np.where(
                    ctx.winner == i * k_w + j, grad, zero)
        return grad_x, None, None, None, None
        ### END SOLUTION


class AvgPool2dFunction(Function):
    """Average pooling as a registered differentiable operation: every element of a window gets
    1 / (k_h * k_w) of the window's gradient. Call `AvgPool2dFunction.apply(x, k_h, k_w, s_h, s_w)`.

    Example:
        >>> AvgPool2dFunction.apply(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2, 2, 2, 2).data.tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """

    @staticmethod
    def forward(ctx, x, k_h, k_w, s_h, s_w):
        """Mean of every window.

        Args:
            ctx (object): saves sizes for backward.
            x (np.ndarray, shape (N, C, H, W)): input images.
            k_h (int | np.ndarray): window rows.
            k_w (int | np.ndarray): window cols.
            s_h (int | np.ndarray): row step.
            s_w (int | np.ndarray): col step.

        Returns:
            np.ndarray: shape (N, C, H_out, W_out), float (x's dtype when x is float).

        Example:
            >>> ctx = type("Context", (), {})()
            >>> AvgPool2dFunction.forward(ctx, np.ones((1, 1, 4, 4)), 2, 2, 2, 2).shape
            (1, 1, 2, 2)
        """
        ### BEGIN SOLUTION
        k_h, k_w, s_h, s_w = int(k_h), int(k_w), int(s_h), int(s_w)
        if x.dtype.kind != "f":
            x = x.astype(np.float32)
        ctx.x_shape, ctx.kernel, ctx.stride = x.shape, (k_h, k_w), (s_h, s_w)
        return _windows(x, k_h, k_w, s_h, s_w).mean(axis=(-2, -1), dtype=x.dtype)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Spread each window's gradient evenly over the window.

        Args:
            ctx (object): what forward saved.
            grad (np.ndarray, shape (N, C, H_out, W_out)): gradient of the output.

        Returns:
            tuple: (grad_x, None, None, None, None).

        Example:
            >>> ctx = type("Context", (), {})(); _ = AvgPool2dFunction.forward(ctx, np.ones((1, 1, 4, 4)), 2, 2, 2, 2)
            >>> AvgPool2dFunction.backward(ctx, np.ones((1, 1, 2, 2)))[0].shape
            (1, 1, 4, 4)
        """
        ### BEGIN SOLUTION
        (k_h, k_w), (s_h, s_w) = ctx.kernel, ctx.stride
        h_out, w_out = grad.shape[2:]
        share = grad / (k_h * k_w)
        grad_x = np.zeros(ctx.x_shape, dtype=share.dtype)
        for i in range(k_h):  # one strided add per window offset
            for j in range(k_w):
                grad_x[:, :, i:i + s_h * (h_out - 1) + 1:s_h, j:j + s_w * (w_out - 1) + 1:s_w] += share
        return grad_x, None, None, None, None
        ### END SOLUTION


def _pool(x: Tensor, kernel: tuple, stride: tuple, function, owner: str) -> Tensor:
    """Check a pooling input and apply a pooling Function (differentiable once autograd is on).

    Args:
        x (Tensor, shape (N, C, H, W)): input feature maps.
        kernel (tuple[int, int]): (k_h, k_w).
        stride (tuple[int, int]): (s_h, s_w).
        function (type): MaxPool2dFunction or AvgPool2dFunction.
        owner (str): layer name for error messages.

    Returns:
        Tensor: shape (N, C, H_out, W_out).

    Raises:
        TypeError: x is not a Tensor.
        ValueError: x is not (N, C, H, W), or the window does not fit.

    Example:
        >>> _pool(Tensor(np.zeros((1, 1, 4, 4))), (2, 2), (2, 2), AvgPool2dFunction, "AvgPool2d").shape
        (1, 1, 2, 2)
    """
    ### BEGIN SOLUTION
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner} expects a Tensor, got {type(x).__name__}")
    _check_images(x.shape, owner)
    (k_h, k_w), (s_h, s_w) = kernel, stride
    if k_h > x.shape[2] or k_w > x.shape[3]:
        raise ValueError(f"{owner}: window {k_h}x{k_w} does not fit in the input {x.shape[2]}x{x.shape[3]} "
                         f"(input shape {x.shape}): expected kernel_size <= H and W")
    return function.apply(x, k_h, k_w, s_h, s_w)
    ### END SOLUTION


class MaxPool2d(Module):
    """Keep the largest value of every k x k window: (N, C, H, W) -> (N, C, H_out, W_out).

    H_out = floor((H - K) / stride) + 1 (no padding; a ragged border is dropped). The gradient
    goes to each window's maximum; on ties the first maximum in row-major order takes all of it.

    Args:
        kernel_size (int | tuple[int, int]): window size K or (K_h, K_w).
        stride (int | tuple[int, int] | None): window step; None (default) means kernel_size
            (non-overlapping windows).

    Attributes:
        kernel_size (tuple[int, int]): (K_h, K_w).
        stride (tuple[int, int]): (S_h, S_w).

    Raises:
        ValueError: kernel_size or stride is not a positive integer.

    Example:
        >>> MaxPool2d(2)(Tensor(np.zeros((1, 3, 8, 8)))).shape
        (1, 3, 4, 4)
    """

    def __init__(self, kernel_size, stride=None):
        ### BEGIN SOLUTION
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxPool2d")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", "MaxPool2d")
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Max-pool every channel of every image.

        Args:
            x (Tensor, shape (N, C, H, W)): input feature maps.

        Returns:
            Tensor: shape (N, C, H_out, W_out), x's dtype.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x is not (N, C, H, W), or the window does not fit.

        Example:
            >>> MaxPool2d(2)(Tensor(np.arange(16.0).reshape(1, 1, 4, 4))).data.tolist()
            [[[[5.0, 7.0], [13.0, 15.0]]]]
        """
        ### BEGIN SOLUTION
        return _pool(x, self.kernel_size, self.stride, MaxPool2dFunction, "MaxPool2d")
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class AvgPool2d(Module):
    """Average every k x k window: (N, C, H, W) -> (N, C, H_out, W_out).

    H_out = floor((H - K) / stride) + 1 (no padding); every element of a window receives
    1 / (K_h * K_w) of that window's gradient.

    Args:
        kernel_size (int | tuple[int, int]): window size K or (K_h, K_w).
        stride (int | tuple[int, int] | None): window step; None (default) means kernel_size.

    Attributes:
        kernel_size (tuple[int, int]): (K_h, K_w).
        stride (tuple[int, int]): (S_h, S_w).

    Raises:
        ValueError: kernel_size or stride is not a positive integer.

    Example:
        >>> AvgPool2d(2)(Tensor(np.ones((1, 1, 4, 4)))).data.tolist()
        [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def __init__(self, kernel_size, stride=None):
        ### BEGIN SOLUTION
        self.kernel_size = _pair(kernel_size, "kernel_size", "AvgPool2d")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", "AvgPool2d")
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Average-pool every channel of every image.

        Args:
            x (Tensor, shape (N, C, H, W)): input feature maps.

        Returns:
            Tensor: shape (N, C, H_out, W_out), float.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x is not (N, C, H, W), or the window does not fit.

        Example:
            >>> AvgPool2d(2)(Tensor(np.zeros((2, 1, 6, 6)))).shape
            (2, 1, 3, 3)
        """
        ### BEGIN SOLUTION
        return _pool(x, self.kernel_size, self.stride, AvgPool2dFunction, "AvgPool2d")
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class Flatten(Module):
    """Keep the first (batch) dimension and merge all others: (N, d1, d2, ...) -> (N, d1*d2*...).

    The bridge from feature maps (N, C, H, W) to a Linear layer; row-major order, differentiable
    (it is a reshape).

    Example:
        >>> Flatten()(Tensor(np.zeros((2, 3, 4, 5)))).shape
        (2, 60)
    """

    def forward(self, x: Tensor) -> Tensor:
        """Flatten every example to one row.

        Args:
            x (Tensor, shape (N, ...)): at least 2 dimensions.

        Returns:
            Tensor: shape (N, product of the other sizes), same dtype and element order.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x has fewer than 2 dimensions (there is no batch dimension to keep).

        Example:
            >>> Flatten()(Tensor(np.zeros((4, 1, 8, 8)))).shape
            (4, 64)
        """
        ### BEGIN SOLUTION
        if not isinstance(x, Tensor):
            raise TypeError(f"Flatten expects a Tensor, got {type(x).__name__}")
        if x.ndim < 2:
            raise ValueError(f"Flatten expects (N, ...) with at least 2 dimensions, got shape {x.shape}")
        return x.reshape(x.shape[0], -1)
        ### END SOLUTION

    def __repr__(self) -> str:
        return "Flatten()"
