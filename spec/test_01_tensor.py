"""Module 01 -- Tensor: the visible specification.

Run just this module:  pytest spec/test_01_tensor.py     (or: kata test 01)
Every expected value is computed here with NumPy; the Tensor under test is only read via `.data`.
Float operations are fed both float32 and float64 (spec.support.float_dtypes) and must return the
input's dtype. Sums, means and matrix products are compared with an exact float64 oracle, allowing
the rounding that summing in the input's dtype may cause in ANY order (spec.support.summation_error_bound),
so NumPy's pairwise summation, a plain loop and float64 accumulation all pass.
"""
import operator

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import (any_float_arrays, assert_close_in_ulps, assert_tensor, assert_tensor_within,
                          elementwise_tolerance, float_arrays, float_dtypes, log_uniform_arrays,
                          matmul_error_bound, summation_error_bound, values)
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(1)

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


@given(any_float_arrays())
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


@pytest.mark.parametrize("bad", ["hello", None, {"a": 1}, [1, "x"], 1 + 2j],
                         ids=["str", "None", "dict", "list-with-str", "complex"])
def test_non_numeric_data_is_a_type_error(bad):
    with pytest.raises(TypeError):
        Tensor(bad)


def test_ragged_list_is_a_value_error_that_says_so():
    with pytest.raises(ValueError, match="ragged|rectangular"):
        Tensor([[1, 2], [3]])


# ------------------------------------------------------------------ facts: shape, size, ndim, memory
@given(any_float_arrays(max_dims=4))
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
@given(data=st.data(), dtype=float_dtypes)
def test_binary_ops_broadcast_like_numpy_and_keep_the_dtype(symbol, data, dtype):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    left = data.draw(float_arrays(shapes.input_shapes[0], dtype=dtype, magnitude=100))
    right = data.draw(float_arrays(shapes.input_shapes[1], dtype=dtype, magnitude=100))
    if symbol == "/":
        right = np.where(np.abs(right) < 1e-2, dtype(1), right)
    op = BINARY_OPS[symbol]
    result = op(Tensor(left), Tensor(right))
    # NumPy in the same dtype is the oracle: +, -, *, / are single correctly rounded IEEE operations.
    assert_tensor(result, op(left, right), dtype=dtype, **elementwise_tolerance(dtype))
    assert result.shape == shapes.result_shape


@pytest.mark.points(2)
@pytest.mark.parametrize("symbol", sorted(BINARY_OPS))
@given(array=any_float_arrays(magnitude=100), scalar=st.floats(0.5, 50, width=32))
def test_python_scalars_work_on_either_side_and_keep_the_dtype(symbol, array, scalar):
    # The scalars are exact in float32, so the result does not depend on the precision the scalar is
    # held in; a Python number must not turn a float32 tensor into float64 (or float64 into float32).
    op, dtype = BINARY_OPS[symbol], array.dtype.type
    tolerance = elementwise_tolerance(dtype)
    tensor = Tensor(array)
    assert_tensor(op(tensor, scalar), op(array, dtype(scalar)), dtype=dtype, **tolerance)
    safe = np.where(np.abs(array) < 1e-2, dtype(1), array)
    assert_tensor(op(scalar, Tensor(safe)), op(dtype(scalar), safe), dtype=dtype, **tolerance)


@given(array=any_float_arrays(magnitude=10),
       exponent=st.sampled_from([0, 1, 2, 3, 0.5]))
def test_power_matches_numpy_and_keeps_the_dtype(array, exponent):
    base = np.abs(array) if exponent == 0.5 else array
    expected = base.astype(np.float64) ** exponent  # float64 oracle: x**3 may be computed as x*x*x
    assert_tensor(Tensor(base) ** exponent, expected, dtype=array.dtype, **elementwise_tolerance(array.dtype))


@given(any_float_arrays())
def test_negation(array):
    assert_tensor(-Tensor(array), -array, dtype=array.dtype, rtol=0)


@given(any_float_arrays(magnitude=100))
def test_operations_do_not_modify_their_operands(array):
    original = array.copy()
    left = Tensor(array)
    _ = left + left, left * 2, -left, left.exp(), left.reshape(-1)
    np.testing.assert_array_equal(values(left), original)


@pytest.mark.parametrize("left_shape,right_shape", [((2, 3), (4,)), ((3, 1, 2), (3, 3)), ((5,), (2,))],
                         ids=["2x3-with-4", "3x1x2-with-3x3", "5-with-2"])
def test_incompatible_broadcast_names_both_shapes(left_shape, right_shape):
    with pytest.raises(ValueError) as caught:
        Tensor(np.ones(left_shape)) + Tensor(np.ones(right_shape))
    assert str(left_shape) in str(caught.value) and str(right_shape) in str(caught.value)


def test_unsupported_operand_is_a_type_error():
    with pytest.raises(TypeError):
        Tensor([1.0]) + "one"


# ------------------------------------------------------------------ comparisons
@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne])
@given(data=st.data(), dtype=float_dtypes)
def test_comparisons_are_elementwise_booleans(op, data, dtype):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=4))
    left = data.draw(hnp.arrays(dtype, shapes.input_shapes[0], elements=st.integers(-3, 3).map(float)))
    right = data.draw(hnp.arrays(dtype, shapes.input_shapes[1], elements=st.integers(-3, 3).map(float)))
    result = op(Tensor(left), Tensor(right))
    assert isinstance(result, Tensor)
    np.testing.assert_array_equal(values(result), op(left, right))
    assert result.dtype == np.bool_


# ------------------------------------------------------------------ matrix multiplication
def assert_matmul(result, a, b):
    """result holds a @ b in the operands' dtype, within the rounding of k-term dot products."""
    exact = a.astype(np.float64) @ b.astype(np.float64)
    assert_tensor_within(result, exact, matmul_error_bound(a, b), dtype=a.dtype)


@pytest.mark.points(3)
@given(m=st.integers(1, 6), k=st.integers(1, 6), n=st.integers(1, 6), dtype=float_dtypes, data=st.data())
def test_matmul_2d_matches_numpy(m, k, n, dtype, data):
    a = data.draw(float_arrays((m, k), dtype=dtype, magnitude=10))
    b = data.draw(float_arrays((k, n), dtype=dtype, magnitude=10))
    assert_matmul(Tensor(a) @ Tensor(b), a, b)
    assert_matmul(Tensor(a).matmul(Tensor(b)), a, b)


@given(k=st.integers(1, 6), n=st.integers(1, 6), dtype=float_dtypes, data=st.data())
def test_matmul_with_vectors(k, n, dtype, data):
    vector = data.draw(float_arrays((k,), dtype=dtype, magnitude=10))
    matrix = data.draw(float_arrays((k, n), dtype=dtype, magnitude=10))
    assert_matmul(Tensor(vector) @ Tensor(matrix), vector, matrix)
    assert_matmul(Tensor(matrix.T) @ Tensor(vector), matrix.T, vector)


@pytest.mark.points(2)
@given(batch=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(1, 4), n=st.integers(1, 4), dtype=float_dtypes,
       data=st.data())
def test_batched_matmul_broadcasts_batch_dimensions(batch, m, k, n, dtype, data):
    a = data.draw(float_arrays((batch, m, k), dtype=dtype, magnitude=10))
    b = data.draw(float_arrays((k, n), dtype=dtype, magnitude=10))
    assert_matmul(Tensor(a) @ Tensor(b), a, b)
    c = data.draw(float_arrays((batch, k, n), dtype=dtype, magnitude=10))
    assert_matmul(Tensor(a) @ Tensor(c), a, c)


@pytest.mark.parametrize("left,right", [((2, 3), (2, 3)), ((4,), (3,)), ((2, 5, 3), (4, 2))],
                         ids=["2x3-at-2x3", "4-at-3", "2x5x3-at-4x2"])
def test_matmul_mismatch_is_a_value_error_naming_both_shapes(left, right):
    with pytest.raises(ValueError) as caught:
        Tensor(np.ones(left)) @ Tensor(np.ones(right))
    message = str(caught.value)
    assert str(left) in message and str(right) in message, f"message should name both shapes: {message!r}"


# ------------------------------------------------------------------ shape manipulation
@pytest.mark.points(2)
@given(data=st.data())
def test_reshape_preserves_row_major_order(data):
    array = data.draw(any_float_arrays(max_dims=3))
    factors = [d for d in range(1, array.size + 1) if array.size % d == 0]
    rows = data.draw(st.sampled_from(factors))
    reshaped = Tensor(array).reshape(rows, array.size // rows)
    assert_tensor(reshaped, array.reshape(rows, array.size // rows), dtype=array.dtype)
    assert_tensor(Tensor(array).reshape((array.size,)), array.reshape(-1), dtype=array.dtype)


@given(any_float_arrays(min_dims=1))
def test_reshape_infers_one_minus_one(array):
    assert_tensor(Tensor(array).reshape(-1), array.reshape(-1), dtype=array.dtype)
    assert_tensor(Tensor(array).reshape(1, -1), array.reshape(1, -1), dtype=array.dtype)


def test_reshape_rejects_bad_shapes():
    tensor = Tensor(np.arange(6.0))
    with pytest.raises(ValueError, match=r"\(6,\)|6"):
        tensor.reshape(4, 2)
    with pytest.raises(ValueError):
        tensor.reshape(-1, -1)
    with pytest.raises(ValueError):
        tensor.reshape(4, -1)


@given(any_float_arrays(min_dims=2, max_dims=4))
def test_transpose_swaps_last_two_dimensions(array):
    assert_tensor(Tensor(array).transpose(), np.swapaxes(array, -1, -2), dtype=array.dtype)


@given(any_float_arrays(min_dims=2, max_dims=2))
def test_T_is_the_matrix_transpose(array):
    assert_tensor(Tensor(array).T, array.T, dtype=array.dtype)


@given(data=st.data())
def test_transpose_of_explicit_dims(data):
    array = data.draw(any_float_arrays(min_dims=3, max_dims=4))
    d0, d1 = data.draw(st.lists(st.integers(0, array.ndim - 1), min_size=2, max_size=2, unique=True))
    assert_tensor(Tensor(array).transpose(d0, d1), np.swapaxes(array, d0, d1), dtype=array.dtype)


# ------------------------------------------------------------------ reductions
def reduction_axes(ndim):
    """None, one axis (negative allowed) or a tuple of distinct axes."""
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                     st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))


@st.composite
def reduction_cases(draw, dtype):
    """(array of 1-3 dims in `dtype`, an axis argument for it)."""
    array = draw(float_arrays(min_dims=1, max_dims=3, magnitude=100, dtype=dtype))
    return array, draw(reduction_axes(array.ndim))


@pytest.mark.points(3)
@given(data=st.data(), dtype=float_dtypes, keepdims=st.booleans())
def test_sum_matches_the_exact_sum_and_keeps_the_dtype(data, dtype, keepdims):
    array, axis = data.draw(reduction_cases(dtype))
    result = Tensor(array).sum(axis=axis, keepdims=keepdims)
    # Exact oracle (float64) and the rounding any summation order may make in `dtype`, scaled by
    # sum(|x|): a relative tolerance would wrongly fail correct code when the terms cancel.
    exact = array.astype(np.float64).sum(axis=axis, keepdims=keepdims)
    assert_tensor_within(result, exact, summation_error_bound(array, axis, keepdims), dtype=dtype)


@pytest.mark.points(3)
@given(data=st.data(), dtype=float_dtypes, keepdims=st.booleans())
def test_mean_matches_the_exact_mean_and_keeps_the_dtype(data, dtype, keepdims):
    # "float inputs keep their dtype": a float32 mean must not come back as float64.
    array, axis = data.draw(reduction_cases(dtype))
    result = Tensor(array).mean(axis=axis, keepdims=keepdims)
    exact = array.astype(np.float64).mean(axis=axis, keepdims=keepdims)
    count = array.size // exact.size
    # the sum's rounding divided by the count (summation_error_bound's margin covers the division)
    bound = summation_error_bound(array, axis, keepdims) / count + np.finfo(dtype).tiny
    assert_tensor_within(result, exact, bound, dtype=dtype)


@pytest.mark.points(2)
@given(data=st.data(), dtype=float_dtypes, keepdims=st.booleans())
def test_max_is_exactly_the_largest_element_and_keeps_the_dtype(data, dtype, keepdims):
    array, axis = data.draw(reduction_cases(dtype))
    result = Tensor(array).max(axis=axis, keepdims=keepdims)
    # choosing an element involves no rounding, so the match is exact
    assert_tensor(result, np.max(array, axis=axis, keepdims=keepdims), dtype=dtype, rtol=0)


def test_reduction_axis_out_of_range_is_a_value_error():
    with pytest.raises(ValueError):
        Tensor(np.ones((2, 3))).sum(axis=2)


# ------------------------------------------------------------------ element-wise math
# Oracles in float64 from the very same input values: the only difference allowed is the rounding
# of one function evaluation in the input's dtype, which must be kept.
@given(any_float_arrays(magnitude=20))
def test_exp_matches_numpy_and_keeps_the_dtype(array):
    expected = np.exp(array.astype(np.float64))
    assert_tensor(Tensor(array).exp(), expected, dtype=array.dtype, **elementwise_tolerance(array.dtype))


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_expm1_and_log1p_keep_full_precision_near_zero(dtype, data):
    # exp(1e-8) is 1.0 in float32, so exp(x) - 1 returns 0 there; expm1 must return 1e-8. The same
    # holds for log(1 + x) and log1p. Each result is held to a few units in the last place.
    x = data.draw(log_uniform_arrays(dtype, -30, 1.5))  # |x| from 1e-30 to about 30
    result = Tensor(x).expm1()
    assert result.dtype == dtype, f"expm1 dtype: expected {np.dtype(dtype)}, got {result.dtype}"
    assert_close_in_ulps(values(result), np.expm1(x.astype(np.float64)), dtype, ulps=2)
    above_minus_one = np.where(np.abs(x) < 1, x, np.abs(x))  # log1p needs x > -1
    result = Tensor(above_minus_one).log1p()
    assert result.dtype == dtype, f"log1p dtype: expected {np.dtype(dtype)}, got {result.dtype}"
    assert_close_in_ulps(values(result), np.log1p(above_minus_one.astype(np.float64)), dtype, ulps=2)


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [0, -1, (0,)], ids=["axis-0", "axis-minus-1", "axis-tuple-0"])
def test_a_0d_tensor_has_no_axis_to_reduce_over(name, axis):
    # One rule for all three reductions: a 0-d tensor reduces only with axis=None.
    scalar = Tensor(np.float32(2.5))
    assert_tensor(getattr(scalar, name)(), 2.5, dtype=np.float32)
    with pytest.raises(ValueError, match="out of range"):
        getattr(scalar, name)(axis=axis)


def test_log1p_of_minus_one_is_minus_infinity_without_a_warning():
    with np.errstate(all="raise"):
        got = values(Tensor(np.array([-1.0, -2.0])).log1p())
    assert got[0] == -np.inf and np.isnan(got[1])


@given(any_float_arrays(magnitude=1e4))
def test_log_and_sqrt_match_numpy_on_positive_values_and_keep_the_dtype(array):
    positive = np.abs(array) + array.dtype.type(1e-3)
    tolerance = elementwise_tolerance(array.dtype)
    assert_tensor(Tensor(positive).log(), np.log(positive.astype(np.float64)), dtype=array.dtype, **tolerance)
    assert_tensor(Tensor(positive).sqrt(), np.sqrt(positive.astype(np.float64)), dtype=array.dtype, **tolerance)


@given(any_float_arrays(magnitude=5))
def test_log_inverts_exp(array):
    # log(exp(x) * (1 + d)) = x + log(1 + d): exp's few-ulp relative error d comes back as an
    # absolute error, plus one rounding of |x| <= 5
    atol = 1e-5 if array.dtype == np.float32 else 1e-12
    assert_tensor(Tensor(array).exp().log(), array, dtype=array.dtype, rtol=0, atol=atol)


# ------------------------------------------------------------------ indexing and numpy()
@given(data=st.data())
def test_integer_and_slice_indexing_match_numpy(data):
    array = data.draw(any_float_arrays(min_dims=2, max_dims=3))
    row = data.draw(st.integers(-array.shape[0], array.shape[0] - 1))
    assert_tensor(Tensor(array)[row], array[row], dtype=array.dtype)
    start = data.draw(st.integers(0, array.shape[1]))
    assert_tensor(Tensor(array)[:, start:], array[:, start:], dtype=array.dtype)


@given(any_float_arrays(min_dims=1, max_dims=1))
def test_boolean_mask_indexing(array):
    mask = array > 0
    assert_tensor(Tensor(array)[Tensor(mask)], array[mask], dtype=array.dtype)


@given(any_float_arrays())
def test_numpy_returns_the_values(array):
    out = Tensor(array).numpy()
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, array)

