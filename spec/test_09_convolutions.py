"""Module 09 -- Convolutions: the visible specification.

Run just this module:  pytest spec/test_09_convolutions.py     (or: kata test 09)
Every convolution is compared with an independent NumPy oracle written in this file (one sum of
products per kernel offset over slices of the zero-padded input). Gradients are checked against
float64 central finite differences over every element (spec.support.check_gradients; tolerances
rtol=1e-5, atol=1e-6 unless a test says otherwise).
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import (assert_tensor, assert_tensor_within, check_gradients, examples, float_arrays, float_dtypes,
                          values)
from tinytorch.core.autograd import enable_autograd, graph_size
from tinytorch.core.layers import Parameter
from tinytorch.core.spatial import (AvgPool2d, Conv2d, Flatten, MaxPool2d, col2im, conv2d_explicit, conv2d_macs,
                                    conv2d_output_shape, conv_parameter_count, dense_equivalent_parameter_count,
                                    im2col)
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(9)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


# ---------------------------------------------------------------- oracles written for the tests
def pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def correlate(x, weight, bias=None, stride=1, padding=0):
    """out[n, o, h, w] = bias[o] + sum_{c,i,j} x_pad[n, c, h*stride+i, w*stride+j] * weight[o, c, i, j]."""
    xp = pad(np.asarray(x, dtype=np.float64), padding)
    weight = np.asarray(weight, dtype=np.float64)
    k_h, k_w = weight.shape[2:]
    h_out = (xp.shape[2] - k_h) // stride + 1
    w_out = (xp.shape[3] - k_w) // stride + 1
    out = np.zeros((x.shape[0], weight.shape[0], h_out, w_out))
    for i in range(k_h):
        for j in range(k_w):
            patch = xp[:, :, i:i + stride * (h_out - 1) + 1:stride, j:j + stride * (w_out - 1) + 1:stride]
            out += np.einsum("nchw,oc->nohw", patch, weight[:, :, i, j])
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out


def pool_oracle(x, k, stride, reduce):
    """reduce (np.max or np.mean) over every k x k window, window by window."""
    h_out = (x.shape[2] - k) // stride + 1
    w_out = (x.shape[3] - k) // stride + 1
    out = np.empty(x.shape[:2] + (h_out, w_out))
    for h in range(h_out):
        for w in range(w_out):
            out[:, :, h, w] = reduce(x[:, :, h * stride:h * stride + k, w * stride:w * stride + k], axis=(2, 3))
    return out


@st.composite
def conv_cases(draw, max_batch=2, max_channels=3, max_side=7, max_kernel=3, max_stride=3, max_padding=2,
               dtype=np.float64):
    """(x, weight, bias, stride, padding) with the kernel fitting inside the padded input."""
    n, c_in, c_out = (draw(st.integers(1, top)) for top in (max_batch, max_channels, max_channels))
    k = draw(st.integers(1, max_kernel))
    stride, padding = draw(st.integers(1, max_stride)), draw(st.integers(0, max_padding))
    h = draw(st.integers(max(1, k - 2 * padding), max_side))
    w = draw(st.integers(max(1, k - 2 * padding), max_side))
    x = draw(float_arrays((n, c_in, h, w), dtype=dtype, magnitude=3))
    weight = draw(float_arrays((c_out, c_in, k, k), dtype=dtype, magnitude=1))
    bias = draw(float_arrays((c_out,), dtype=dtype, magnitude=1))
    return x, weight, bias, stride, padding


def layer_for(weight, bias, stride, padding):
    """A Conv2d whose parameters hold exactly `weight` and `bias` (dtype kept)."""
    c_out, c_in, k, _ = weight.shape
    layer = Conv2d(c_in, c_out, k, stride=stride, padding=padding, bias=bias is not None, seed=0)
    layer.weight.data = np.array(weight)
    if bias is not None:
        layer.bias.data = np.array(bias)
    return layer


def distinct_values(draw, shape):
    """Values at least 0.01 apart, so a finite-difference step never changes a window's maximum."""
    return draw(hnp.arrays(np.float64, shape, elements=st.integers(-500, 500).map(lambda i: i / 100), unique=True))


# ---------------------------------------------------------------- shapes
@given(h=st.integers(1, 40), w=st.integers(1, 40), k=st.integers(1, 7), stride=st.integers(1, 4),
       padding=st.integers(0, 3))
def test_output_shape_formula(h, w, k, stride, padding):
    if k > h + 2 * padding or k > w + 2 * padding:
        with pytest.raises(ValueError):
            conv2d_output_shape((h, w), k, stride, padding)
        return
    # Count the window positions instead of using the formula floor((H + 2P - K) / S) + 1.
    expected = (len(range(0, h + 2 * padding - k + 1, stride)), len(range(0, w + 2 * padding - k + 1, stride)))
    assert conv2d_output_shape((h, w), k, stride, padding) == expected


def test_output_shape_examples_and_error_naming_the_sizes():
    assert conv2d_output_shape((32, 32), 5) == (28, 28)
    assert conv2d_output_shape((32, 32), 3, stride=1, padding=1) == (32, 32)
    assert conv2d_output_shape((7, 7), 3, stride=2) == (3, 3)
    assert conv2d_output_shape((4, 4), 5, padding=1) == (2, 2)
    with pytest.raises(ValueError) as error:
        conv2d_output_shape((4, 4), 5)
    message = str(error.value)
    assert "5" in message and "4" in message, f"the error should name the kernel (5) and the input size (4): {message}"


# ---------------------------------------------------------------- the seven loops
@pytest.mark.points(2)
@settings(max_examples=examples(20))
@given(case=conv_cases(max_side=6))
def test_explicit_loops_match_numpy_correlation(case):
    x, weight, bias, stride, padding = case
    got = conv2d_explicit(x, weight, bias, stride=stride, padding=padding)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, correlate(x, weight, bias, stride, padding), rtol=1e-10, atol=1e-10)
    no_bias = conv2d_explicit(x, weight, stride=stride, padding=padding)
    np.testing.assert_allclose(no_bias, correlate(x, weight, None, stride, padding), rtol=1e-10, atol=1e-10)


def test_explicit_loops_cross_correlate_without_flipping_the_kernel():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    weight = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])  # picks the top-left pixel of each window
    np.testing.assert_array_equal(conv2d_explicit(x, weight)[0, 0], x[0, 0, :3, :3])


# ---------------------------------------------------------------- im2col / col2im
@settings(max_examples=examples(25))
@given(case=conv_cases(max_side=6))
def test_im2col_columns_are_the_flattened_receptive_fields(case):
    x, weight, _, stride, padding = case
    k = weight.shape[2]
    cols = im2col(x, k, stride, padding)
    xp = pad(x, padding)
    n, c = x.shape[:2]
    h_out, w_out = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1
    assert cols.shape == (c * k * k, n * h_out * w_out)
    for b in range(n):
        for h in range(h_out):
            for w in range(w_out):
                field = xp[b, :, h * stride:h * stride + k, w * stride:w * stride + k].reshape(-1)
                np.testing.assert_array_equal(cols[:, (b * h_out + h) * w_out + w], field)


@settings(max_examples=examples(25))
@given(case=conv_cases(max_side=6), data=st.data())
def test_col2im_is_the_adjoint_of_im2col(case, data):
    x, weight, _, stride, padding = case
    k = weight.shape[2]
    h_out, w_out = conv2d_output_shape(x.shape[2:], k, stride, padding)
    y = data.draw(float_arrays((x.shape[1] * k * k, x.shape[0] * h_out * w_out), dtype=np.float64, magnitude=3))
    # <im2col(x), y> == <x, col2im(y)>: col2im adds every column entry back where it was copied from.
    back = col2im(y, x.shape, k, stride, padding)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(im2col(x, k, stride, padding) * y), np.sum(x * back), rtol=1e-9, atol=1e-9)


def test_col2im_of_ones_counts_how_many_windows_cover_each_pixel():
    counts = col2im(np.ones((9, 1)), (1, 1, 3, 3), 3)  # 3x3 kernel on a 3x3 image: one window
    np.testing.assert_array_equal(counts, np.ones((1, 1, 3, 3)))
    counts = col2im(np.ones((4, 9)), (1, 1, 4, 4), 2)  # 2x2 kernel, stride 1: a 3x3 grid of windows
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


# ---------------------------------------------------------------- the Conv2d layer
def conv_error_bound(x, weight, bias, stride, padding):
    """How far a correct convolution in x's dtype may be from the exact one (float64 oracle).

    Each output is a sum of n = C_in * K * K products plus the bias; any summation order errs by at
    most about n * eps/2 * (the same sum taken over absolute values), doubled here for room.
    """
    terms = weight[0].size + 1
    finfo = np.finfo(x.dtype)
    magnitude = correlate(np.abs(x), np.abs(weight), np.abs(bias), stride, padding)
    return 2 * terms * float(finfo.eps) * magnitude + terms * float(finfo.tiny)


@pytest.mark.points(3)
@settings(max_examples=examples(25))
@given(dtype=float_dtypes, data=st.data())
def test_conv2d_matches_numpy_correlation_and_the_seven_loops(dtype, data):
    case = data.draw(conv_cases(max_batch=3, max_channels=4, max_side=9, max_kernel=4, dtype=dtype))
    x, weight, bias, stride, padding = case
    layer = layer_for(weight, bias, stride, padding)
    out = layer(Tensor(x))
    expected = correlate(x, weight, bias, stride, padding)
    bound = conv_error_bound(x, weight, bias, stride, padding)
    assert_tensor_within(out, expected, bound, dtype=dtype)
    explicit = conv2d_explicit(x, weight, bias, stride, padding)
    assert explicit.dtype == dtype and explicit.shape == expected.shape
    assert (np.abs(explicit.astype(np.float64) - expected) <= bound).all(), "conv2d_explicit disagrees with the oracle"


@pytest.mark.points(3)
@settings(max_examples=examples(30))
@given(case=conv_cases(max_side=6))
def test_conv2d_gradients_for_input_weight_and_bias(case):
    x, weight, bias, stride, padding = case
    layer = layer_for(weight, bias, stride, padding)

    def conv(inputs, kernel, offsets):
        layer.weight, layer.bias = kernel, offsets  # route the checked Tensors through the layer
        return layer(inputs)

    check_gradients(conv, x, weight, bias)


def test_conv2d_backward_fills_parameter_gradients_with_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 6, 5))
    layer = layer_for(rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4), stride=2, padding=1)
    out = layer(Tensor(x))
    upstream = rng.normal(size=values(out).shape)
    (out * Tensor(upstream)).sum().backward()
    xp = pad(x, 1)
    grad_w = np.zeros((4, 3, 3, 3))
    for i in range(3):
        for j in range(3):
            grad_w[:, :, i, j] = np.einsum("nohw,nchw->oc", upstream, xp[:, :, i:i + 5:2, j:j + 5:2])
    assert_tensor(layer.weight.grad, grad_w, rtol=1e-9, atol=1e-12)
    assert_tensor(layer.bias.grad, upstream.sum(axis=(0, 2, 3)), rtol=1e-9)


def test_conv2d_is_one_graph_node():
    # Conv2d is one registered differentiable operation: the graph holds x, weight, bias and the output.
    layer = Conv2d(2, 3, 3, seed=0)
    out = layer(Tensor(np.ones((1, 2, 5, 5), dtype=np.float32)))
    assert out.requires_grad, "the output depends on the parameters, so it must join the graph"
    assert graph_size(out) == 4, f"expected x, weight, bias and the output in the graph, got {graph_size(out)} tensors"


@given(c_in=st.integers(1, 8), c_out=st.integers(1, 16), k=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_conv2d_initialisation_is_he_uniform_and_seedable(c_in, c_out, k, seed):
    layer = Conv2d(c_in, c_out, k, seed=seed)
    assert isinstance(layer.weight, Parameter) and isinstance(layer.bias, Parameter)
    weight = values(layer.weight)
    assert weight.shape == (c_out, c_in, k, k) and weight.dtype == np.float32
    assert np.all(np.abs(weight) <= np.sqrt(6.0 / (c_in * k * k)) + 1e-7), "He-uniform bound sqrt(6 / fan_in)"
    assert_tensor(layer.bias, np.zeros(c_out), dtype=np.float32)
    np.testing.assert_array_equal(values(Conv2d(c_in, c_out, k, seed=seed).weight), weight)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert Conv2d(c_in, c_out, k, bias=False).bias is None


def test_conv2d_initial_spread_matches_he_variance():
    weight = values(Conv2d(16, 64, 3, seed=1).weight)
    np.testing.assert_allclose(weight.std(), np.sqrt(2.0 / (16 * 9)), rtol=0.05)


# ---------------------------------------------------------------- weight sharing and counts
@settings(max_examples=examples(25))
@given(case=float_dtypes.flatmap(lambda dtype: conv_cases(max_side=8, max_stride=1, max_padding=0, dtype=dtype)),
       dy=st.integers(0, 3), dx=st.integers(0, 3))
def test_weight_sharing_translating_the_input_translates_the_output(case, dy, dx):
    x, weight, bias, _, _ = case
    layer = layer_for(weight, bias, 1, 0)
    out = values(layer(Tensor(x)))
    h_out, w_out = out.shape[2:]
    shifted = values(layer(Tensor(np.roll(x, (dy, dx), axis=(2, 3)))))
    # Every output position uses the same kernel, so output (h + dy, w + dx) sees what (h, w) saw;
    # both may round within the bound of that window, in opposite directions.
    kept = (slice(None), slice(None), slice(0, max(h_out - dy, 0)), slice(0, max(w_out - dx, 0)))
    difference = np.abs(shifted[:, :, dy:, dx:].astype(np.float64) - out[kept])
    assert (difference <= 2 * conv_error_bound(x, weight, bias, 1, 0)[kept]).all()
    assert shifted.dtype == out.dtype == x.dtype


def test_parameter_counts_from_the_paper():
    assert conv_parameter_count(3, 32, 3) == 896
    assert Conv2d(3, 32, 3).num_parameters() == 896
    assert dense_equivalent_parameter_count((3, 32, 32), 32) == 98_336  # 3072 inputs x 32 outputs + 32
    assert int(98_336 / conv_parameter_count(3, 32, 3)) == 109  # the paper's ~109x
    assert conv_parameter_count(3, 32, 3, bias=False) == 864


def test_mac_count_from_the_paper():
    # CIFAR batch (128, 3, 32, 32) through 32 filters of 5x5: 128 * 32 * 28 * 28 * 3 * 5 * 5.
    assert conv2d_macs((128, 3, 32, 32), 32, 5) == 240_844_800


# ---------------------------------------------------------------- pooling and flatten
@settings(max_examples=examples(25))
@given(data=st.data(), k=st.integers(1, 3), stride=st.integers(1, 3), dtype=float_dtypes)
def test_pooling_forward_matches_window_oracles(data, k, stride, dtype):
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), data.draw(st.integers(k, 7)),
             data.draw(st.integers(k, 7)))
    x = data.draw(float_arrays(shape, dtype=dtype, magnitude=10))
    assert_tensor(MaxPool2d(k, stride)(Tensor(x)), pool_oracle(x, k, stride, np.max), rtol=0, dtype=dtype)
    # a mean of k * k values in x's dtype: rounding of a k*k-term sum, relative to the mean of |x|
    exact_mean = pool_oracle(x.astype(np.float64), k, stride, np.mean)
    bound = 2 * (k * k + 1) * float(np.finfo(dtype).eps) * pool_oracle(np.abs(x.astype(np.float64)), k, stride,
                                                                           np.mean) + float(np.finfo(dtype).tiny)
    assert_tensor_within(AvgPool2d(k, stride)(Tensor(x)), exact_mean, bound, dtype=dtype)
    assert MaxPool2d(k).stride in (k, (k, k)), "stride defaults to kernel_size"


@pytest.mark.points(2)
@settings(max_examples=examples(20))
@given(data=st.data(), k=st.integers(1, 3))
def test_pooling_gradients(data, k):
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), data.draw(st.integers(k, 6)),
             data.draw(st.integers(k, 6)))
    x = distinct_values(data.draw, shape)
    check_gradients(lambda t: MaxPool2d(k)(t), x)
    check_gradients(lambda t: AvgPool2d(k)(t), x)


def test_max_pool_tie_sends_the_gradient_to_the_first_maximum():
    x = Tensor(np.array([[[[2.0, 2.0], [1.0, 2.0]]]]), requires_grad=True)
    MaxPool2d(2)(x).sum().backward()
    assert_tensor(x.grad, [[[[1.0, 0.0], [0.0, 0.0]]]])


@given(array=float_arrays(dtype=np.float64, min_dims=2, max_dims=4, max_side=4, magnitude=3))
def test_flatten_shape_values_and_gradient(array):
    out = Flatten()(Tensor(array))
    assert_tensor(out, array.reshape(array.shape[0], -1))
    check_gradients(lambda t: Flatten()(t), array)


# ---------------------------------------------------------------- errors
def test_conv2d_rejects_input_that_is_not_a_batch_of_images():
    layer = Conv2d(3, 4, 3)
    with pytest.raises(ValueError) as error:
        layer(Tensor(np.zeros((3, 8, 8), dtype=np.float32)))
    message = str(error.value)
    assert "(N, C, H, W)" in message and "(3, 8, 8)" in message, message


def test_conv2d_rejects_a_channel_mismatch_naming_both_counts():
    with pytest.raises(ValueError) as error:
        Conv2d(3, 4, 3)(Tensor(np.zeros((2, 5, 8, 8), dtype=np.float32)))
    message = str(error.value)
    assert re.search(r"\b3\b", message) and re.search(r"\b5\b", message), f"name expected 3 and got 5: {message}"


@pytest.mark.parametrize("kwargs, word", [
    ({"kernel_size": 0}, "kernel_size"), ({"kernel_size": -2}, "kernel_size"), ({"stride": 0}, "stride"),
    ({"stride": -1}, "stride"), ({"padding": -1}, "padding"), ({"in_channels": 0}, "in_channels"),
], ids=["kernel-size-0", "kernel-size-minus-2", "stride-0", "stride-minus-1", "padding-minus-1", "in-channels-0"])
def test_conv2d_rejects_invalid_sizes(kwargs, word):
    arguments = {"in_channels": 3, "out_channels": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=word):
        Conv2d(**arguments)
