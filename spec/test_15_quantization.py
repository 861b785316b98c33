"""Module 15 -- Quantization: the visible specification.

Run just this module:  pytest spec/test_15_quantization.py     (or: kata test 15)
Every expected number is computed here with NumPy from the formulas of the module docstring:
symmetric scale = max(|lo|, |hi|) / 127 with zero_point 0 and integers in [-127, 127]; asymmetric
scale = (max(hi, 0) - min(lo, 0)) / 255 with zero_point = round(-128 - min(lo, 0) / scale); scales
stored as float32, rounded up. Round trips are checked against scale / 2 plus the float32 rounding
of the dequantized value (a relative 2**-22).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import examples, float_arrays, values
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Module, Parameter, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.perf.quantization import (MAX_IN_FEATURES, QuantizedLinear, QuantizedTensor, asymmetric_params,
                                         calibrate, dequantize, model_bytes, quantize, quantize_model,
                                         symmetric_params)

pytestmark = pytest.mark.module(15)

FLOAT32_ROUNDING = 2.0 ** -22   # relative error allowed for a float32 result on top of the rounding to the grid


# ---------------------------------------------------------------- oracles written out here
def symmetric_scale(lo, hi):
    return np.maximum(np.abs(lo), np.abs(hi)) / 127.0


def asymmetric_scale(lo, hi):
    return (np.maximum(hi, 0.0) - np.minimum(lo, 0.0)) / 255.0


def assert_scale(got, exact):
    """A stored scale: float32, the shape of `exact`, rounded up from it by at most one float32 step."""
    got = np.asarray(got)
    exact = np.asarray(exact, dtype=np.float64)
    assert got.dtype == np.float32, f"scales are stored as float32, got {got.dtype}"
    assert got.shape == exact.shape, f"scale shape: expected {exact.shape}, got {got.shape}"
    normal = exact >= np.finfo(np.float32).tiny
    stored = got.astype(np.float64)
    assert (stored[normal] >= exact[normal]).all(), f"scale must be rounded UP to float32: {stored} < {exact}"
    np.testing.assert_allclose(stored[normal], exact[normal], rtol=2.5e-7, err_msg="scale formula")
    assert (stored > 0).all() and np.isfinite(stored).all(), f"every scale must be positive and finite, got {got}"


def along(param, axis, ndim):
    param = np.asarray(param)
    if axis is None:
        return param
    shape = [1] * ndim
    shape[axis] = -1
    return param.reshape(shape)


def assert_within_half_a_step(x, restored, scale, axis=None):
    restored = np.asarray(restored)
    assert restored.dtype == np.float32, f"dequantized values are float32, got {restored.dtype}"
    assert restored.shape == x.shape
    step = along(np.asarray(scale, dtype=np.float64), axis, x.ndim)
    error = np.abs(restored.astype(np.float64) - x.astype(np.float64))
    allowed = step / 2 + FLOAT32_ROUNDING * np.abs(x.astype(np.float64))
    bad = ~(error <= allowed)
    assert not bad.any(), (f"{int(bad.sum())} values came back further than scale/2 from where they started, e.g. "
                           f"{x[bad][0]!r} -> {restored[bad][0]!r}")


def ranges(x, axis):
    """The test's own min/max over every axis but `axis`."""
    over = None if axis is None else tuple(d for d in range(x.ndim) if d != axis)
    return x.min(axis=over).astype(np.float64), x.max(axis=over).astype(np.float64)


arrays_and_axis = float_arrays(min_dims=1, max_dims=3).flatmap(
    lambda x: st.tuples(st.just(x), st.none() | st.integers(0, x.ndim - 1)))
arrays_and_channel_axis = float_arrays(min_dims=1, max_dims=3).flatmap(
    lambda x: st.tuples(st.just(x), st.integers(0, x.ndim - 1)))


# ---------------------------------------------------------------- calibration
@given(arrays_and_axis)
def test_minmax_calibration_per_tensor_and_per_channel(case):
    x, axis = case
    lo, hi = calibrate(x, method="minmax", axis=axis)
    expected_lo, expected_hi = ranges(x, axis)
    for got, expected in ((lo, expected_lo), (hi, expected_hi)):
        got = np.asarray(got)
        assert got.dtype == np.float64 and got.shape == expected.shape, (
            f"per-{'tensor' if axis is None else 'channel'} range: expected float64 of shape {expected.shape}, "
            f"got {got.dtype} of shape {got.shape}")
        np.testing.assert_array_equal(got, expected)


def test_percentile_calibration_keeps_the_central_mass_and_ignores_an_outlier():
    x = np.concatenate([np.linspace(-1.0, 1.0, 999), [50.0]])
    lo, hi = calibrate(x, method="percentile", percentile=99.8)
    np.testing.assert_allclose([lo, hi], np.percentile(x, [0.1, 99.9]), rtol=1e-12)
    assert hi < 2.0, "the outlier 50.0 lies in the top 0.1% and must not stretch the range"
    assert calibrate(x)[1] == 50.0, "minmax keeps the outlier"
    grid = np.arange(60.0).reshape(3, 20) ** 2
    lo, hi = calibrate(grid, method="percentile", percentile=90.0, axis=0)
    np.testing.assert_allclose(np.stack([lo, hi]), np.percentile(grid, [5.0, 95.0], axis=1), rtol=1e-12)


# ---------------------------------------------------------------- scale and zero point
bounds = st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)).map(sorted)


@given(st.lists(bounds, min_size=1, max_size=4), st.booleans())
def test_symmetric_params_use_the_largest_magnitude(pairs, per_channel):
    lo, hi = np.array(pairs).T if per_channel else np.array(pairs[0])
    scale, zero_point = symmetric_params(lo, hi)
    assert_scale(scale, symmetric_scale(lo, hi))
    zero_point = np.asarray(zero_point)
    assert zero_point.dtype == np.int8 and zero_point.shape == np.shape(lo)
    assert (zero_point == 0).all(), "the symmetric scheme has zero_point 0"


@given(st.lists(bounds, min_size=1, max_size=4), st.booleans())
def test_asymmetric_params_widen_the_range_to_contain_zero(pairs, per_channel):
    lo, hi = np.array(pairs).T if per_channel else np.array(pairs[0])
    scale, zero_point = asymmetric_params(lo, hi)
    assert_scale(scale, asymmetric_scale(lo, hi))
    zero_point = np.asarray(zero_point)
    assert zero_point.dtype == np.int8 and zero_point.shape == np.shape(lo)
    expected = np.clip(np.rint(-128 - np.minimum(lo, 0.0) / np.asarray(scale, dtype=np.float64)), -128, 127)
    np.testing.assert_array_equal(zero_point, expected)


@given(st.lists(bounds, min_size=1, max_size=4), st.integers(1, 3))
def test_zero_is_exactly_representable_in_the_asymmetric_scheme(pairs, rows):
    lo, hi = np.array(pairs).T
    scale, zero_point = asymmetric_params(lo, hi)
    zeros = np.zeros((rows, len(pairs)))
    q = quantize(zeros, scale, zero_point, axis=1)
    np.testing.assert_array_equal(q, np.broadcast_to(zero_point, zeros.shape))
    back = dequantize(q, scale, zero_point, axis=1)
    assert back.dtype == np.float32 and (back == 0.0).all(), f"0 must come back as exactly 0.0, got {back}"


def test_a_hand_computed_example_of_both_schemes():
    scale, zero_point = asymmetric_params(-1.0, 2.0)   # scale 3/255, zero point round(-128 + 85) = -43
    assert int(zero_point) == -43
    q = quantize(np.array([-1.0, 0.0, 0.6, 2.0]), scale, zero_point)
    np.testing.assert_array_equal(q, [-128, -43, 8, 127])
    assert q.dtype == np.int8
    scale, zero_point = symmetric_params(-2.0, 1.27)   # scale 2/127: 1.27 -> 80.6 -> 81, 0.5 -> 31.75 -> 32
    np.testing.assert_array_equal(quantize(np.array([-2.0, 1.27, 0.5]), scale, zero_point, symmetric=True),
                                  [-127, 81, 32])


def test_a_zero_width_range_still_gets_a_usable_scale():
    for params in (symmetric_params, asymmetric_params):
        scale, zero_point = params(0.0, 0.0)
        assert np.asarray(scale).dtype == np.float32 and 0 < float(scale) < np.inf, (
            f"{params.__name__}(0, 0) must give a positive finite scale, got {scale}")
        q = quantize(np.zeros(3), scale, zero_point, symmetric=params is symmetric_params)
        np.testing.assert_array_equal(dequantize(q, scale, zero_point), np.zeros(3, dtype=np.float32))
    constant = QuantizedTensor.from_float(np.full(4, 3.0), symmetric=True)
    np.testing.assert_allclose(values(constant.dequantize()), np.full(4, 3.0), atol=1e-6)


# ---------------------------------------------------------------- quantize / dequantize round trips
@pytest.mark.points(2)
@given(x=float_arrays(min_dims=1), symmetric=st.booleans())
def test_round_trip_is_within_half_a_step_per_tensor(x, symmetric):
    lo, hi = float(x.min()), float(x.max())
    scale, zero_point = (symmetric_params if symmetric else asymmetric_params)(lo, hi)
    q = quantize(x, scale, zero_point, symmetric=symmetric)
    assert type(q) is np.ndarray and q.dtype == np.int8 and q.shape == x.shape, "quantize returns an int8 array"
    assert_within_half_a_step(x, dequantize(q, scale, zero_point), scale)


@pytest.mark.points(2)
@given(arrays_and_channel_axis, st.booleans())
def test_round_trip_is_within_half_a_step_per_channel(case, symmetric):
    x, axis = case
    lo, hi = ranges(x, axis)
    scale, zero_point = (symmetric_params if symmetric else asymmetric_params)(lo, hi)
    q = quantize(x, scale, zero_point, axis=axis, symmetric=symmetric)
    assert q.dtype == np.int8 and q.shape == x.shape
    assert_within_half_a_step(x, dequantize(q, scale, zero_point, axis=axis), scale, axis)


@given(bounds, st.booleans(), st.floats(0.0, 1e4))
def test_values_outside_the_range_clip_to_its_ends(pair, symmetric, beyond):
    lo, hi = pair
    scale, zero_point = (symmetric_params if symmetric else asymmetric_params)(lo, hi)
    step, zp = float(scale), int(zero_point)
    top = (127 - zp) * step                               # the largest representable value
    bottom = ((-127 if symmetric else -128) - zp) * step  # the smallest
    x = np.array([top + step + beyond, bottom - step - beyond, np.inf, -np.inf])
    q = quantize(x, scale, zero_point, symmetric=symmetric)
    expected = [127, -127 if symmetric else -128] * 2
    np.testing.assert_array_equal(q, expected, err_msg="values beyond the range clip to the range ends")
    np.testing.assert_allclose(dequantize(q, scale, zero_point), [top, bottom] * 2, rtol=1e-6)


@given(q=hnp.arrays(np.int8, hnp.array_shapes(max_dims=2, max_side=6)), log_scale=st.floats(-6, 3),
       zero_point=st.integers(-128, 127), symmetric=st.booleans())
def test_quantize_is_idempotent_on_representable_values(q, log_scale, zero_point, symmetric):
    if symmetric:
        q, zero_point = np.maximum(q, -127).astype(np.int8), 0
    scale = np.float32(10.0 ** log_scale)
    again = quantize(dequantize(q, scale, zero_point), scale, zero_point, symmetric=symmetric)
    np.testing.assert_array_equal(again, q, err_msg="quantize(dequantize(q)) must give back q")


# ---------------------------------------------------------------- QuantizedTensor
@pytest.mark.parametrize("symmetric, axis", [(True, None), (False, None), (True, 1)],
                         ids=["symmetric-per-tensor", "asymmetric-per-tensor", "symmetric-per-channel"])
def test_quantized_tensor_stores_int8_and_counts_its_bytes(symmetric, axis):
    x = np.random.default_rng(3).normal(size=(6, 5)).astype(np.float32)
    qt = QuantizedTensor.from_float(x, symmetric=symmetric, axis=axis)
    assert type(qt.values) is np.ndarray and qt.values.dtype == np.int8 and qt.values.shape == (6, 5)
    channels = 1 if axis is None else 5
    assert qt.nbytes == 30 + 4 * channels + 1 * channels, (
        "nbytes = one byte per int8 value + 4 bytes per float32 scale + 1 byte per int8 zero point")
    assert np.asarray(qt.scale).dtype == np.float32 and np.asarray(qt.zero_point).dtype == np.int8
    assert qt.axis == axis and qt.symmetric == symmetric
    lo, hi = ranges(x, axis)
    assert_scale(qt.scale, symmetric_scale(lo, hi) if symmetric else asymmetric_scale(lo, hi))


@given(arrays_and_axis, st.booleans())
def test_quantized_tensor_dequantizes_to_float32_within_half_a_step(case, symmetric):
    x, axis = case
    qt = QuantizedTensor.from_float(x, symmetric=symmetric, axis=axis)
    restored = qt.dequantize()
    assert isinstance(restored, Tensor), "QuantizedTensor.dequantize returns a Tensor"
    assert_within_half_a_step(x, values(restored), qt.scale, axis)


# ---------------------------------------------------------------- QuantizedLinear
def float_linear(in_features, out_features, seed, bias=True):
    rng = np.random.default_rng(seed)
    layer = Linear(in_features, out_features, bias=bias, seed=seed)
    if bias:
        layer.bias = Parameter(rng.normal(scale=0.5, size=out_features).astype(np.float32))
    return layer


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_quantized_linear_stores_int8_weights_and_biases_with_their_own_scales(per_channel):
    layer = float_linear(6, 4, seed=1)
    w, b = values(layer.weight).astype(np.float64), values(layer.bias).astype(np.float64)
    q = QuantizedLinear(layer, (-0.5, 2.0), per_channel=per_channel)
    w_max = np.abs(w).max(axis=0) if per_channel else np.abs(w).max()
    assert_scale(q.weight.scale, w_max / 127)
    assert q.weight.values.dtype == np.int8 and q.weight.values.shape == (6, 4)
    np.testing.assert_array_equal(q.weight.values, np.rint(w / np.asarray(q.weight.scale, dtype=np.float64)))
    assert_scale(q.bias.scale, np.abs(b).max() / 127)
    assert q.bias.values.dtype == np.int8, "biases are stored as int8 too"
    np.testing.assert_array_equal(q.bias.values, np.rint(b / np.asarray(q.bias.scale, dtype=np.float64)))
    assert_scale(q.input_scale, 2.5 / 255)
    assert int(q.input_zero_point) == round(-128 + 0.5 / float(q.input_scale))
    channels = 4 if per_channel else 1
    assert q.nbytes == (24 + 5 * channels) + (4 + 5) + 5, (
        "nbytes = weight (values, scales, zero points) + bias (values, scale, zero point) + input scale and zero point")
    np.testing.assert_array_equal(values(layer.weight), w.astype(np.float32), err_msg="the float layer is not modified")


@pytest.mark.points(2)
def test_quantized_linear_computes_with_integers_and_rescales_once():
    layer = float_linear(5, 3, seed=2)
    q = QuantizedLinear(layer, (-1.0, 3.0), per_channel=True)
    x = np.random.default_rng(4).uniform(-1.0, 3.0, size=(7, 5)).astype(np.float32)
    s_x, z_x = float(q.input_scale), int(q.input_zero_point)
    q_x = np.clip(np.rint(x / s_x) + z_x, -128, 127).astype(np.int64)
    q_w = q.weight.values.astype(np.int64)
    integer = (q_x - z_x) @ q_w                       # exact integer sums
    expected = integer * (s_x * np.asarray(q.weight.scale, dtype=np.float64)) + (
        q.bias.values.astype(np.float64) * float(q.bias.scale))
    got = q(Tensor(x))
    assert values(got).dtype == np.float32 and got.shape == (7, 3)
    np.testing.assert_allclose(values(got), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.points(3)
@settings(max_examples=examples(30))
@given(in_features=st.integers(1, 12), out_features=st.integers(1, 5), rows=st.integers(1, 4),
       pair=bounds, per_channel=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_quantized_linear_error_stays_within_the_bound(in_features, out_features, rows, pair, per_channel, seed):
    lo, hi = pair
    layer = float_linear(in_features, out_features, seed)
    w, b = values(layer.weight).astype(np.float64), values(layer.bias).astype(np.float64)
    q = QuantizedLinear(layer, (lo, hi), per_channel=per_channel)
    x = np.random.default_rng(seed).uniform(lo, hi, size=(rows, in_features)).astype(np.float32)  # inside the range
    exact = x.astype(np.float64) @ w + b
    s_x, s_b = float(q.input_scale), float(q.bias.scale)
    s_w = np.broadcast_to(np.asarray(q.weight.scale, dtype=np.float64), (out_features,))
    # The scales must be the calibrated ones, or the bound below would say nothing.
    assert_scale(q.input_scale, asymmetric_scale(lo, hi))
    assert_scale(q.weight.scale, np.abs(w).max(axis=0) / 127 if per_channel else np.abs(w).max() / 127)
    root = np.sqrt(in_features)
    e_x, e_w = s_x / 2 * root, s_w / 2 * root                    # ||e_x||, ||e_Wj|| at most
    x_norm = np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    w_norm = np.linalg.norm(w, axis=0)
    bound = e_x * w_norm + x_norm * e_w + e_x * e_w + s_b / 2
    bound = bound + 1e-5 * (np.abs(x.astype(np.float64)) @ np.abs(w) + np.abs(b)) + 1e-30   # float32 rounding of the result
    error = np.abs(values(q(Tensor(x))).astype(np.float64) - exact)
    assert (error <= bound).all(), f"error {error} exceeds the bound {bound}"


def test_int32_accumulation_is_exact_and_its_limit_is_checked():
    assert MAX_IN_FEATURES == (2 ** 31 - 1) // (255 * 127)
    width = 2048
    layer = Linear(width, 2, seed=0)
    signs = np.where(np.arange(width) % 2 == 0, 1.0, -1.0)
    layer.weight = Parameter(np.stack([np.ones(width), signs], axis=1).astype(np.float32))
    layer.bias = Parameter(np.zeros(2, dtype=np.float32))
    q = QuantizedLinear(layer, (-1.0, 3.0))
    x = np.where(np.arange(width) % 2 == 0, 3.0, -1.0)[None, :]   # every product at the largest size
    s_x, z_x = float(q.input_scale), int(q.input_zero_point)
    q_x = np.clip(np.rint(x / s_x) + z_x, -128, 127).astype(np.int64)
    integer = (q_x - z_x) @ q.weight.values.astype(np.int64)   # about 2048 * 255 * 127 / 2: int8/int16 overflow
    expected = integer * s_x * float(q.weight.scale)
    np.testing.assert_allclose(values(q(Tensor(x))), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="in_features"):
        QuantizedLinear(Linear(MAX_IN_FEATURES + 1, 1, seed=0), (0.0, 1.0))


# ---------------------------------------------------------------- whole models
class Towers(Module):
    def __init__(self):
        self.stem = Sequential(Linear(3, 8, seed=0), ReLU())
        self.heads = [Linear(8, 2, seed=1), Linear(8, 2, seed=2)]

    def forward(self, x):
        hidden = self.stem(x)
        return self.heads[0](hidden) + self.heads[1](hidden)


@pytest.mark.points(2)
def test_quantize_model_replaces_every_linear_and_leaves_the_original_alone():
    model = Towers()
    before = [values(p).copy() for p in model.parameters()]
    x = np.random.default_rng(5).normal(size=(32, 3)).astype(np.float32)
    quantized = quantize_model(model, x)
    assert quantized is not model
    assert isinstance(quantized.stem.layers[0], QuantizedLinear) and isinstance(quantized.stem.layers[1], ReLU)
    assert all(isinstance(head, QuantizedLinear) for head in quantized.heads)
    assert isinstance(model.stem.layers[0], Linear) and all(isinstance(h, Linear) for h in model.heads), (
        "the input model keeps its float Linears")
    for original, now in zip(before, model.parameters()):
        np.testing.assert_array_equal(values(now), original)
    np.testing.assert_allclose(values(quantized(Tensor(x))), values(model(Tensor(x))), atol=0.1)


def test_quantize_model_calibrates_each_linear_on_its_own_inputs():
    model = Sequential(Linear(4, 6, seed=3), ReLU(), Linear(6, 2, seed=4))
    x = np.random.default_rng(6).normal(size=(20, 4)).astype(np.float32)
    w1, b1 = values(model.layers[0].weight).astype(np.float64), values(model.layers[0].bias).astype(np.float64)
    hidden = np.maximum(x.astype(np.float64) @ w1 + b1, 0.0)   # what the second Linear receives
    quantized = quantize_model(model, [Tensor(x[:10]), Tensor(x[10:])])   # two batches, both count
    first, second = quantized.layers[0], quantized.layers[2]
    np.testing.assert_allclose(first.input_range, (x.min(), x.max()), rtol=1e-6)
    np.testing.assert_allclose(second.input_range, (hidden.min(), hidden.max()), rtol=1e-5, atol=1e-7)


@pytest.mark.points(2)
@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_model_bytes_measures_the_four_fold_shrink(per_channel):
    model = Sequential(Linear(64, 128, seed=0), ReLU(), Linear(128, 10, seed=1))
    float_bytes = 4 * (64 * 128 + 128 + 128 * 10 + 10)
    assert model_bytes(model) == float_bytes
    x = np.random.default_rng(7).uniform(0, 1, size=(16, 64)).astype(np.float32)
    quantized = quantize_model(model, x, per_channel=per_channel)
    channels = (128, 10) if per_channel else (1, 1)
    int8_bytes = sum(inputs * outputs + 5 * c + (outputs + 5) + 5
                     for (inputs, outputs), c in zip([(64, 128), (128, 10)], channels))
    assert model_bytes(quantized) == int8_bytes, (
        "int8 weights and biases (1 byte each) + 4-byte scales + 1-byte zero points, per layer and for its input")
    if not per_channel:
        assert float_bytes / model_bytes(quantized) >= 3.9


@pytest.mark.parametrize("call, message", [
    (lambda: calibrate(np.zeros((2, 3)), axis=2), "axis"),
    (lambda: calibrate(np.zeros(3), method="percentile", percentile=0.0), "percentile"),
    (lambda: calibrate(np.zeros(3), method="percentile", percentile=100.5), "percentile"),
    (lambda: calibrate(np.zeros(3), method="mean"), "method"),
    (lambda: quantize(np.array([1.0, np.nan]), 0.1, 0), "NaN"),
    (lambda: calibrate(np.array([0.0, np.nan])), "NaN|finite"),
], ids=["axis-out-of-range", "percentile-0", "percentile-above-100", "unknown-method", "nan-quantize",
        "nan-calibrate"])
def test_bad_arguments_are_refused_with_a_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
