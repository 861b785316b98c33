"""Module 03 -- Layers: held-out properties and edge cases."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import assert_tensor, float_arrays, values
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Linear, Module, Parameter, Sequential, memory_report
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(3)


class TwoTowers(Module):
    def __init__(self):
        self.left = Linear(2, 3, seed=0)
        self.towers = [Linear(3, 1, seed=1), Linear(3, 1, seed=2)]
        self.scale = Parameter(np.ones(1, dtype=np.float32))

    def forward(self, x):
        hidden = self.left(x)
        return self.towers[0](hidden) + self.towers[1](hidden) * self.scale


def test_custom_module_finds_nested_and_listed_parameters():
    names = [name for name, _ in TwoTowers().named_parameters()]
    assert names == ["scale", "left.weight", "left.bias", "towers.0.weight", "towers.0.bias",
                     "towers.1.weight", "towers.1.bias"]
    assert TwoTowers().num_parameters() == 1 + 2 * 3 + 3 + 2 * (3 + 1)


def test_base_module_forward_must_be_overridden():
    with pytest.raises(NotImplementedError):
        Module()(Tensor([1.0]))
    assert Module().parameters() == [] and Module().num_parameters() == 0


def test_linear_float64_input_matches_float64_oracle():
    layer = Linear(3, 2, seed=4)
    x = np.array([[1e3, -2e3, 0.5]])
    assert_tensor(layer(Tensor(x)), x @ values(layer.weight).astype(np.float64) + values(layer.bias), rtol=1e-6)


def test_linear_rejects_non_tensor_and_scalar_inputs():
    with pytest.raises(TypeError):
        Linear(2, 2)(np.zeros((1, 2)))
    with pytest.raises(ValueError):
        Linear(2, 2)(Tensor(1.0))


def test_weights_are_float32_and_not_all_equal():
    weight = values(Linear(10, 10).weight)
    assert weight.dtype == np.float32 and np.unique(weight).size > 50


@given(seed=st.integers(0, 10_000))
def test_dropout_is_reproducible_for_a_seed(seed):
    x = Tensor(np.ones(64, dtype=np.float32))
    np.testing.assert_array_equal(values(Dropout(0.3, seed=seed)(x)), values(Dropout(0.3, seed=seed)(x)))


def test_dropout_draws_a_new_mask_each_call():
    dropout = Dropout(0.5, seed=0)
    x = Tensor(np.ones(256, dtype=np.float32))
    assert not np.array_equal(values(dropout(x)), values(dropout(x)))


def test_dropout_zero_probability_is_identity_in_training():
    x = np.arange(5, dtype=np.float32)
    assert_tensor(Dropout(0.0)(Tensor(x)), x)


def test_dropout_keeps_dtype_and_shape():
    out = Dropout(0.2, seed=0)(Tensor(np.ones((3, 4), dtype=np.float64)))
    assert out.dtype == np.float64 and out.shape == (3, 4)


def test_sequential_indexing_and_length():
    first = Linear(2, 2)
    model = Sequential(first, ReLU())
    assert len(model) == 2 and model[0] is first


def test_memory_report_requires_a_sequential():
    with pytest.raises(TypeError):
        memory_report(Linear(2, 2), (1, 2))


@given(float_arrays((4, 3), dtype=np.float64, magnitude=5))
def test_linear_is_affine(x):
    layer = Linear(3, 2, seed=9)
    zero = values(layer(Tensor(np.zeros((1, 3)))))
    doubled = values(layer(Tensor(2 * x))) - zero
    single = values(layer(Tensor(x))) - zero
    np.testing.assert_allclose(doubled, 2 * single, rtol=1e-5, atol=1e-5)
