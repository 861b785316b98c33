"""Module 01 -- Tensor: held-out properties and edge cases."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import any_float_arrays, assert_tensor, float_arrays, values
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(1)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 4)], ids=["0", "0x3", "2x0x4"])
def test_empty_tensors_keep_shape_and_cost_nothing(shape):
    tensor = Tensor(np.zeros(shape, dtype=np.float32))
    assert tensor.shape == shape and tensor.size == 0
    assert tensor.memory_footprint() == 0
    assert_tensor(tensor + 1, np.zeros(shape) + 1)
    assert_tensor(tensor.sum(), np.float32(0))


def test_zero_d_tensors_behave_like_scalars():
    scalar = Tensor(2.5)
    assert_tensor(scalar * Tensor([1.0, 2.0]), [2.5, 5.0])
    assert scalar.item() == 2.5
    assert bool(Tensor(1.0)) is True and bool(Tensor(0.0)) is False
    with pytest.raises(TypeError):
        len(scalar)


def test_item_and_truth_value_of_many_elements_are_errors():
    with pytest.raises(ValueError):
        Tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError):
        bool(Tensor([1.0, 2.0]))


@given(hnp.arrays(np.float64, (4, 6), elements=st.floats(-10, 10)))
def test_non_contiguous_inputs(array):
    strided = array[:, ::2]
    transposed = array.T
    assert not strided.flags["C_CONTIGUOUS"] and not transposed.flags["C_CONTIGUOUS"]
    assert_tensor(Tensor(strided) + 1, strided + 1)
    assert_tensor(Tensor(transposed).reshape(-1), transposed.reshape(-1))
    assert_tensor(Tensor(transposed) @ Tensor(array), transposed @ array, rtol=1e-9, atol=1e-9)


@given(hnp.arrays(np.int64, hnp.array_shapes(max_dims=2, max_side=5), elements=st.integers(-100, 100)))
def test_integer_tensor_arithmetic_follows_numpy(array):
    tensor = Tensor(array)
    assert_tensor(tensor + tensor, array + array, dtype=np.int64)
    assert_tensor(tensor * 3, array * 3, dtype=np.int64)
    assert_tensor(tensor.sum(), array.sum(), dtype=np.int64)


def test_large_magnitudes_overflow_like_float32():
    big = Tensor(np.array([3e38], dtype=np.float32))
    assert np.isinf(values(big * 10)).all()
    assert np.isinf(values(Tensor([100.0]).exp())).all()
    assert np.isposinf(values(Tensor([1e30]) / Tensor([1e-30]))).all()


def test_division_by_zero_gives_ieee_values_not_exceptions():
    result = values(Tensor([1.0, -1.0, 0.0]) / 0.0)
    assert np.isposinf(result[0]) and np.isneginf(result[1]) and np.isnan(result[2])


def test_log_and_sqrt_of_invalid_values_follow_ieee():
    assert np.isneginf(values(Tensor([0.0]).log())).all()
    assert np.isnan(values(Tensor([-1.0]).log())).all()
    assert np.isnan(values(Tensor([-4.0]).sqrt())).all()


@given(any_float_arrays(min_dims=1, magnitude=10))
def test_float_dtype_is_preserved_through_operations(array):
    # float64 keeps precision-sensitive checks honest; float32 keeps memory and speed what they should be
    tensor, dtype = Tensor(array), array.dtype
    square = Tensor(np.ones((array.shape[-1], array.shape[-1]), dtype=dtype))
    results = {
        "+ 1.5": tensor + 1.5, "1.5 - x": 1.5 - tensor, "x * x": tensor * tensor, "x / 2": tensor / 2,
        "2 / x": 2 / tensor, "x ** 2": tensor ** 2, "2 ** x": 2 ** tensor, "-x": -tensor, "exp": tensor.exp(),
        "log": (tensor * tensor + 1).log(), "sqrt": (tensor * tensor).sqrt(), "matmul": tensor @ square,
        "sum": tensor.sum(), "sum(axis=0)": tensor.sum(axis=0), "mean": tensor.mean(),
        "mean(axis=-1, keepdims)": tensor.mean(axis=-1, keepdims=True), "max": tensor.max(),
        "max(axis=0)": tensor.max(axis=0), "reshape": tensor.reshape(-1), "transpose": tensor.T, "index": tensor[0],
    }
    changed = {name: str(result.dtype) for name, result in results.items() if result.dtype != dtype}
    assert not changed, f"{dtype} inputs must keep their dtype; these changed it: {changed}"


def test_numpy_array_on_the_left_returns_a_tensor():
    left = np.array([1.0, 2.0], dtype=np.float32)
    result = left + Tensor([1.0, 1.0])
    assert isinstance(result, Tensor)
    assert_tensor(result, [2.0, 3.0])
    product = np.eye(2, dtype=np.float32) @ Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(product, Tensor)
    assert_tensor(product, [[1.0, 2.0], [3.0, 4.0]])


def test_matmul_rejects_0d_operands_and_non_arrays():
    with pytest.raises(ValueError, match=r"\(\)"):
        Tensor(2.0) @ Tensor([1.0])
    with pytest.raises(TypeError):
        Tensor([1.0]).matmul([1.0])


def test_batched_matmul_mismatched_batches_name_both_shapes():
    with pytest.raises(ValueError) as caught:
        Tensor(np.ones((3, 2, 2))) @ Tensor(np.ones((4, 2, 2)))
    assert "(3, 2, 2)" in str(caught.value) and "(4, 2, 2)" in str(caught.value)


def test_mean_and_max_of_empty_are_value_errors():
    with pytest.raises(ValueError):
        Tensor(np.zeros((0,), dtype=np.float32)).mean()
    with pytest.raises(ValueError):
        Tensor(np.zeros((0, 2), dtype=np.float32)).max()


@given(float_arrays(min_dims=1, max_dims=1))
def test_transpose_of_vector_is_unchanged_and_bad_dims_are_errors(array):
    assert_tensor(Tensor(array).transpose(), array)
    with pytest.raises(ValueError):
        Tensor(np.ones((2, 3))).transpose(0, 5)


@given(data=st.data())
def test_integer_array_indexing(data):
    array = data.draw(float_arrays(min_dims=1, max_dims=2))
    index = data.draw(hnp.arrays(np.int64, st.integers(1, 5), elements=st.integers(0, array.shape[0] - 1)))
    assert_tensor(Tensor(array)[Tensor(index)], array[index])
    assert_tensor(Tensor(array)[index], array[index])


def test_reshape_accepts_tuple_and_zero_sized_shapes():
    assert Tensor(np.zeros((0, 3), dtype=np.float32)).reshape(3, 0).shape == (3, 0)
    assert Tensor(np.arange(12.0)).reshape((3, 4)).shape == (3, 4)
    with pytest.raises(ValueError):
        Tensor(np.arange(6.0)).reshape(-2, 3)


def test_tensor_does_not_alias_python_lists():
    items = [1.0, 2.0, 3.0]
    tensor = Tensor(items)
    items[0] = 100.0
    assert_tensor(tensor, [1.0, 2.0, 3.0])


def test_repr_names_shape_and_dtype():
    text = repr(Tensor(np.zeros((2, 3), dtype=np.float64)))
    assert "(2, 3)" in text and "float64" in text


def test_boolean_tensors_are_accepted_and_compare():
    mask = Tensor(np.array([True, False]))
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(values(Tensor([1.0, 2.0]) == Tensor([1.0, 3.0])), [True, False])


@pytest.mark.parametrize("axis", [(0, 1), (-1, 0)], ids=["axes-0-1", "axes-minus-1-0"])
def test_reductions_over_several_axes(axis):
    array = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    assert_tensor(Tensor(array).sum(axis=axis), array.sum(axis=axis))
    assert_tensor(Tensor(array).mean(axis=axis, keepdims=True), array.mean(axis=axis, keepdims=True))
    assert_tensor(Tensor(array).max(axis=axis), array.max(axis=axis))
