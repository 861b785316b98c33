"""Module 02 -- Activations: held-out properties and edge cases."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import assert_tensor, float_arrays, values
from tinytorch.core.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(2)


def test_extreme_values_saturate_exactly():
    x = Tensor(np.array([-1e4, 1e4], dtype=np.float32))
    assert_tensor(Sigmoid()(x), [0.0, 1.0], atol=0)
    assert_tensor(Tanh()(x), [-1.0, 1.0], atol=0)
    assert_tensor(GELU()(x), [0.0, 1e4], rtol=1e-7, atol=1e-30)
    assert_tensor(ReLU()(x), [0.0, 1e4])


def test_log_softmax_stays_finite_where_softmax_underflows():
    scores = Tensor(np.array([[0.0, 1e4]]))
    log_probs = values(LogSoftmax()(scores))
    np.testing.assert_allclose(log_probs, [[-1e4, 0.0]])
    assert values(Softmax()(scores))[0, 0] == 0.0  # underflows, as float64 must


def test_gelu_reference_points():
    # Values of the tanh-approximation formula at a few points, computed by hand.
    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    assert_tensor(GELU()(Tensor(x)), expected, rtol=1e-12)
    assert abs(values(GELU()(Tensor([1.0])))[0] - 0.841192) < 1e-5


@given(float_arrays(dtype=np.float64, magnitude=20))
def test_gelu_lies_between_zero_and_relu_for_positive_and_is_small_for_negative(array):
    out = values(GELU()(Tensor(array)))
    positive = array > 0
    assert (out[positive] <= array[positive] + 1e-12).all() and (out[positive] >= 0).all()
    assert (out[~positive] <= 0 + 1e-12).all() and (out[~positive] >= -0.2).all()


@given(float_arrays(dtype=np.float64, magnitude=30))
def test_sigmoid_is_monotonic(array):
    flat = np.sort(array.reshape(-1))
    out = values(Sigmoid()(Tensor(flat)))
    assert (np.diff(out) >= 0).all()


def test_relu_at_zero_is_zero():
    assert_tensor(ReLU()(Tensor([0.0, -0.0])), [0.0, 0.0])


def test_integer_input_becomes_float32():
    for activation in (ReLU(), Sigmoid(), Tanh(), GELU(), Softmax()):
        out = activation(Tensor(np.array([1, 2, 3])))
        assert out.dtype == np.float32


def test_softmax_along_first_dimension_of_a_batch():
    array = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]])
    out = values(Softmax(dim=0)(Tensor(array)))
    np.testing.assert_allclose(out.sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(out[:, 0], np.exp(array[:, 0]) / np.exp(array[:, 0]).sum())


@given(st.integers(1, 6), st.integers(1, 6))
def test_softmax_keeps_shape_and_log_softmax_exp_sums_to_one(rows, cols):
    array = np.random.default_rng(rows * 7 + cols).normal(size=(rows, cols)) * 10
    assert Softmax()(Tensor(array)).shape == (rows, cols)
    np.testing.assert_allclose(np.exp(values(LogSoftmax()(Tensor(array)))).sum(axis=-1), 1.0, rtol=1e-12)


def test_zero_d_input_to_softmax_is_rejected():
    with pytest.raises(ValueError):
        Softmax()(Tensor(1.0))


def test_activations_preserve_float64():
    x = Tensor(np.linspace(-3, 3, 7))
    for activation in (ReLU(), Sigmoid(), Tanh(), GELU(), Softmax(), LogSoftmax()):
        assert activation(x).dtype == np.float64
