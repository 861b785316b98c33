"""Module 03 -- Layers: the visible specification.

Run just this module:  pytest spec/test_03_layers.py     (or: kata test 03)
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import assert_tensor, assert_tensor_within, float_arrays, float_dtypes, matmul_error_bound, values
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Linear, Module, Parameter, Sequential, activation_bytes, memory_report
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(3)

FEATURES = st.integers(1, 8)


@pytest.mark.points(3)
@given(n_in=FEATURES, n_out=FEATURES, batch=st.integers(1, 5), dtype=float_dtypes, data=st.data())
def test_linear_is_x_times_weight_plus_bias(n_in, n_out, batch, dtype, data):
    layer = Linear(n_in, n_out, seed=0)
    layer.bias.data = data.draw(float_arrays((n_out,), dtype=np.float32, magnitude=1))  # a bias that is not 0
    x = data.draw(float_arrays((batch, n_in), dtype=dtype, magnitude=10))
    weight, bias = values(layer.weight), values(layer.bias)
    expected = x.astype(np.float64) @ weight.astype(np.float64) + bias
    # float32 parameters: float32 inputs stay float32, float64 inputs are computed in float64 (NumPy's
    # promotion); either way within the rounding of an n_in-term dot product plus one addition.
    bound = matmul_error_bound(x, weight) + np.finfo(dtype).eps * (np.abs(expected) + np.abs(bias))
    assert_tensor_within(layer(Tensor(x)), expected, bound, dtype=dtype)


@given(n_in=FEATURES, n_out=FEATURES)
def test_weight_layout_and_bias_start(n_in, n_out):
    layer = Linear(n_in, n_out, seed=1)
    assert layer.weight.shape == (n_in, n_out), "weight is stored as (in_features, out_features)"
    assert layer.bias.shape == (n_out,)
    np.testing.assert_array_equal(values(layer.bias), np.zeros(n_out))
    assert isinstance(layer.weight, Parameter) and isinstance(layer.bias, Parameter)


@pytest.mark.points(2)
@given(n_in=st.integers(1, 300), n_out=st.integers(1, 300))
def test_xavier_uniform_bound(n_in, n_out):
    weight = values(Linear(n_in, n_out, seed=3).weight)
    bound = math.sqrt(6.0 / (n_in + n_out))
    assert np.abs(weight).max() <= bound + 1e-7


def test_xavier_uniform_statistics():
    weight = values(Linear(400, 600, seed=5).weight).astype(np.float64)
    bound = math.sqrt(6.0 / 1000)
    # A uniform U(-a, a) has mean 0 and variance a^2 / 3; 240,000 samples pin both down tightly.
    assert abs(weight.mean()) < 0.01 * bound
    assert abs(weight.var() - bound ** 2 / 3) < 0.02 * bound ** 2 / 3
    assert weight.max() > 0.99 * bound and weight.min() < -0.99 * bound


def test_same_seed_same_weights_and_different_seeds_differ():
    np.testing.assert_array_equal(values(Linear(5, 4, seed=7).weight), values(Linear(5, 4, seed=7).weight))
    assert not np.array_equal(values(Linear(5, 4, seed=7).weight), values(Linear(5, 4, seed=8).weight))


@given(n_in=FEATURES, n_out=FEATURES, bias=st.booleans())
def test_parameter_count_and_bytes(n_in, n_out, bias):
    layer = Linear(n_in, n_out, bias=bias, seed=0)
    expected = n_in * n_out + (n_out if bias else 0)
    assert layer.num_parameters() == expected
    assert layer.parameter_bytes() == 4 * expected
    assert len(layer.parameters()) == (2 if bias else 1)


def test_linear_without_bias():
    layer = Linear(3, 2, bias=False, seed=0)
    x = np.ones((1, 3))
    assert layer.bias is None
    assert_tensor(layer(Tensor(x)), x @ values(layer.weight), rtol=1e-6)


def test_linear_keeps_leading_dimensions():
    assert Linear(4, 6, seed=0)(Tensor(np.zeros((2, 3, 4), dtype=np.float32))).shape == (2, 3, 6)


def test_wrong_input_size_names_both_sizes():
    with pytest.raises(ValueError) as caught:
        Linear(4, 2)(Tensor(np.zeros((3, 5))))
    assert "4" in str(caught.value) and "(3, 5)" in str(caught.value)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_bad_feature_counts_are_rejected(bad):
    with pytest.raises(ValueError):
        Linear(bad, 2)


def test_sequential_composes_in_order():
    first, second = Linear(3, 4, seed=1), Linear(4, 2, seed=2)
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    hidden = np.maximum(x @ values(first.weight) + values(first.bias), 0)
    expected = hidden @ values(second.weight) + values(second.bias)
    assert_tensor(Sequential(first, ReLU(), second)(Tensor(x)), expected, rtol=1e-5)


def test_sequential_collects_parameters_with_dotted_names():
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2


def test_shared_parameters_are_counted_once():
    layer = Linear(2, 2)
    assert len(Sequential(layer, layer).parameters()) == 2


def test_sequential_rejects_steps_without_forward():
    with pytest.raises(TypeError, match="step 1"):
        Sequential(Linear(2, 2), 42)


@pytest.mark.points(2)
@given(p=st.floats(0.05, 0.9), seed=st.integers(0, 1000))
def test_dropout_zero_fraction_and_expected_value(p, seed):
    x = np.ones(20_000, dtype=np.float32)
    out = values(Dropout(p, seed=seed)(Tensor(x)))
    zero_fraction = (out == 0).mean()
    assert abs(zero_fraction - p) < 0.03, f"about {p:.2f} of the elements should be zeroed, got {zero_fraction:.3f}"
    np.testing.assert_allclose(out[out != 0], 1.0 / (1.0 - p), rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.08, "inverted dropout keeps the expected value"


def test_dropout_in_eval_mode_is_identity():
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    assert_tensor(Dropout(0.7, seed=1).eval()(Tensor(x)), x)


def test_train_and_eval_reach_every_submodule():
    dropout = Dropout(0.5)
    model = Sequential(Linear(2, 2), dropout)
    assert model.eval() is model and not dropout.training
    model.train()
    assert dropout.training


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match="p"):
        Dropout(p)


def test_activation_bytes_grow_with_batch_and_parameter_bytes_do_not():
    model = Sequential(Linear(8, 16), ReLU(), Linear(16, 4))
    small, large = memory_report(model, (2, 8)), memory_report(model, (64, 8))
    assert small["parameter_bytes"] == large["parameter_bytes"] == 4 * model.num_parameters()
    assert small["activation_bytes"] == 4 * 2 * (16 + 16 + 4)
    assert large["activation_bytes"] == 32 * small["activation_bytes"]
    assert activation_bytes((32, 128)) == 16384 and activation_bytes((3,), np.float64) == 24


def test_calling_a_module_passes_keyword_arguments_to_forward():
    class Scaled(Module):
        def __init__(self):
            super().__init__()
            self.inner = Linear(2, 2, seed=0)

        def forward(self, x, scale=1.0):
            return self.inner(x) * scale

    model, x = Scaled(), Tensor(np.ones((1, 2), dtype=np.float32))
    np.testing.assert_allclose(values(model(x, scale=3.0)), 3.0 * values(model(x)), rtol=1e-6)
