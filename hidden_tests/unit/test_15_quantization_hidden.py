"""Module 15 -- Quantization: held-out checks (negative and middle axes, Tensor and integer inputs,
leading dimensions, layers without bias, tuples and shared layers, percentile calibration of a
model, mixed float/int8 models, and the errors).

Expected values are computed here with NumPy from the formulas of the module docstring.
"""
import numpy as np
import pytest

from spec.support import values
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Module, Parameter, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.perf.quantization import (QuantizedLinear, QuantizedTensor, asymmetric_params, calibrate,
                                         dequantize, model_bytes, quantize, quantize_model, symmetric_params)

pytestmark = pytest.mark.module(15)


def test_per_channel_percentile_along_a_middle_and_a_negative_axis():
    x = np.random.default_rng(0).normal(size=(4, 3, 50))
    lo, hi = calibrate(x, method="percentile", percentile=96.0, axis=1)
    moved = np.moveaxis(x, 1, 0).reshape(3, -1)
    np.testing.assert_allclose(np.stack([lo, hi]), np.percentile(moved, [2.0, 98.0], axis=1), rtol=1e-12)
    lo, hi = calibrate(x, axis=-1)
    np.testing.assert_array_equal(lo, x.min(axis=(0, 1)))
    np.testing.assert_array_equal(hi, x.max(axis=(0, 1)))


def test_tensors_and_integer_arrays_are_accepted():
    lo, hi = calibrate(Tensor(np.array([[-3.0, 1.0]], dtype=np.float32)))
    assert (float(lo), float(hi)) == (-3.0, 1.0)
    ints = np.array([-4, 0, 9, 127])
    scale, zero_point = asymmetric_params(-4.0, 127.0)
    expected = np.clip(np.rint(ints / float(scale)) + int(zero_point), -128, 127)
    np.testing.assert_array_equal(quantize(ints, scale, zero_point), expected)
    np.testing.assert_array_equal(quantize(Tensor(ints.astype(np.float64)), scale, zero_point), expected)


def test_per_channel_parameters_broadcast_along_the_chosen_axis_only():
    x = np.array([[[0.1, -20.0]], [[0.2, 10.0]], [[-0.3, 5.0]]])   # shape (3, 1, 2): channels on the last axis
    scale, zero_point = symmetric_params(np.abs(x).max(axis=(0, 1)) * -1, np.abs(x).max(axis=(0, 1)))
    q = quantize(x, scale, zero_point, axis=-1, symmetric=True)
    expected = np.rint(x / np.asarray(scale, dtype=np.float64).reshape(1, 1, 2))
    np.testing.assert_array_equal(q, expected)
    assert abs(int(q[2, 0, 0])) == 127, "the small channel uses its whole range with its own scale"
    np.testing.assert_allclose(dequantize(q, scale, zero_point, axis=2), x, atol=20.0 / 127 / 2 + 1e-6)


def test_a_quantized_linear_keeps_leading_dimensions():
    layer = Linear(4, 3, seed=9)
    layer.bias = Parameter(np.array([0.5, -1.0, 2.0], dtype=np.float32))
    q = QuantizedLinear(layer, (-2.0, 2.0))
    x = np.random.default_rng(1).uniform(-2, 2, size=(2, 5, 4)).astype(np.float32)
    s_x, z_x = float(q.input_scale), int(q.input_zero_point)
    q_x = np.clip(np.rint(x / s_x) + z_x, -128, 127).astype(np.int64)
    expected = ((q_x - z_x) @ q.weight.values.astype(np.int64)) * (s_x * float(q.weight.scale)) + (
        q.bias.values.astype(np.float64) * float(q.bias.scale))
    got = q(Tensor(x))
    assert got.shape == (2, 5, 3) and values(got).dtype == np.float32
    np.testing.assert_allclose(values(got), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_a_layer_without_bias_stores_and_adds_none(per_channel):
    layer = Linear(5, 6, bias=False, seed=2)
    q = QuantizedLinear(layer, (0.0, 1.0), per_channel=per_channel)
    assert q.bias is None
    assert q.nbytes == 30 + 5 * (6 if per_channel else 1) + 5
    x = np.random.default_rng(2).uniform(0, 1, size=(3, 5)).astype(np.float32)
    s_x, z_x = float(q.input_scale), int(q.input_zero_point)
    q_x = np.clip(np.rint(x / s_x) + z_x, -128, 127).astype(np.int64)
    expected = ((q_x - z_x) @ q.weight.values.astype(np.int64)) * (s_x * np.asarray(q.weight.scale, dtype=np.float64))
    np.testing.assert_allclose(values(q(Tensor(x))), expected, rtol=1e-5, atol=1e-6)


class Shared(Module):
    def __init__(self):
        self.pair = (Linear(3, 3, seed=0), ReLU())
        self.reused = Linear(3, 3, seed=1)

    def forward(self, x):
        x = self.pair[1](self.pair[0](x))
        return self.reused(self.reused(x))


def test_quantize_model_handles_tuples_shared_layers_and_a_bare_linear():
    model = Shared()
    x = np.random.default_rng(3).normal(size=(10, 3)).astype(np.float32)
    quantized = quantize_model(model, x)
    assert isinstance(quantized.pair, tuple) and isinstance(quantized.pair[0], QuantizedLinear)
    assert isinstance(quantized.pair[1], ReLU) and isinstance(quantized.reused, QuantizedLinear)
    # The reused layer saw both its calls: its range covers the first call's inputs and its own outputs.
    hidden = np.maximum(x.astype(np.float64) @ values(model.pair[0].weight) + values(model.pair[0].bias), 0)
    middle = hidden @ values(model.reused.weight) + values(model.reused.bias)
    both = np.concatenate([hidden.ravel(), middle.ravel()])
    np.testing.assert_allclose(quantized.reused.input_range, (both.min(), both.max()), rtol=1e-5, atol=1e-7)
    alone = quantize_model(Linear(3, 2, seed=4), Tensor(x))
    assert isinstance(alone, QuantizedLinear)
    np.testing.assert_allclose(alone.input_range, (x.min(), x.max()), rtol=1e-6)


def test_percentile_calibration_of_a_model_ignores_a_rare_outlier():
    model = Sequential(Linear(2, 2, seed=5))
    x = np.random.default_rng(4).uniform(-1, 1, size=(500, 2))
    x[0, 0] = 100.0
    quantized = quantize_model(model, x, method="percentile", percentile=99.0)
    lo, hi = quantized.layers[0].input_range
    expected = np.percentile(x.ravel(), [0.5, 99.5])
    np.testing.assert_allclose((lo, hi), expected, rtol=1e-5)
    assert hi < 2.0
    assert quantize_model(model, x).layers[0].input_range[1] == 100.0


def test_model_bytes_of_a_model_mixing_int8_and_float_layers():
    quantized = quantize_model(Linear(10, 4, seed=6), np.ones((2, 10)))
    mixed = Sequential(quantized, ReLU(), Linear(4, 3, seed=7))
    assert model_bytes(mixed) == (40 + 5 + 4 + 5 + 5) + 4 * (12 + 3)
    assert model_bytes(quantized) == 59


def test_a_quantized_mlp_mostly_agrees_with_the_float_one():
    rng = np.random.default_rng(8)
    model = Sequential(Linear(16, 32, seed=8), ReLU(), Linear(32, 5, seed=9))
    calibration, probe = rng.normal(size=(64, 16)), rng.normal(size=(200, 16)).clip(-2, 2)
    float_out = values(model(Tensor(probe)))
    for per_channel in (False, True):
        out = values(quantize_model(model, calibration, per_channel=per_channel)(Tensor(probe)))
        assert out.dtype == np.float32
        agreement = (out.argmax(axis=1) == float_out.argmax(axis=1)).mean()
        assert agreement >= 0.9, f"only {agreement:.0%} of predictions survive int8 (per_channel={per_channel})"
        assert np.abs(out - float_out).max() < 0.1


@pytest.mark.parametrize("call, error, message", [
    (lambda: quantize(np.ones(3), 0.1, 5, symmetric=True), ValueError, "zero_point"),
    (lambda: quantize(np.ones(3), 0.0, 0), ValueError, "scale"),
    (lambda: quantize(np.ones((2, 3)), np.ones(2, dtype=np.float32), np.zeros(2, dtype=np.int8), axis=1),
     ValueError, "scale"),
    (lambda: QuantizedTensor(np.zeros(3, dtype=np.int16), 1.0, 0), TypeError, "int8"),
    (lambda: QuantizedTensor(np.array([-128, 0], dtype=np.int8), 1.0, 0, symmetric=True), ValueError, "-128"),
    (lambda: dequantize(np.zeros(3, dtype=np.float32), 1.0, 0), TypeError, "int8"),
    (lambda: asymmetric_params(2.0, 1.0), ValueError, "lo"),
    (lambda: calibrate(np.array([1.0, np.inf])), ValueError, "finite"),
    (lambda: QuantizedLinear(Sequential(), (0.0, 1.0)), TypeError, "Linear"),
    (lambda: QuantizedLinear(Linear(3, 2, seed=0), (0.0, np.nan)), ValueError, "finite"),
    (lambda: QuantizedLinear(Linear(3, 2, seed=0), (0.0, 1.0))(Tensor(np.ones((2, 4)))), ValueError, "in_features"),
    (lambda: quantize_model(Sequential(Linear(2, 2)), []), ValueError, "calibration"),
    (lambda: quantize_model(ReLU(), np.ones((1, 2))), TypeError, "Module"),
    (lambda: model_bytes(np.ones(3)), TypeError, "Module"),
], ids=["symmetric-nonzero-zero-point", "zero-scale", "scale-shape", "int16-values", "symmetric-minus-128",
        "dequantize-float", "lo-above-hi", "inf-calibration", "not-a-linear", "nan-range", "wrong-width",
        "no-batches", "not-a-module", "bytes-of-an-array"])
def test_bad_arguments_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_linear_that_never_runs_during_calibration_is_reported():
    class Skips(Module):
        def __init__(self):
            self.used, self.unused = Linear(2, 2, seed=0), Linear(2, 2, seed=1)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(ValueError, match="no input"):
        quantize_model(Skips(), np.ones((3, 2)))
