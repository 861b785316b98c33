"""Module 09 -- Convolutions: held-out properties (not shipped to students).

Oracles are written here independently of spec/ (an einsum over NumPy's sliding windows of the
zero-padded input); gradients are checked against float64 central finite differences over every
element (spec.support.check_gradients; rtol=1e-5, atol=1e-6 unless a test says otherwise).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.stride_tricks import sliding_window_view

from spec.support import assert_tensor, check_gradients, examples, float_arrays, values
from spec.test_09_convolutions import layer_for
from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.spatial import (AvgPool2d, Conv2d, Flatten, MaxPool2d, conv2d_explicit, conv2d_macs,
                                    conv2d_output_shape, conv_parameter_count, dense_equivalent_parameter_count,
                                    im2col_bytes)
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(9)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def window_oracle(x, weight, bias=None, stride=1, padding=0):
    """Cross-correlation as one einsum over every (K_h, K_w) window of the padded input."""
    xp = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k_h, k_w = weight.shape[2:]
    windows = sliding_window_view(xp, (k_h, k_w), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("nchwij,ocij->nohw", windows, np.asarray(weight, dtype=np.float64))
    return out if bias is None else out + np.asarray(bias, dtype=np.float64)[None, :, None, None]


def gradient_check_of_layer(layer, x):
    def conv(inputs, kernel, offsets):
        layer.weight, layer.bias = kernel, offsets
        return layer(inputs)

    check_gradients(conv, x, values(layer.weight), values(layer.bias))


# ---------------------------------------------------------------- forward
@settings(max_examples=examples(20))
@given(data=st.data())
def test_explicit_loops_with_rectangular_kernels_and_images(data):
    n, c_in, c_out = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    k_h, k_w = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    stride, padding = data.draw(st.integers(1, 2)), data.draw(st.integers(0, 1))
    h = data.draw(st.integers(max(1, k_h - 2 * padding), 6))
    w = data.draw(st.integers(max(1, k_w - 2 * padding), 7))
    x = data.draw(float_arrays((n, c_in, h, w), dtype=np.float64, magnitude=3))
    weight = data.draw(float_arrays((c_out, c_in, k_h, k_w), dtype=np.float64, magnitude=2))
    got = conv2d_explicit(x, weight, None, stride, padding)
    np.testing.assert_allclose(got, window_oracle(x, weight, None, stride, padding), rtol=1e-10, atol=1e-10)


@pytest.mark.points(2)
@settings(max_examples=examples(25))
@given(data=st.data(), bias=st.booleans())
def test_conv2d_with_and_without_bias_matches_window_oracle(data, bias):
    k, stride, padding = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3)), data.draw(st.integers(0, 3))
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)),
             data.draw(st.integers(max(1, k - 2 * padding), 10)), data.draw(st.integers(max(1, k - 2 * padding), 10)))
    c_out = data.draw(st.integers(1, 5))
    x = data.draw(float_arrays(shape, dtype=np.float32, magnitude=3))
    weight = data.draw(float_arrays((c_out, shape[1], k, k), dtype=np.float32, magnitude=1))
    offsets = data.draw(float_arrays((c_out,), dtype=np.float32, magnitude=1)) if bias else None
    out = layer_for(weight, offsets, stride, padding)(Tensor(x))
    assert out.shape == (shape[0], c_out, *conv2d_output_shape(shape[2:], k, stride, padding))
    assert_tensor(out, window_oracle(x, weight, offsets, stride, padding), rtol=1e-4, atol=1e-4, dtype=np.float32)


@settings(max_examples=examples(25))
@given(data=st.data())
def test_one_by_one_convolution_is_a_per_pixel_linear_map(data):
    n, c_in, c_out = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = data.draw(float_arrays((n, c_in, data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))),
                               dtype=np.float64, magnitude=3))
    weight = data.draw(float_arrays((c_out, c_in, 1, 1), dtype=np.float64, magnitude=2))
    bias = data.draw(float_arrays((c_out,), dtype=np.float64, magnitude=2))
    expected = np.einsum("nchw,oc->nohw", x, weight[:, :, 0, 0]) + bias[None, :, None, None]
    assert_tensor(layer_for(weight, bias, 1, 0)(Tensor(x)), expected, rtol=1e-9, atol=1e-12)


def test_integer_images_are_treated_as_float():
    image = np.arange(2 * 1 * 5 * 5).reshape(2, 1, 5, 5)
    layer = Conv2d(1, 2, 3, seed=4)
    out = layer(Tensor(image))
    assert out.dtype.kind == "f"
    np.testing.assert_allclose(values(out), window_oracle(image, values(layer.weight), values(layer.bias)),
                               rtol=1e-5, atol=1e-4)


# ---------------------------------------------------------------- gradients
@pytest.mark.points(3)
@pytest.mark.parametrize("shape, c_out, k, stride, padding", [
    ((2, 2, 5, 5), 3, 3, 2, 1),   # stride 2 with padding
    ((1, 2, 6, 5), 2, 3, 2, 2),   # padding larger than half the kernel
    ((2, 1, 7, 6), 2, 2, 3, 0),   # ragged edge: the last rows/cols are never covered
    ((1, 3, 4, 4), 2, 4, 1, 0),   # kernel as large as the image: a single output position
    ((1, 1, 3, 3), 2, 5, 1, 1),   # kernel larger than the image, made to fit by padding
], ids=["stride-2-padded", "padding-over-half-kernel", "ragged-edge", "kernel-fills-image", "kernel-over-image-padded"])
def test_conv2d_gradients_with_stride_and_padding(shape, c_out, k, stride, padding):
    rng = np.random.default_rng(sum(shape) + k + 7 * stride + padding)
    layer = layer_for(rng.normal(size=(c_out, shape[1], k, k)), rng.normal(size=c_out), stride, padding)
    gradient_check_of_layer(layer, rng.normal(size=shape))


def test_conv2d_float32_gradients_match_closed_forms_at_a_realistic_size():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 3, 12, 12)).astype(np.float32)
    weight, bias = rng.normal(size=(6, 3, 5, 5)).astype(np.float32), rng.normal(size=6).astype(np.float32)
    layer, inputs = layer_for(weight, bias, 2, 2), Tensor(x, requires_grad=True)
    out = layer(inputs)
    upstream = rng.normal(size=out.shape).astype(np.float32)
    out.backward(Tensor(upstream))
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (2, 2), (2, 2)))
    windows = sliding_window_view(xp, (5, 5), axis=(2, 3))[:, :, ::2, ::2]
    assert_tensor(layer.weight.grad, np.einsum("nohw,nchwij->ocij", upstream, windows), rtol=1e-4, atol=1e-3)
    assert_tensor(layer.bias.grad, upstream.sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-3)
    # Input gradient: every output position sends grad * kernel back onto its window.
    grad_xp = np.zeros_like(xp)
    per_window = np.einsum("nohw,ocij->nchwij", upstream, weight.astype(np.float64))
    for i in range(5):
        for j in range(5):
            grad_xp[:, :, i:i + 2 * (out.shape[2] - 1) + 1:2, j:j + 2 * (out.shape[3] - 1) + 1:2] += per_window[..., i, j]
    assert_tensor(inputs.grad, grad_xp[:, :, 2:-2, 2:-2], rtol=1e-4, atol=1e-3)


def test_cnn_stack_sends_gradients_to_every_parameter():
    model = Sequential(Conv2d(1, 4, 3, padding=1, seed=0), ReLU(), MaxPool2d(2), Conv2d(4, 3, 3, seed=1), ReLU(),
                       AvgPool2d(2), Flatten(), Linear(3, 2, seed=2))
    x = Tensor(np.random.default_rng(0).normal(size=(5, 1, 8, 8)).astype(np.float32))
    CrossEntropyLoss()(model(x), np.array([0, 1, 1, 0, 1])).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.shape == parameter.shape, name
        assert np.abs(values(parameter.grad)).sum() > 0, f"{name} received an all-zero gradient"


def test_conv2d_under_no_grad_records_nothing():
    layer = Conv2d(2, 2, 3, seed=0)
    with no_grad():
        out = layer(Tensor(np.ones((1, 2, 4, 4), dtype=np.float32)))
    assert not out.requires_grad
    np.testing.assert_allclose(values(out), window_oracle(np.ones((1, 2, 4, 4)), values(layer.weight),
                                                          values(layer.bias)), rtol=1e-5)


# ---------------------------------------------------------------- pooling
@pytest.mark.points(2)
@settings(max_examples=examples(15))
@given(data=st.data(), k=st.integers(2, 3), stride=st.integers(1, 2))
def test_overlapping_and_strided_pooling_gradients(data, k, stride):
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), data.draw(st.integers(k, 6)),
             data.draw(st.integers(k, 6)))
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(-500, 500).map(lambda i: i / 100), unique=True))
    # stride 1 < kernel: windows overlap and one input can be the maximum of several windows.
    check_gradients(lambda t: MaxPool2d(k, stride)(t), x)
    check_gradients(lambda t: AvgPool2d(k, stride)(t), x)


def test_max_pool_gradient_accumulates_over_windows_sharing_a_maximum():
    x = Tensor(np.array([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]]), requires_grad=True)
    MaxPool2d(2, stride=1)(x).sum().backward()  # the 9 is the maximum of all four windows
    assert_tensor(x.grad, [[[[0.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]]]])


def test_pooling_rectangular_windows_and_ragged_border():
    x = np.arange(2 * 7 * 9, dtype=np.float32).reshape(1, 2, 7, 9)
    assert_tensor(MaxPool2d((2, 3))(Tensor(x)), x[:, :, :6, :9].reshape(1, 2, 3, 2, 3, 3).max(axis=(3, 5)))
    assert_tensor(AvgPool2d(2)(Tensor(x)), x[:, :, :6, :8].reshape(1, 2, 3, 2, 4, 2).mean(axis=(3, 5)))


@pytest.mark.parametrize("kind", [MaxPool2d, AvgPool2d], ids=["max", "avg"])
def test_pooling_rejects_bad_inputs(kind):
    layer = kind(2)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        layer(Tensor(np.zeros((4, 4), dtype=np.float32)))
    with pytest.raises(ValueError):
        layer(Tensor(np.zeros((1, 1, 1, 5), dtype=np.float32)))  # the 2x2 window does not fit
    with pytest.raises(ValueError, match="kernel_size"):
        kind(0)
    with pytest.raises(ValueError, match="stride"):
        kind(2, stride=0)


def test_flatten_rejects_a_tensor_without_batch_dimension():
    with pytest.raises(ValueError):
        Flatten()(Tensor(np.zeros(5, dtype=np.float32)))


# ---------------------------------------------------------------- counts and errors
@given(c_in=st.integers(1, 64), c_out=st.integers(1, 64), k=st.integers(1, 7), bias=st.booleans(),
       h=st.integers(1, 32), w=st.integers(1, 32))
def test_parameter_count_formulas(c_in, c_out, k, bias, h, w):
    assert conv_parameter_count(c_in, c_out, k, bias=bias) == c_out * c_in * k * k + (c_out if bias else 0)
    assert conv_parameter_count(c_in, c_out, k, bias=bias) == Conv2d(c_in, c_out, k, bias=bias).num_parameters()
    assert dense_equivalent_parameter_count((c_in, h, w), c_out, bias=bias) == c_in * h * w * c_out + c_out * bias


@given(n=st.integers(1, 4), c_in=st.integers(1, 4), c_out=st.integers(1, 4), h=st.integers(3, 12),
       w=st.integers(3, 12), k=st.integers(1, 3), stride=st.integers(1, 3), padding=st.integers(0, 2))
def test_mac_count_is_the_number_of_innermost_loop_iterations(n, c_in, c_out, h, w, k, stride, padding):
    rows = len(range(0, h + 2 * padding - k + 1, stride))
    cols = len(range(0, w + 2 * padding - k + 1, stride))
    assert conv2d_macs((n, c_in, h, w), c_out, k, stride, padding) == n * c_out * rows * cols * c_in * k * k
    assert im2col_bytes((n, c_in, h, w), k, stride, padding) == c_in * k * k * n * rows * cols * 4
    assert im2col_bytes((n, c_in, h, w), k, stride, padding, dtype=np.float64) == c_in * k * k * n * rows * cols * 8


def test_seeds_make_initial_weights_reproducible_and_distinct():
    first, again, other = (values(Conv2d(4, 8, 3, seed=s).weight) for s in (11, 11, 12))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_explicit_loops_reject_mismatched_operands():
    with pytest.raises(ValueError) as error:
        conv2d_explicit(np.zeros((1, 3, 5, 5)), np.zeros((2, 4, 3, 3)))
    assert "3" in str(error.value) and "4" in str(error.value)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        conv2d_explicit(np.zeros((3, 5, 5)), np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError):
        conv2d_explicit(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))  # kernel does not fit


def test_conv2d_rejects_a_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError) as error:
        Conv2d(1, 1, 5)(Tensor(np.zeros((1, 1, 3, 3), dtype=np.float32)))
    assert "5" in str(error.value) and "3" in str(error.value)
    assert Conv2d(1, 1, 5, padding=1)(Tensor(np.zeros((1, 1, 3, 3), dtype=np.float32))).shape == (1, 1, 1, 1)
