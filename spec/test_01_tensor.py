"""Module 01 -- Tensor: the visible specification.

Run just this module:  pytest spec/test_01_tensor.py     (or: kata test 01)
Every expected value is computed here with NumPy; the Tensor under test is only read via `.data`.
"""
import operator

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import assert_tensor, finite_floats, float_arrays, values
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(1)

FLOAT_DTYPES = st.sampled_from([np.float32, np.float64])
INT_DTYPES = st.sampled_from([np.int8, np.int32, np.int64, np.uint8])


# ------------------------------------------------------------------ construction and dtype policy
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=10))
def test_python_float_lists_become_float32(items):
    tensor = Tensor(items)
    assert_tensor(tensor, np.array(items, dtype=np.float32), dtype=np.float32)


@given(st.lists(st.integers(-1000, 1000), min_size=1, max_size=10))
def test_python_int_lists_become_float32(items):
    assert_tensor(Tensor(items), np.array(items, dtype=np.float32), dtype=np.float32)


@given(st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False)))
def test_python_scalar_becomes_0d_float32(number):
    tensor = Tensor(number)
    assert tensor.shape == () and tensor.ndim == 0 and tensor.size == 1
    assert_tensor(tensor, np.float32(number), dtype=np.float32)


@given(FLOAT_DTYPES.flatmap(lambda dt: float_arrays(dtype=dt)))
def test_numpy_float_arrays_keep_their_dtype(array):
    assert_tensor(Tensor(array), array, dtype=array.dtype)


@given(INT_DTYPES.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(max_dims=3, max_side=4))))
def test_numpy_integer_arrays_stay_integer(array):
    tensor = Tensor(array)
    assert tensor.dtype == array.dtype, f"integer arrays (token ids, labels) must keep dtype {array.dtype}"
    np.testing.assert_array_equal(values(tensor), array)


def test_explicit_dtype_overrides_the_policy():
    assert_tensor(Tensor([1, 2], dtype=np.float64), np.array([1.0, 2.0]), dtype=np.float64)
    assert_tensor(Tensor(np.array([1.5, 2.5]), dtype=np.float32), np.array([1.5, 2.5]), dtype=np.float32)


def test_tensor_from_tensor_keeps_values_and_dtype():
    source = Tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert_tensor(Tensor(source), np.arange(6, dtype=np.float64).reshape(2, 3), dtype=np.float64)


@pytest.mark.parametrize("bad", ["hello", None, {"a": 1}, [1, "x"], 1 + 2j])
def test_non_numeric_data_is_a_type_error(bad):
    with pytest.raises(TypeError):
        Tensor(bad)


def test_ragged_list_is_a_value_error_that_says_so():
    with pytest.raises(ValueError, match="ragged|rectangular"):
        Tensor([[1, 2], [3]])


# ------------------------------------------------------------------ facts: shape, size, ndim, memory
@given(FLOAT_DTYPES.flatmap(lambda dt: float_arrays(dtype=dt, max_dims=4)))
def test_shape_size_ndim_dtype_match_numpy(array):
    tensor = Tensor(array)
    assert (tensor.shape, tensor.size, tensor.ndim, tensor.dtype) == (array.shape, array.size, array.ndim, array.dtype)


@pytest.mark.points(2)
@given(st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.bool_])
       .flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))))
def test_memory_footprint_is_the_bytes_held(array):
    footprint = Tensor(array).memory_footprint()
    assert isinstance(footprint, (int, np.integer))
    assert footprint == array.size * array.dtype.itemsize


def test_memory_footprint_of_float32_matrix():
    # 1000 x 1000 float32 = 4,000,000 bytes: the number behind "why does batch size affect memory?"
    assert Tensor(np.zeros((1000, 1000), dtype=np.float32)).memory_footprint() == 4_000_000


# ------------------------------------------------------------------ element-wise arithmetic
BINARY_OPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
}


@pytest.mark.points(3)
@pytest.mark.parametrize("symbol", sorted(BINARY_OPS))
@given(data=st.data())
def test_binary_ops_broadcast_like_numpy(symbol, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    left = data.draw(float_arrays(shapes.input_shapes[0], magnitude=100))
    right = data.draw(float_arrays(shapes.input_shapes[1], magnitude=100))
    if symbol == "/":
        right = np.where(np.abs(right) < 1e-2, np.float32(1), right)
    op = BINARY_OPS[symbol]
    result = op(Tensor(left), Tensor(right))
    assert_tensor(result, op(left, right), rtol=1e-6, atol=1e-6, dtype=np.float32)
    assert result.shape == shapes.result_shape


@pytest.mark.points(2)
@pytest.mark.parametrize("symbol", sorted(BINARY_OPS))
@given(array=float_arrays(magnitude=100), scalar=st.floats(0.5, 50))
def test_python_scalars_work_on_either_side(symbol, array, scalar):
    op = BINARY_OPS[symbol]
    tensor = Tensor(array)
    assert_tensor(op(tensor, scalar), op(array, np.float32(scalar)), rtol=1e-5, atol=1e-5, dtype=np.float32)
    safe = np.where(np.abs(array) < 1e-2, np.float32(1), array)
    assert_tensor(op(scalar, Tensor(safe)), op(np.float32(scalar), safe), rtol=1e-5, atol=1e-5, dtype=np.float32)


@given(array=float_arrays(magnitude=10), exponent=st.sampled_from([0, 1, 2, 3, 0.5]))
def test_power_matches_numpy(array, exponent):
    base = np.abs(array) if exponent == 0.5 else array
    assert_tensor(Tensor(base) ** exponent, base ** np.float32(exponent), rtol=1e-5, atol=1e-6)


@given(float_arrays())
def test_negation(array):
    assert_tensor(-Tensor(array), -array, dtype=array.dtype)


@given(float_arrays(magnitude=100))
def test_operations_do_not_modify_their_operands(array):
    original = array.copy()
    left = Tensor(array)
    _ = left + left, left * 2, -left, left.exp(), left.reshape(-1)
    np.testing.assert_array_equal(values(left), original)


@pytest.mark.parametrize("left_shape,right_shape", [((2, 3), (4,)), ((3, 1, 2), (3, 3)), ((5,), (2,))])
def test_incompatible_broadcast_names_both_shapes(left_shape, right_shape):
    with pytest.raises(ValueError) as caught:
        Tensor(np.ones(left_shape)) + Tensor(np.ones(right_shape))
    assert str(left_shape) in str(caught.value) and str(right_shape) in str(caught.value)


def test_unsupported_operand_is_a_type_error():
    with pytest.raises(TypeError):
        Tensor([1.0]) + "one"


# ------------------------------------------------------------------ comparisons
@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne])
@given(data=st.data())
def test_comparisons_are_elementwise_booleans(op, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=4))
    left = data.draw(hnp.arrays(np.float32, shapes.input_shapes[0], elements=st.integers(-3, 3).map(float)))
    right = data.draw(hnp.arrays(np.float32, shapes.input_shapes[1], elements=st.integers(-3, 3).map(float)))
    result = op(Tensor(left), Tensor(right))
    assert isinstance(result, Tensor)
    np.testing.assert_array_equal(values(result), op(left, right))
    assert result.dtype == np.bool_


# ------------------------------------------------------------------ matrix multiplication
@pytest.mark.points(3)
@given(m=st.integers(1, 6), k=st.integers(1, 6), n=st.integers(1, 6), data=st.data())
def test_matmul_2d_matches_numpy(m, k, n, data):
    a = data.draw(float_arrays((m, k), magnitude=10))
    b = data.draw(float_arrays((k, n), magnitude=10))
    assert_tensor(Tensor(a) @ Tensor(b), a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    assert_tensor(Tensor(a).matmul(Tensor(b)), a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


@given(k=st.integers(1, 6), n=st.integers(1, 6), data=st.data())
def test_matmul_with_vectors(k, n, data):
    vector = data.draw(float_arrays((k,), magnitude=10))
    matrix = data.draw(float_arrays((k, n), magnitude=10))
    assert_tensor(Tensor(vector) @ Tensor(matrix), vector.astype(np.float64) @ matrix, rtol=1e-4, atol=1e-3)
    assert_tensor(Tensor(matrix.T) @ Tensor(vector), matrix.T.astype(np.float64) @ vector, rtol=1e-4, atol=1e-3)


@pytest.mark.points(2)
@given(batch=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(1, 4), n=st.integers(1, 4), data=st.data())
def test_batched_matmul_broadcasts_batch_dimensions(batch, m, k, n, data):
    a = data.draw(float_arrays((batch, m, k), magnitude=10))
    b = data.draw(float_arrays((k, n), magnitude=10))
    assert_tensor(Tensor(a) @ Tensor(b), a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    c = data.draw(float_arrays((batch, k, n), magnitude=10))
    assert_tensor(Tensor(a) @ Tensor(c), a.astype(np.float64) @ c, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("left,right", [((2, 3), (2, 3)), ((4,), (3,)), ((2, 5, 3), (4, 2))])
def test_matmul_mismatch_is_a_value_error_naming_both_shapes(left, right):
    with pytest.raises(ValueError) as caught:
        Tensor(np.ones(left)) @ Tensor(np.ones(right))
    message = str(caught.value)
    assert str(left) in message and str(right) in message, f"message should name both shapes: {message!r}"


# ------------------------------------------------------------------ shape manipulation
@pytest.mark.points(2)
@given(data=st.data())
def test_reshape_preserves_row_major_order(data):
    array = data.draw(float_arrays(max_dims=3))
    factors = [d for d in range(1, array.size + 1) if array.size % d == 0]
    rows = data.draw(st.sampled_from(factors))
    reshaped = Tensor(array).reshape(rows, array.size // rows)
    assert_tensor(reshaped, array.reshape(rows, array.size // rows), dtype=array.dtype)
    assert_tensor(Tensor(array).reshape((array.size,)), array.reshape(-1))


@given(float_arrays(min_dims=1))
def test_reshape_infers_one_minus_one(array):
    assert_tensor(Tensor(array).reshape(-1), array.reshape(-1))
    assert_tensor(Tensor(array).reshape(1, -1), array.reshape(1, -1))


def test_reshape_rejects_bad_shapes():
    tensor = Tensor(np.arange(6.0))
    with pytest.raises(ValueError, match=r"\(6,\)|6"):
        tensor.reshape(4, 2)
    with pytest.raises(ValueError):
        tensor.reshape(-1, -1)
    with pytest.raises(ValueError):
        tensor.reshape(4, -1)


@given(float_arrays(min_dims=2, max_dims=4))
def test_transpose_swaps_last_two_dimensions(array):
    assert_tensor(Tensor(array).transpose(), np.swapaxes(array, -1, -2))


@given(float_arrays(min_dims=2, max_dims=2))
def test_T_is_the_matrix_transpose(array):
    assert_tensor(Tensor(array).T, array.T)


@given(data=st.data())
def test_transpose_of_explicit_dims(data):
    array = data.draw(float_arrays(min_dims=3, max_dims=4))
    d0, d1 = data.draw(st.lists(st.integers(0, array.ndim - 1), min_size=2, max_size=2, unique=True))
    assert_tensor(Tensor(array).transpose(d0, d1), np.swapaxes(array, d0, d1))


# ------------------------------------------------------------------ reductions
@pytest.mark.points(3)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@given(data=st.data(), keepdims=st.booleans())
def test_reductions_match_numpy(name, data, keepdims):
    array = data.draw(float_arrays(min_dims=1, max_dims=3, magnitude=100, dtype=np.float64))
    axis = data.draw(st.one_of(st.none(), st.integers(-array.ndim, array.ndim - 1)))
    result = getattr(Tensor(array), name)(axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(array, axis=axis, keepdims=keepdims)
    assert_tensor(result, expected, rtol=1e-9, atol=1e-9)


def test_reduction_axis_out_of_range_is_a_value_error():
    with pytest.raises(ValueError):
        Tensor(np.ones((2, 3))).sum(axis=2)


# ------------------------------------------------------------------ element-wise math
@given(float_arrays(magnitude=20))
def test_exp_matches_numpy(array):
    assert_tensor(Tensor(array).exp(), np.exp(array), rtol=1e-6, dtype=np.float32)


@given(float_arrays(magnitude=1e4))
def test_log_and_sqrt_match_numpy_on_positive_values(array):
    positive = np.abs(array) + np.float32(1e-3)
    assert_tensor(Tensor(positive).log(), np.log(positive), rtol=1e-6, atol=1e-6)
    assert_tensor(Tensor(positive).sqrt(), np.sqrt(positive), rtol=1e-6)


@given(float_arrays(magnitude=5))
def test_log_inverts_exp(array):
    np.testing.assert_allclose(values(Tensor(array).exp().log()), array, atol=1e-5)


# ------------------------------------------------------------------ indexing and numpy()
@given(data=st.data())
def test_integer_and_slice_indexing_match_numpy(data):
    array = data.draw(float_arrays(min_dims=2, max_dims=3))
    row = data.draw(st.integers(-array.shape[0], array.shape[0] - 1))
    assert_tensor(Tensor(array)[row], array[row])
    start = data.draw(st.integers(0, array.shape[1]))
    assert_tensor(Tensor(array)[:, start:], array[:, start:])


@given(float_arrays(min_dims=1, max_dims=1))
def test_boolean_mask_indexing(array):
    mask = array > 0
    assert_tensor(Tensor(array)[Tensor(mask)], array[mask])


@given(float_arrays())
def test_numpy_returns_the_values(array):
    out = Tensor(array).numpy()
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, array)

