"""Module 02 -- Activations: the visible specification.

Run just this module:  pytest spec/test_02_activations.py     (or: kata test 02)
Oracles are written here in NumPy (float64); the activations are only read via `.data`.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import assert_close_in_ulps, assert_tensor, float_arrays, values
from tinytorch.core.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(2)


def np_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def np_gelu(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def np_log_softmax(x, axis):
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


ORACLES = {
    "ReLU": (ReLU, lambda x: np.maximum(np.asarray(x, np.float64), 0.0)),
    "Sigmoid": (Sigmoid, np_sigmoid),
    "Tanh": (Tanh, lambda x: np.tanh(np.asarray(x, np.float64))),
    "GELU": (GELU, np_gelu),
}


@pytest.mark.points(2)
@pytest.mark.parametrize("name", sorted(ORACLES))
@given(array=float_arrays(dtype=np.float64, magnitude=30, max_dims=3))
def test_elementwise_activations_match_their_formula(name, array):
    activation, oracle = ORACLES[name]
    assert_tensor(activation()(Tensor(array)), oracle(array), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ORACLES))
@given(array=float_arrays(dtype=np.float32, magnitude=30))
def test_float32_in_float32_out(name, array):
    activation, oracle = ORACLES[name]
    result = activation()(Tensor(array))
    assert result.dtype == np.float32 and result.shape == array.shape
    np.testing.assert_allclose(values(result), oracle(array), rtol=1e-5, atol=1e-6)


@st.composite
def wide_range_arrays(draw, dtype, low_exponent=-30, high_exponent=4):
    """Values from 10**low_exponent to 10**high_exponent in magnitude (log-uniform), either sign,
    mixed with the awkward ones: +0, -0 and subnormals (numbers below the smallest normal float)."""
    tiny = float(np.finfo(dtype).smallest_subnormal)
    magnitude = st.floats(low_exponent, high_exponent).map(lambda e: 10.0 ** e)
    special = st.sampled_from([0.0, tiny, 3 * tiny, float(np.finfo(dtype).smallest_normal) / 4])
    signed = st.tuples(st.one_of(magnitude, special), st.sampled_from([1.0, -1.0])).map(lambda ms: ms[0] * ms[1])
    return np.array(draw(st.lists(signed, min_size=1, max_size=12)), dtype=dtype)


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_tanh_keeps_full_relative_precision_from_1e_minus_30_to_1e4(dtype, data):
    # Near 0 tanh(x) ~ x: formulas such as 2 * sigmoid(2x) - 1 or (1 - e^-2x) / (1 + e^-2x) cancel
    # there and return 0 for x = 1e-8. The result must be within a few units in the last place.
    array = data.draw(wide_range_arrays(dtype))
    result = Tanh()(Tensor(array))
    assert result.dtype == dtype, f"dtype: expected {np.dtype(dtype)}, got {result.dtype}"
    assert_close_in_ulps(values(result), np.tanh(array.astype(np.float64)), dtype, ulps=4)
    zeros = array == 0
    np.testing.assert_array_equal(np.signbit(values(result)[zeros]), np.signbit(array[zeros]),
                                  err_msg="tanh(+0) must be +0 and tanh(-0) must be -0")


@pytest.mark.points(2)
@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax"])
@given(array=float_arrays(dtype=np.float32, magnitude=1e4, min_dims=1))
def test_no_overflow_for_large_inputs(name, array):
    activation = {"Softmax": Softmax, "LogSoftmax": LogSoftmax}.get(name) or ORACLES[name][0]
    out = values(activation()(Tensor(array)))
    assert np.isfinite(out).all(), f"{name} produced inf/nan for inputs up to |x| = 1e4"


@given(float_arrays(dtype=np.float64, magnitude=50))
def test_sigmoid_is_bounded_and_symmetric(array):
    forward = values(Sigmoid()(Tensor(array)))
    mirrored = values(Sigmoid()(Tensor(-array)))
    assert ((forward >= 0) & (forward <= 1)).all()
    np.testing.assert_allclose(forward + mirrored, 1.0, atol=1e-12)


@given(float_arrays(dtype=np.float64, magnitude=50))
def test_tanh_is_odd_and_bounded(array):
    out = values(Tanh()(Tensor(array)))
    assert (np.abs(out) <= 1).all()
    np.testing.assert_allclose(out, -values(Tanh()(Tensor(-array))), atol=1e-12)


@given(float_arrays(dtype=np.float64, magnitude=50))
def test_relu_is_non_negative_and_keeps_positives(array):
    out = values(ReLU()(Tensor(array)))
    assert (out >= 0).all()
    np.testing.assert_array_equal(out[array > 0], array[array > 0])


def _dim_and_array(draw_array=float_arrays(dtype=np.float64, magnitude=100, min_dims=1, max_dims=3)):
    return draw_array.flatmap(lambda a: st.tuples(st.just(a), st.integers(-a.ndim, a.ndim - 1)))


@pytest.mark.points(2)
@given(_dim_and_array())
def test_softmax_rows_are_probabilities(case):
    array, dim = case
    out = values(Softmax(dim=dim)(Tensor(array)))
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=dim), 1.0, rtol=1e-9)
    np.testing.assert_allclose(out, np.exp(np_log_softmax(array, dim)), rtol=1e-9, atol=1e-300)


@pytest.mark.points(2)
@given(_dim_and_array(), st.floats(-1e3, 1e3))
def test_softmax_is_invariant_to_a_constant_shift(case, shift):
    array, dim = case
    np.testing.assert_allclose(values(Softmax(dim=dim)(Tensor(array + shift))),
                               values(Softmax(dim=dim)(Tensor(array))), rtol=1e-6, atol=1e-12)


@pytest.mark.points(2)
@given(_dim_and_array())
def test_log_softmax_matches_log_sum_exp_oracle(case):
    array, dim = case
    out = LogSoftmax(dim=dim)(Tensor(array))
    assert_tensor(out, np_log_softmax(array, dim), rtol=1e-9, atol=1e-9)
    assert (values(out) <= 1e-12).all()


def test_softmax_of_equal_scores_is_uniform():
    assert_tensor(Softmax()(Tensor(np.zeros((2, 4)))), np.full((2, 4), 0.25))


@pytest.mark.parametrize("make", [lambda: Softmax(dim=2), lambda: LogSoftmax(dim=-3)],
                         ids=["Softmax-dim-2", "LogSoftmax-dim-minus-3"])
def test_out_of_range_dim_is_a_value_error(make):
    with pytest.raises(ValueError, match="dim"):
        make()(Tensor(np.zeros((2, 3))))


@pytest.mark.parametrize("activation_class", [ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax],
                         ids=["ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax"])
def test_non_tensor_input_is_a_type_error(activation_class):
    with pytest.raises(TypeError, match="Tensor"):
        activation_class()([1.0, 2.0])


def test_activations_do_not_modify_their_input():
    array = np.linspace(-5, 5, 11)
    x = Tensor(array.copy())
    for activation in (ReLU(), Sigmoid(), Tanh(), GELU(), Softmax(), LogSoftmax()):
        activation(x)
    np.testing.assert_array_equal(values(x), array)
