"""Module 17 -- Acceleration: the visible specification.

Run just this module:  pytest spec/test_17_acceleration.py     (or: kata test 17)
Every convolution is compared with a NumPy oracle written in this file (an einsum over the sliding
windows of the zero-padded input) and its gradients with float64 central finite differences of that
oracle. Nothing here asserts that anything is fast: the timing functions are driven by a fake clock
passed as `timer`, so the arithmetic of every ratio is checked exactly, and with the real clock only
the structure of the result is checked. Memory is different: `count_temporaries` measures bytes, not
time, and gives the same count every run, so the tests compare fused and unfused counts directly.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from spec.support import examples, float_arrays, float_dtypes, matmul_error_bound, numerical_gradient, values
from tinytorch.core.spatial import Conv2d, conv2d_explicit
from tinytorch.core.tensor import Tensor
from tinytorch.perf.acceleration import (bias_relu_unfused, conv2d_backward_explicit, conv2d_im2col,
                                         conv2d_im2col_backward, convolution_speedup, count_temporaries,
                                         fused_bias_relu, fused_gelu, fusion_temporaries, gelu_unfused, tile_schedule,
                                         tiled_matmul, traversal_times)

pytestmark = pytest.mark.module(17)


# ---------------------------------------------------------------- oracles written for the tests
def pad(x, padding):
    return np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def windows(x, k_h, k_w, stride, padding):
    """Every receptive field: shape (N, C, H_out, W_out, K_h, K_w), float64."""
    return sliding_window_view(pad(x, padding), (k_h, k_w), axis=(2, 3))[:, :, ::stride, ::stride]


def correlate(x, weight, bias=None, stride=1, padding=0):
    """out[n, o, h, w] = bias[o] + sum_{c,i,j} x_pad[n, c, h*stride+i, w*stride+j] * weight[o, c, i, j]."""
    out = np.einsum("nchwij,ocij->nohw", windows(x, *weight.shape[2:], stride, padding),
                    np.asarray(weight, dtype=np.float64))
    return out if bias is None else out + np.asarray(bias, dtype=np.float64)[None, :, None, None]


def conv_gradients(x, weight, grad_out, stride, padding):
    """Closed forms: grad_x (each output sends grad * kernel back onto its window), grad_weight, grad_bias."""
    grad_out, weight = np.asarray(grad_out, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    k_h, k_w = weight.shape[2:]
    h_out, w_out = grad_out.shape[2:]
    grad_weight = np.einsum("nohw,nchwij->ocij", grad_out, windows(x, k_h, k_w, stride, padding))
    grad_padded = np.zeros(pad(x, padding).shape)
    for i in range(k_h):
        for j in range(k_w):
            grad_padded[:, :, i:i + stride * (h_out - 1) + 1:stride, j:j + stride * (w_out - 1) + 1:stride] += \
                np.einsum("nohw,oc->nchw", grad_out, weight[:, :, i, j])
    height, width = x.shape[2:]
    grad_x = grad_padded[:, :, padding:padding + height, padding:padding + width]
    return grad_x, grad_weight, grad_out.sum(axis=(0, 2, 3))


@st.composite
def conv_cases(draw, max_batch=2, max_channels=2, max_side=6, max_kernel=3, max_stride=2, max_padding=2,
               dtype=np.float64):
    """(x, weight, bias, stride, padding), the kernel fitting inside the padded input."""
    n, c_in, c_out = (draw(st.integers(1, top)) for top in (max_batch, max_channels, max_channels))
    k_h, k_w = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride, padding = draw(st.integers(1, max_stride)), draw(st.integers(0, max_padding))
    h = draw(st.integers(max(1, k_h - 2 * padding), max_side))
    w = draw(st.integers(max(1, k_w - 2 * padding), max_side))
    x = draw(float_arrays((n, c_in, h, w), dtype=dtype, magnitude=3))
    weight = draw(float_arrays((c_out, c_in, k_h, k_w), dtype=dtype, magnitude=1))
    bias = draw(float_arrays((c_out,), dtype=dtype, magnitude=1))
    return x, weight, bias, stride, padding


def output_shape(x, weight, stride, padding):
    return (x.shape[0], weight.shape[0], (x.shape[2] + 2 * padding - weight.shape[2]) // stride + 1,
            (x.shape[3] + 2 * padding - weight.shape[3]) // stride + 1)


def conv_error_bound(x, weight, bias, stride, padding):
    """Rounding a correct convolution in x's dtype may add: ~ (terms) * eps * (the sum over |values|)."""
    terms = weight[0].size + 1
    finfo = np.finfo(x.dtype)
    magnitude = correlate(np.abs(x), np.abs(weight), None if bias is None else np.abs(bias), stride, padding)
    return 2 * terms * float(finfo.eps) * magnitude + terms * float(finfo.tiny)


class FakeClock:
    """A timer that reads the clock values given, one per call, and counts its calls.

    Built from the durations of successive timed runs: run r starts at a reading t and stops at
    t + durations[r]; the next run starts a quarter second later. All values are multiples of a
    power of two, so every difference is exact in float64.
    """

    def __init__(self, durations, start=1024.0):
        self.readings, now = [], start
        for duration in durations:
            self.readings += [now, now + duration]
            now += duration + 0.25
        self.calls = 0

    def __call__(self):
        assert self.calls < len(self.readings), (
            f"the timer was called more than the {len(self.readings)} times the documented schedule allows")
        self.calls += 1
        return self.readings[self.calls - 1]


def interleave(first, second):
    return [value for pair in zip(first, second) for value in pair]


# ---------------------------------------------------------------- im2col convolution: forward
@pytest.mark.points(3)
@settings(max_examples=examples(15))
@given(case=conv_cases())
def test_im2col_forward_matches_oracle_seven_loops_and_conv2d_layer(case):
    x, weight, bias, stride, padding = case
    got = conv2d_im2col(x, weight, bias, stride=stride, padding=padding)
    expected = correlate(x, weight, bias, stride, padding)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == expected.shape, (
        f"expected a float64 array of shape {expected.shape}, got {type(got).__name__} "
        f"{getattr(got, 'dtype', '')} {getattr(got, 'shape', '')}")
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    # The same numbers as module 09's seven loops and its Conv2d layer.
    np.testing.assert_allclose(got, conv2d_explicit(x, weight, bias, stride, padding), rtol=1e-10, atol=1e-10)
    layer = Conv2d(x.shape[1], weight.shape[0], weight.shape[2:], stride=stride, padding=padding, seed=0)
    layer.weight.data, layer.bias.data = np.array(weight), np.array(bias)
    np.testing.assert_allclose(got, values(layer(Tensor(x))), rtol=1e-10, atol=1e-10)


@settings(max_examples=examples(15))
@given(dtype=float_dtypes, data=st.data(), use_bias=st.booleans())
def test_im2col_forward_keeps_the_dtype_with_and_without_bias(dtype, data, use_bias):
    x, weight, bias, stride, padding = data.draw(conv_cases(max_channels=3, max_side=8, dtype=dtype))
    bias = bias if use_bias else None
    got = conv2d_im2col(x, weight, bias, stride, padding)
    assert got.dtype == dtype, f"float32 stays float32 and float64 stays float64: expected {np.dtype(dtype)}, got {got.dtype}"
    expected = correlate(x, weight, bias, stride, padding)
    assert got.shape == expected.shape
    assert (np.abs(got - expected) <= conv_error_bound(x, weight, bias, stride, padding)).all(), (
        "conv2d_im2col disagrees with the convolution oracle by more than rounding allows")


# ---------------------------------------------------------------- im2col convolution: backward
@pytest.mark.points(3)
@settings(max_examples=examples(10))
@given(case=conv_cases(max_side=5), seed=st.integers(0, 2**16))
def test_backward_matches_float64_finite_differences(case, seed):
    x, weight, bias, stride, padding = case
    grad_out = np.random.default_rng(seed).normal(size=output_shape(x, weight, stride, padding))
    # The scalar loss L = sum(conv(x, weight, bias) * grad_out) has exactly these gradients.
    numeric_x = numerical_gradient(lambda v: np.sum(correlate(v, weight, bias, stride, padding) * grad_out), x)
    numeric_w = numerical_gradient(lambda v: np.sum(correlate(x, v, bias, stride, padding) * grad_out), weight)
    numeric_b = numerical_gradient(lambda v: np.sum(correlate(x, weight, v, stride, padding) * grad_out), bias)
    for function in (conv2d_im2col_backward, conv2d_backward_explicit):
        grad_x, grad_w, grad_b = function(x, weight, grad_out, stride, padding)
        for name, got, numeric in (("grad_x", grad_x, numeric_x), ("grad_weight", grad_w, numeric_w),
                                   ("grad_bias", grad_b, numeric_b)):
            assert np.shape(got) == numeric.shape, f"{function.__name__}: {name} must have shape {numeric.shape}"
            np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{function.__name__}: {name} disagrees with finite differences")


@pytest.mark.points(2)
@settings(max_examples=examples(15))
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_backward_im2col_equals_the_explicit_loops_and_closed_forms(case, seed):
    x, weight, _, stride, padding = case
    grad_out = np.random.default_rng(seed).normal(size=output_shape(x, weight, stride, padding))
    expected = conv_gradients(x, weight, grad_out, stride, padding)
    fast = conv2d_im2col_backward(x, weight, grad_out, stride, padding)
    loops = conv2d_backward_explicit(x, weight, grad_out, stride, padding)
    for name, want, got_fast, got_loops in zip(("grad_x", "grad_weight", "grad_bias"), expected, fast, loops):
        assert got_fast.dtype == got_loops.dtype == np.float64, f"{name}: float64 operands give float64 gradients"
        np.testing.assert_allclose(got_fast, want, rtol=1e-10, atol=1e-10, err_msg=f"conv2d_im2col_backward {name}")
        np.testing.assert_allclose(got_loops, want, rtol=1e-10, atol=1e-10, err_msg=f"conv2d_backward_explicit {name}")


@pytest.mark.parametrize("function", [conv2d_im2col_backward, conv2d_backward_explicit],
                         ids=["im2col", "explicit"])
def test_backward_hand_example(function):
    # A 2x2 kernel of ones on a 3x3 image of ones, every output receiving gradient 1: each pixel's
    # gradient counts the windows covering it, each weight's gradient sums its 4 windows' pixels.
    grad_x, grad_w, grad_b = function(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(grad_x, [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]])
    np.testing.assert_array_equal(grad_w, np.full((1, 1, 2, 2), 4.0))
    np.testing.assert_array_equal(grad_b, [4.0])


@pytest.mark.parametrize("function", [conv2d_im2col_backward, conv2d_backward_explicit],
                         ids=["im2col", "explicit"])
def test_backward_rejects_grad_out_of_the_wrong_shape(function):
    with pytest.raises(ValueError) as error:
        function(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), np.ones((1, 2, 3, 3)))  # the output is (1, 2, 2, 2)
    message = str(error.value)
    assert "(1, 2, 2, 2)" in message and "(1, 2, 3, 3)" in message, (
        f"the error should name the expected (1, 2, 2, 2) and the actual (1, 2, 3, 3) shape: {message}")


# ---------------------------------------------------------------- measured speedup
@pytest.mark.points(2)
def test_convolution_speedup_arithmetic_with_a_fake_clock_extrapolated():
    # 2 repeats, interleaved: loops, im2col, loops, im2col. The loops ran on 1 of 3 images.
    loops, fast = [0.75, 0.5], [0.03125, 0.0625]
    clock = FakeClock(interleave(loops, fast))
    result = convolution_speedup((3, 1, 5, 5), (2, 1, 3, 3), stride=1, padding=1, repeats=2, loop_batch=1,
                                 timer=clock)
    assert clock.calls == 8, f"expected the timer called twice per timed run (8 calls), got {clock.calls}"
    assert result["loop_measured_seconds"] == 0.5, "the fastest loop run, as measured on 1 image"
    assert result["loop_seconds"] == pytest.approx(0.5 * 3 / 1, rel=1e-12), "scaled linearly to 3 images"
    assert result["im2col_seconds"] == 0.03125, "the fastest im2col run"
    assert result["speedup"] == pytest.approx(1.5 / 0.03125, rel=1e-12)
    assert result["extrapolated"] is True and "extrapolated" in result["method"].lower()
    assert (result["batch"], result["loop_batch"], result["repeats"]) == (3, 1, 2)
    assert result["macs"] == 3 * 2 * 5 * 5 * 1 * 3 * 3  # N * C_out * H_out * W_out * C_in * K_h * K_w
    assert 0 <= result["max_abs_difference"] < 1e-4, "both implementations must compute the same convolution"


def test_convolution_speedup_on_the_real_clock_has_a_sane_structure():
    result = convolution_speedup((2, 2, 6, 6), (3, 2, 3, 3), stride=2, repeats=1)
    for key in ("loop_seconds", "loop_measured_seconds", "im2col_seconds", "speedup"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, (key, result[key])
    assert result["extrapolated"] is False and "extrapolated" not in result["method"].lower()
    assert result["loop_seconds"] == result["loop_measured_seconds"], "nothing is scaled when every image was timed"
    assert result["speedup"] == pytest.approx(result["loop_seconds"] / result["im2col_seconds"], rel=1e-12)
    assert result["loop_batch"] == result["batch"] == 2
    assert result["macs"] == 2 * 3 * 2 * 2 * 2 * 3 * 3


# ---------------------------------------------------------------- fusion
@st.composite
def rows_and_bias(draw, magnitude=10.0):
    dtype = draw(float_dtypes)
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return (draw(float_arrays((rows, cols), dtype=dtype, magnitude=magnitude)),
            draw(float_arrays((cols,), dtype=dtype, magnitude=magnitude)))


@given(operands=rows_and_bias())
def test_fused_bias_relu_equals_the_unfused_chain(operands):
    x, bias = operands
    expected = np.maximum(x + bias, 0)  # one rounding (the sum), then exact: results are identical
    for function in (bias_relu_unfused, fused_bias_relu):
        got = function(x, bias)
        assert got.dtype == x.dtype and got.shape == x.shape, (
            f"{function.__name__}: expected {x.dtype} {x.shape}, got {got.dtype} {got.shape}")
        np.testing.assert_array_equal(got, expected, err_msg=function.__name__)


def gelu_exact(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def gelu_bound(x):
    """Rounding of a dozen operations, the tanh argument growing like |x|^3: a few hundred ulps * (1 + |x|)^2."""
    return 32 * float(np.finfo(x.dtype).eps) * (1.0 + np.abs(x.astype(np.float64))) ** 2


@given(x=float_dtypes.flatmap(lambda dtype: float_arrays(dtype=dtype, magnitude=6, min_dims=1)))
def test_fused_gelu_equals_the_unfused_chain_and_the_formula(x):
    unfused, fused = gelu_unfused(x), fused_gelu(x)
    for name, got in (("gelu_unfused", unfused), ("fused_gelu", fused)):
        assert got.dtype == x.dtype and got.shape == x.shape, f"{name}: expected {x.dtype} {x.shape}, got {got.dtype} {got.shape}"
        error = np.abs(got.astype(np.float64) - gelu_exact(x))
        assert (error <= gelu_bound(x)).all(), f"{name} is further from 0.5 x (1 + tanh(...)) than rounding allows"
    assert (np.abs(fused.astype(np.float64) - unfused) <= 2 * gelu_bound(x)).all()


@pytest.mark.points(3)
def test_fused_functions_allocate_fewer_temporaries_measured():
    rng = np.random.default_rng(17)
    # 1 MiB arrays: NumPy may add a small fixed-size buffer (8192 elements) when it broadcasts the
    # bias; next to 1 MiB it does not count as a temporary the size of x.
    x = rng.normal(size=(256, 1024)).astype(np.float32)
    bias = rng.normal(size=1024).astype(np.float32)
    counts = fusion_temporaries(x, bias)
    names = ("bias_relu_unfused", "fused_bias_relu", "gelu_unfused", "fused_gelu")
    assert sorted(counts) == sorted(names), f"expected one count per function {names}, got keys {sorted(counts)}"
    for name, count in counts.items():
        assert count["result_bytes"] == x.nbytes, f"{name}: the result is a float32 array like x ({x.nbytes} bytes)"
        assert count["peak_bytes"] >= count["result_bytes"], f"{name}: the result itself was allocated during the call"
        assert count["extra_bytes"] == count["peak_bytes"] - count["result_bytes"], name
        assert count["extra_arrays"] == pytest.approx(count["extra_bytes"] / count["result_bytes"]), name
    # The unfused chains keep every step's array alive: at least the biased copy, and for GELU several.
    assert counts["bias_relu_unfused"]["extra_arrays"] >= 1.0, counts["bias_relu_unfused"]
    assert counts["gelu_unfused"]["extra_arrays"] >= 3.0, counts["gelu_unfused"]
    # The fused versions write in place into their result: no other array the size of x.
    assert counts["fused_bias_relu"]["extra_arrays"] < 0.5, counts["fused_bias_relu"]
    assert counts["fused_gelu"]["extra_arrays"] < 0.5, counts["fused_gelu"]


def test_count_temporaries_rejects_what_it_cannot_call():
    with pytest.raises(TypeError, match="callable"):
        count_temporaries(3.0)


# ---------------------------------------------------------------- tiling
@st.composite
def matrix_pairs(draw, max_side=20):
    dtype = draw(float_dtypes)
    m, k, n = (draw(st.integers(1, max_side)) for _ in range(3))
    return (draw(float_arrays((m, k), dtype=dtype, magnitude=10)), draw(float_arrays((k, n), dtype=dtype, magnitude=10)))


@pytest.mark.points(2)
@given(pair=matrix_pairs(), tile=st.integers(1, 24))
def test_tiled_matmul_equals_matmul(pair, tile):
    a, b = pair
    got = tiled_matmul(a, b, tile=tile)
    assert isinstance(got, np.ndarray) and got.dtype == a.dtype and got.shape == (a.shape[0], b.shape[1]), (
        f"expected a {a.dtype} array of shape {(a.shape[0], b.shape[1])}")
    exact = a.astype(np.float64) @ b.astype(np.float64)
    error = np.abs(got.astype(np.float64) - exact)
    assert (error <= matmul_error_bound(a, b)).all(), "tiled_matmul is further from a @ b than rounding allows"


@pytest.mark.points(2)
@given(m=st.integers(0, 12), n=st.integers(0, 12), k=st.integers(0, 12), tile=st.integers(1, 7))
def test_tile_schedule_covers_every_inner_sum_exactly_once(m, n, k, tile):
    blocks = tile_schedule(m, n, k, tile)
    assert len(blocks) == math.ceil(m / tile) * math.ceil(n / tile) * math.ceil(k / tile)
    covered = np.zeros((m, n, k), dtype=int)  # covered[r, c, p]: how often a[r, p] * b[p, c] is added to out[r, c]
    for block in blocks:
        assert len(block) == 3 and all(isinstance(s, slice) for s in block), f"expected 3 slices, got {block!r}"
        for s, size in zip(block, (m, n, k)):
            assert s.step in (None, 1) and 0 <= s.start < s.stop <= size and s.stop - s.start <= tile, (
                f"block {block!r}: every slice must lie inside its dimension and be at most tile={tile} long")
        rows, cols, inner = block
        covered[rows, cols, inner] += 1
    np.testing.assert_array_equal(covered, 1, err_msg="every (row, column, inner index) must be covered exactly once")


def test_tiled_matmul_hand_example_with_one_by_one_tiles():
    a, b = np.array([[1, 2], [3, 4]]), np.array([[5, 6], [7, 8]])
    got = tiled_matmul(a, b, tile=1)
    np.testing.assert_array_equal(got, [[19, 22], [43, 50]])
    assert got.dtype.kind == "i", "integer matrices give an exact integer product"


@pytest.mark.parametrize("a_shape, b_shape, tile, words", [
    ((2, 3), (4, 2), 2, ["(2, 3)", "(4, 2)"]),
    ((2, 3), (3, 2), 0, ["tile"]),
    ((3,), (3, 2), 2, ["(3,)"]),
], ids=["inner-sizes-differ", "tile-0", "not-a-matrix"])
def test_tiled_matmul_rejects_bad_operands(a_shape, b_shape, tile, words):
    with pytest.raises(ValueError) as error:
        tiled_matmul(np.ones(a_shape), np.ones(b_shape), tile=tile)
    for word in words:
        assert word in str(error.value), f"the error should mention {word}: {error.value}"


# ---------------------------------------------------------------- cache locality
@pytest.mark.points(2)
def test_traversal_times_arithmetic_with_a_fake_clock():
    rows, columns = [0.5, 0.25, 0.375], [1.0, 0.75, 1.5]
    clock = FakeClock(interleave(rows, columns))  # for every repeat: rows, then columns
    result = traversal_times(n=4, repeats=3, timer=clock)
    assert clock.calls == 12, f"expected the timer called twice per timed traversal (12 calls), got {clock.calls}"
    assert (result["row_seconds"], result["column_seconds"]) == (0.25, 0.75), "the fastest run of each"
    assert result["ratio"] == pytest.approx(0.75 / 0.25, rel=1e-12)
    assert result["row_sum"] == result["column_sum"] == 16 * 15 / 2  # 0 + 1 + ... + 15
    assert result["n"] == 4 and result["matrix_bytes"] == 16 * 8
    assert (result["row_step_bytes"], result["column_step_bytes"]) == (8, 4 * 8)


def test_traversal_times_on_the_real_clock_sums_the_same_numbers():
    result = traversal_times(n=48, repeats=2)
    assert result["row_sum"] == result["column_sum"] == 48 * 48 * (48 * 48 - 1) / 2
    for key in ("row_seconds", "column_seconds", "ratio"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, (key, result[key])
    assert result["ratio"] == pytest.approx(result["column_seconds"] / result["row_seconds"], rel=1e-12)
    assert (result["row_step_bytes"], result["column_step_bytes"]) == (8, 48 * 8)
