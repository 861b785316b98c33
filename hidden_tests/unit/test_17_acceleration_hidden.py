"""Module 17 -- Acceleration: held-out checks (not shipped to students).

Oracles are written here independently of spec/ (a sum of products per kernel offset over strided
slices of the zero-padded input; gradients from float64 central finite differences of that oracle).
Timing functions are driven by a fake clock; nothing asserts real speed.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spec.support import examples, float_arrays, numerical_gradient
from tinytorch.perf.acceleration import (bias_relu_unfused, conv2d_backward_explicit, conv2d_im2col,
                                         conv2d_im2col_backward, convolution_speedup, fused_bias_relu, fused_gelu,
                                         fusion_temporaries, gelu_unfused, tile_schedule, tiled_matmul,
                                         traversal_times)

pytestmark = pytest.mark.module(17)


def offset_oracle(x, weight, bias=None, stride=1, padding=0):
    """Cross-correlation as one product per kernel offset (i, j) over strided slices, float64."""
    xp = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    weight = np.asarray(weight, dtype=np.float64)
    k_h, k_w = weight.shape[2:]
    h_out, w_out = (xp.shape[2] - k_h) // stride + 1, (xp.shape[3] - k_w) // stride + 1
    out = np.zeros((x.shape[0], weight.shape[0], h_out, w_out))
    for i in range(k_h):
        for j in range(k_w):
            patch = xp[:, :, i:i + stride * (h_out - 1) + 1:stride, j:j + stride * (w_out - 1) + 1:stride]
            out += np.tensordot(patch, weight[:, :, i, j], axes=([1], [1])).transpose(0, 3, 1, 2)
    return out if bias is None else out + np.asarray(bias, dtype=np.float64)[None, :, None, None]


def clock_from(durations, start=512.0):
    """A fake timer: successive (start, stop) readings, stop - start = each duration in turn (exact)."""
    readings, now = [], start
    for duration in durations:
        readings += [now, now + duration]
        now += duration + 0.5
    calls = []

    def timer():
        assert len(calls) < len(readings), "the timer was called more often than the documented schedule"
        calls.append(1)
        return readings[len(calls) - 1]

    timer.calls = calls
    return timer


# ---------------------------------------------------------------- convolution
@settings(max_examples=examples(15))
@given(data=st.data(), use_bias=st.booleans())
def test_forward_with_rectangular_kernels_and_strides(data, use_bias):
    k_h, k_w = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 2))
    stride, padding = data.draw(st.integers(1, 3)), data.draw(st.integers(0, 1))
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)),
             data.draw(st.integers(max(1, k_h - 2 * padding), 8)), data.draw(st.integers(max(1, k_w - 2 * padding), 9)))
    c_out = data.draw(st.integers(1, 4))
    x = data.draw(float_arrays(shape, dtype=np.float64, magnitude=3))
    weight = data.draw(float_arrays((c_out, shape[1], k_h, k_w), dtype=np.float64, magnitude=2))
    bias = data.draw(float_arrays((c_out,), dtype=np.float64, magnitude=2)) if use_bias else None
    np.testing.assert_allclose(conv2d_im2col(x, weight, bias, stride, padding),
                               offset_oracle(x, weight, bias, stride, padding), rtol=1e-10, atol=1e-10)


@pytest.mark.points(2)
@pytest.mark.parametrize("shape, c_out, k, stride, padding", [
    ((2, 2, 5, 5), 2, 3, 2, 1),   # stride 2 with padding
    ((1, 1, 7, 6), 2, 2, 3, 0),   # ragged edge: the last rows/cols are never covered
    ((1, 2, 3, 3), 1, 3, 1, 0),   # kernel as large as the image: one output position
    ((1, 1, 3, 4), 2, 4, 1, 2),   # padding larger than half the kernel
], ids=["stride-2-padded", "ragged-edge", "kernel-fills-image", "padding-over-half-kernel"])
def test_backward_with_stride_and_padding_matches_finite_differences_and_loops(shape, c_out, k, stride, padding):
    rng = np.random.default_rng(sum(shape) + 10 * k + stride + padding)
    x, weight = rng.normal(size=shape), rng.normal(size=(c_out, shape[1], k, k))
    grad_out = rng.normal(size=offset_oracle(x, weight, None, stride, padding).shape)
    expected = (
        numerical_gradient(lambda v: np.sum(offset_oracle(v, weight, None, stride, padding) * grad_out), x),
        numerical_gradient(lambda v: np.sum(offset_oracle(x, v, None, stride, padding) * grad_out), weight),
        grad_out.sum(axis=(0, 2, 3)),
    )
    for function in (conv2d_im2col_backward, conv2d_backward_explicit):
        for name, got, want in zip(("grad_x", "grad_weight", "grad_bias"),
                                   function(x, weight, grad_out, stride, padding), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{function.__name__} {name}")


def test_float32_backward_keeps_float32_and_agrees_with_float64():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 6, 5)).astype(np.float32)
    weight = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    grad_out = rng.normal(size=(2, 4, 3, 3)).astype(np.float32)  # stride 2, padding 1: (6+2-3)//2+1, (5+2-2)//2+1
    exact = conv2d_backward_explicit(x.astype(np.float64), weight.astype(np.float64), grad_out.astype(np.float64), 2, 1)
    for function in (conv2d_im2col_backward, conv2d_backward_explicit):
        got = function(x, weight, grad_out, 2, 1)
        for name, g, e in zip(("grad_x", "grad_weight", "grad_bias"), got, exact):
            assert g.dtype == np.float32, f"{function.__name__}: {name} must stay float32, got {g.dtype}"
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4, err_msg=f"{function.__name__} {name}")
    np.testing.assert_allclose(conv2d_im2col(x, weight, None, 2, 1), offset_oracle(x, weight, None, 2, 1),
                               rtol=1e-4, atol=1e-4)
    assert conv2d_im2col(x, weight, None, 2, 1).dtype == np.float32


def test_convolutions_reject_mismatched_operands():
    cases = [
        (lambda: conv2d_im2col(np.ones((1, 3, 5, 5)), np.ones((2, 4, 3, 3))), ["3", "4"]),  # channels differ
        (lambda: conv2d_im2col(np.ones((3, 5, 5)), np.ones((2, 3, 3, 3))), ["(N, C, H, W)"]),  # not 4-D
        (lambda: conv2d_im2col(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), np.ones(3)), ["bias"]),
        (lambda: conv2d_im2col(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))), ["3"]),  # kernel does not fit
        (lambda: conv2d_backward_explicit(np.ones((1, 2, 4, 4)), np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))),
         ["1", "2"]),
    ]
    for call, words in cases:
        with pytest.raises(ValueError) as caught:
            call()
        for word in words:
            assert word in str(caught.value), f"the error should mention {word}: {caught.value}"


# ---------------------------------------------------------------- measured speedup
def test_convolution_speedup_full_batch_with_a_fake_clock():
    loops, fast = [0.25, 0.375, 0.5], [0.125, 0.0625, 0.125]
    timer = clock_from([d for pair in zip(loops, fast) for d in pair])
    result = convolution_speedup((2, 1, 4, 4), (1, 1, 2, 2), repeats=3, timer=timer)
    assert len(timer.calls) == 12
    assert result["extrapolated"] is False and result["loop_batch"] == 2
    assert result["loop_seconds"] == result["loop_measured_seconds"] == 0.25
    assert result["im2col_seconds"] == 0.0625
    assert result["speedup"] == pytest.approx(4.0, rel=1e-12)
    assert result["macs"] == 2 * 1 * 3 * 3 * 1 * 2 * 2


def test_convolution_speedup_scales_by_batch_over_loop_batch():
    timer = clock_from([0.5, 0.125])  # one repeat: loops on 2 of 6 images, then im2col
    result = convolution_speedup((6, 2, 3, 3), (1, 2, 3, 3), repeats=1, loop_batch=2, timer=timer)
    assert result["loop_seconds"] == pytest.approx(0.5 * 6 / 2, rel=1e-12)
    assert result["speedup"] == pytest.approx(1.5 / 0.125, rel=1e-12)
    assert result["extrapolated"] is True and (result["batch"], result["loop_batch"]) == (6, 2)
    assert 0 <= result["max_abs_difference"] < 1e-4


def test_convolution_speedup_rejects_bad_arguments():
    for kwargs, error, word in [
        ({"loop_batch": 0}, ValueError, "loop_batch"),
        ({"loop_batch": 5}, ValueError, "loop_batch"),  # more images than the batch holds
        ({"repeats": 0}, ValueError, "repeats"),
        ({"timer": 3.0}, TypeError, "timer"),
        ({"weight_shape": (2, 3, 3, 3)}, ValueError, "3"),  # 3 input channels for a 1-channel batch
    ]:
        arguments = {"x_shape": (2, 1, 5, 5), "weight_shape": (2, 1, 3, 3), "repeats": 1, **kwargs}
        with pytest.raises(error, match=word):
            convolution_speedup(**arguments)


def test_timers_that_do_not_advance_or_run_backwards_are_refused():
    with pytest.raises(ValueError):  # im2col took 0 seconds: no ratio
        convolution_speedup((1, 1, 3, 3), (1, 1, 2, 2), repeats=1, timer=clock_from([0.5, 0.0]))
    with pytest.raises(ValueError):  # the clock went backwards
        traversal_times(n=3, repeats=1, timer=clock_from([-0.25, 0.5]))
    with pytest.raises(ValueError):  # the rows took 0 seconds
        traversal_times(n=3, repeats=1, timer=clock_from([0.0, 0.5]))


# ---------------------------------------------------------------- fusion
def test_fused_bias_relu_on_feature_maps_with_a_per_channel_bias():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, 3, 4, 5))
    bias = rng.normal(size=(3, 1, 1))
    expected = np.maximum(x + bias, 0)
    np.testing.assert_array_equal(fused_bias_relu(x, bias), expected)
    np.testing.assert_array_equal(bias_relu_unfused(x, bias), expected)
    mixed = fused_bias_relu(x.astype(np.float32), bias)  # float32 + float64 -> float64, like x + bias
    assert mixed.dtype == np.float64


def test_bias_that_would_change_the_shape_is_rejected():
    for function in (fused_bias_relu, bias_relu_unfused):
        with pytest.raises(ValueError) as error:
            function(np.ones((2, 3)), np.ones(4))
        assert "(4,)" in str(error.value) and "(2, 3)" in str(error.value), str(error.value)
        with pytest.raises(ValueError):
            function(np.ones(3), np.ones((2, 3)))  # broadcasting would grow x to (2, 3)


def gelu_float64(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def test_gelu_limits_and_integer_input():
    x, ints = np.array([-60.0, -3.0, 0.0, 1.0, 60.0]), np.array([-2, 0, 3])
    for function in (fused_gelu, gelu_unfused):
        got = function(x)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, gelu_float64(x), rtol=1e-11, atol=1e-300, err_msg=function.__name__)
        assert got[2] == 0.0 and got[4] == 60.0 and abs(got[0]) < 1e-12, (function.__name__, got)
        from_ints = function(ints)
        assert from_ints.dtype == np.float32, f"{function.__name__}: integer input gives float32, got {from_ints.dtype}"
        np.testing.assert_allclose(from_ints, gelu_float64(ints), rtol=1e-5, atol=1e-6)


@pytest.mark.points(2)
def test_temporary_counts_are_stable_and_do_not_depend_on_the_size():
    rng = np.random.default_rng(1)
    x, bias = rng.normal(size=(512, 512)).astype(np.float32), rng.normal(size=512).astype(np.float32)  # 1 MiB
    first, second = fusion_temporaries(x, bias), fusion_temporaries(x, bias)
    for name in first:
        assert abs(first[name]["extra_arrays"] - second[name]["extra_arrays"]) < 0.01, (
            f"{name}: the same call must give the same count every time", first[name], second[name])
    # The documented chains: GELU keeps seven temporaries the size of x alive until it returns; the
    # bias + ReLU chain keeps the biased copy (float32, 1 array) and its mask (bool, 1/4 of an array).
    assert 6.5 <= first["gelu_unfused"]["extra_arrays"] <= 7.5, first["gelu_unfused"]
    assert 1.0 <= first["bias_relu_unfused"]["extra_arrays"] <= 1.5, first["bias_relu_unfused"]
    doubled = fusion_temporaries(np.concatenate([x, x]), bias)
    for name in first:
        assert abs(doubled[name]["extra_arrays"] - first[name]["extra_arrays"]) < 0.1, (
            f"{name}: a count of result-sized arrays does not depend on their size", first[name], doubled[name])
        assert doubled[name]["result_bytes"] == 2 * x.nbytes
    float64 = fusion_temporaries(x.astype(np.float64), bias.astype(np.float64))
    assert float64["fused_gelu"]["result_bytes"] == 8 * x.size and float64["fused_gelu"]["extra_arrays"] < 0.1


def test_fusion_temporaries_checks_the_bias():
    with pytest.raises(ValueError):
        fusion_temporaries(np.ones((4, 3)), np.ones(5))


# ---------------------------------------------------------------- tiling
@pytest.mark.points(2)
def test_tiled_matmul_edge_cases_exactly_with_integers():
    for m, k, n, tile in [
        (5, 4, 3, 64),    # tile larger than every dimension: one block
        (3, 2, 4, 1),     # 1x1 tiles: one block per (row, column, inner index)
        (37, 29, 23, 8),  # no dimension divisible by the tile
        (3, 0, 2, 4),     # empty inner dimension: the product is all zeros
    ]:
        rng = np.random.default_rng(m * 100 + k * 10 + n)
        a, b = rng.integers(-9, 10, size=(m, k)), rng.integers(-9, 10, size=(k, n))
        got = tiled_matmul(a, b, tile=tile)
        assert got.shape == (m, n) and got.dtype.kind == "i", (m, k, n, tile, got.shape, got.dtype)
        expected = np.zeros((m, n), dtype=np.int64)
        for p in range(k):  # one rank-1 update per inner index, in integers: exact
            expected += np.outer(a[:, p], b[p, :])
        np.testing.assert_array_equal(got, expected, err_msg=f"m={m}, k={k}, n={n}, tile={tile}")
        assert len(tile_schedule(m, n, k, tile)) == math.ceil(m / tile) * math.ceil(n / tile) * math.ceil(k / tile)


def test_tile_schedule_order_and_single_block():
    assert tile_schedule(3, 1, 2, 2) == [(slice(0, 2), slice(0, 1), slice(0, 2)),
                                         (slice(2, 3), slice(0, 1), slice(0, 2))]
    assert tile_schedule(4, 5, 6, 10) == [(slice(0, 4), slice(0, 5), slice(0, 6))]
    # Row tiles outermost, then column tiles, the inner dimension innermost.
    assert tile_schedule(2, 2, 2, 1)[:3] == [(slice(0, 1), slice(0, 1), slice(0, 1)),
                                            (slice(0, 1), slice(0, 1), slice(1, 2)),
                                            (slice(0, 1), slice(1, 2), slice(0, 1))]
    assert tile_schedule(0, 3, 3, 2) == []


def test_tile_must_be_a_positive_integer():
    for tile in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="tile"):
            tiled_matmul(np.ones((2, 2)), np.ones((2, 2)), tile=tile)
        with pytest.raises(ValueError, match="tile"):
            tile_schedule(2, 2, 2, tile)


def test_float32_tiled_matmul_stays_float32_and_accumulates_in_blocks():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(33, 70)).astype(np.float32), rng.normal(size=(70, 17)).astype(np.float32)
    got = tiled_matmul(a, b, tile=16)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- cache locality
def test_traversal_times_picks_the_fastest_run_and_counts_exactly():
    timer = clock_from([0.25, 1.0, 0.125, 2.0])  # repeat 1: rows 0.25, columns 1.0; repeat 2: rows 0.125, columns 2.0
    result = traversal_times(n=1, repeats=2, timer=timer)
    assert len(timer.calls) == 8
    assert (result["row_seconds"], result["column_seconds"]) == (0.125, 1.0)
    assert result["ratio"] == 8.0
    assert result["row_sum"] == result["column_sum"] == 0.0
    assert result["matrix_bytes"] == 8 and result["column_step_bytes"] == 8


def test_traversal_times_rejects_bad_arguments():
    for kwargs, error in [({"n": 0}, ValueError), ({"n": 2.0}, ValueError), ({"repeats": 0}, ValueError),
                          ({"timer": "clock"}, TypeError)]:
        with pytest.raises(error):
            traversal_times(**{"n": 4, "repeats": 1, **kwargs})
