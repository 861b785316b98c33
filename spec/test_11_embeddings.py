"""Module 11 -- Embeddings: the visible specification.

Run just this module:  pytest spec/test_11_embeddings.py     (or: kata test 11)
Lookups are compared with NumPy row gathers of the table's own `.data`; gradients with an
independent np.add.at computation and with float64 central finite differences (rtol=1e-6,
atol=1e-8 unless a test says); position codes with the closed form written out in the test.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import (assert_gradients_close, assert_tensor, examples, float_arrays, float_dtypes,
                          numerical_gradient, values)
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.embeddings import (
    Embedding,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    embedding_table_bytes,
    sinusoidal_positional_encoding,
)
from tinytorch.core.layers import Parameter
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(11)

SIZES = st.integers(1, 8)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def id_arrays(num_embeddings, min_dims=0, max_dims=3, max_side=4):
    """Integer id arrays of any shape (including 0-d and empty) with ids in [0, num_embeddings)."""
    return hnp.arrays(st.sampled_from([np.int64, np.int32, np.uint8]),
                      hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side),
                      elements=st.integers(0, num_embeddings - 1))


def expected_code(max_seq_len, dim):
    """The sinusoidal position code written out element by element (float64)."""
    table = np.zeros((max_seq_len, dim))
    for pos in range(max_seq_len):
        for column in range(dim):
            pair = column // 2
            angle = pos * math.exp(-math.log(10000.0) * (2 * pair) / dim)
            table[pos, column] = math.sin(angle) if column % 2 == 0 else math.cos(angle)
    return table


def scatter_add(num_embeddings, dim, ids, upstream):
    """The table gradient of a lookup: every occurrence of an id adds its upstream row."""
    grad = np.zeros((num_embeddings, dim))
    np.add.at(grad, ids, upstream)
    return grad


# ---------------------------------------------------------------- Embedding: lookup
@pytest.mark.points(3)
@given(num_embeddings=st.integers(1, 12), dim=SIZES, data=st.data())
def test_lookup_equals_numpy_row_gather(num_embeddings, dim, data):
    ids = data.draw(id_arrays(num_embeddings))
    table = Embedding(num_embeddings, dim, seed=0)
    out = table(ids)
    assert_tensor(out, values(table.weight)[ids.astype(np.int64)], rtol=0, dtype=np.float32)
    assert out.shape == ids.shape + (dim,), "ids of shape S give vectors of shape (*S, embedding_dim)"


def test_lookup_accepts_lists_and_integer_tensors():
    table = Embedding(6, 3, seed=1)
    weight = values(table.weight)
    assert_tensor(table([[0, 5], [5, 2]]), weight[np.array([[0, 5], [5, 2]])], rtol=0)
    ids = np.array([4, 4, 1], dtype=np.int64)
    assert_tensor(table(Tensor(ids)), weight[ids], rtol=0)


@given(num_embeddings=st.integers(1, 20), dim=SIZES, seed=st.integers(0, 2**16))
def test_table_shape_dtype_and_seed(num_embeddings, dim, seed):
    table = Embedding(num_embeddings, dim, seed=seed)
    assert isinstance(table.weight, Parameter)
    assert table.weight.shape == (num_embeddings, dim)
    assert table.weight.dtype == np.float32
    np.testing.assert_array_equal(values(Embedding(num_embeddings, dim, seed=seed).weight), values(table.weight))
    assert [name for name, _ in table.named_parameters()] == ["weight"]


def test_default_initialization_is_small_normal():
    weight = values(Embedding(400, 50, seed=3).weight).astype(np.float64)
    assert abs(weight.mean()) < 0.002, "the table starts centred on 0"
    assert 0.018 < weight.std() < 0.022, f"the table starts N(0, 0.02^2), got std {weight.std():.4f}"
    assert not np.array_equal(values(Embedding(4, 4, seed=1).weight), values(Embedding(4, 4, seed=2).weight))


# ---------------------------------------------------------------- Embedding: gradient
@pytest.mark.points(3)
@given(num_embeddings=st.integers(1, 6), dim=st.integers(1, 4), data=st.data())
def test_gradient_scatter_adds_into_repeated_ids(num_embeddings, dim, data):
    # Few ids and many positions: repeats are the common case.
    ids = data.draw(id_arrays(num_embeddings, min_dims=1, max_dims=2, max_side=6))
    upstream = data.draw(float_arrays(ids.shape + (dim,), dtype=np.float64, magnitude=5))
    table = Embedding(num_embeddings, dim, seed=0)
    table.weight.data = values(table.weight).astype(np.float64)
    (table(ids) * Tensor(upstream)).sum().backward()
    assert table.weight.grad is not None, "the lookup must send a gradient to the table"
    assert_tensor(table.weight.grad, scatter_add(num_embeddings, dim, ids, upstream), rtol=1e-12, atol=1e-12)


@pytest.mark.points(2)
@settings(max_examples=examples(15))
@given(num_embeddings=st.integers(1, 5), dim=st.integers(1, 3), data=st.data())
def test_gradient_matches_finite_differences_in_float64(num_embeddings, dim, data):
    ids = data.draw(id_arrays(num_embeddings, min_dims=1, max_dims=2, max_side=4))
    upstream = np.random.default_rng(0).normal(size=ids.shape + (dim,))
    table = Embedding(num_embeddings, dim, seed=2)
    weight = values(table.weight).astype(np.float64)

    def scalar(w):
        table.weight.data = w
        return float((values(table(ids)).astype(np.float64) * upstream).sum())

    numeric = numerical_gradient(scalar, weight)
    table.weight.data = weight.copy()
    table.weight.grad = None
    (table(ids) * Tensor(upstream)).sum().backward()
    assert_gradients_close(table.weight.grad, numeric, rtol=1e-6, atol=1e-8, name="Embedding.weight")


def test_rows_of_unseen_ids_get_zero_gradient():
    table = Embedding(5, 2, seed=0)
    table(np.array([[3, 3], [3, 0]])).sum().backward()
    np.testing.assert_array_equal(values(table.weight.grad), [[1, 1], [0, 0], [0, 0], [3, 3], [0, 0]])


# ---------------------------------------------------------------- Embedding: errors
@pytest.mark.parametrize("bad", [-1, 7, 12], ids=["negative", "equal-to-size", "too-large"])
def test_out_of_range_id_is_a_value_error_naming_it(bad):
    table = Embedding(7, 2, seed=0)
    with pytest.raises(ValueError) as caught:
        table(np.array([[0, 1], [bad, 2]]))
    message = str(caught.value)
    assert str(bad) in message, f"the message should name the bad id {bad}: {message}"
    assert "6" in message or "7" in message, f"the message should give the valid range 0..6: {message}"


NON_INTEGER_IDS = {
    "float64-array": lambda: np.array([0.0, 1.0]),
    "bool-array": lambda: np.array([True, False]),
    "float32-tensor": lambda: Tensor([1, 2]),  # lists become float32 Tensors (module 01 dtype policy)
    "float-list": lambda: [0.5, 1.0],
}


@pytest.mark.parametrize("kind", sorted(NON_INTEGER_IDS))
def test_non_integer_ids_are_a_type_error_naming_the_dtype(kind):
    table = Embedding(4, 2, seed=0)
    ids = NON_INTEGER_IDS[kind]()
    with pytest.raises(TypeError) as caught:
        table(ids)
    dtype = (values(ids) if isinstance(ids, Tensor) else np.asarray(ids)).dtype
    assert str(dtype) in str(caught.value), f"the message should name the dtype {dtype}: {caught.value}"


# ---------------------------------------------------------------- sinusoidal position code
@pytest.mark.points(3)
@given(max_seq_len=st.integers(1, 40), dim=st.integers(1, 32))
def test_sinusoidal_code_matches_the_closed_form(max_seq_len, dim):
    code = sinusoidal_positional_encoding(max_seq_len, dim)
    assert isinstance(code, np.ndarray) and code.dtype == np.float32
    assert code.shape == (max_seq_len, dim)
    np.testing.assert_allclose(code, expected_code(max_seq_len, dim), rtol=0, atol=2e-6)


@given(max_seq_len=st.integers(1, 60), dim=st.integers(1, 33))
def test_sinusoidal_values_are_bounded_and_position_zero_alternates(max_seq_len, dim):
    code = sinusoidal_positional_encoding(max_seq_len, dim)
    assert np.all(code >= -1.0) and np.all(code <= 1.0)
    np.testing.assert_array_equal(code[0], np.arange(dim) % 2, err_msg="PE[0] is [0, 1, 0, 1, ...]")


@pytest.mark.points(2)
@given(dim=st.integers(1, 16).map(lambda half: 2 * half), offset=st.integers(0, 12))
def test_dot_products_depend_only_on_the_offset(dim, offset):
    code = sinusoidal_positional_encoding(40, dim).astype(np.float64)
    dots = np.array([code[p] @ code[p + offset] for p in range(40 - offset)])
    frequencies = 10000.0 ** (-np.arange(0, dim, 2) / dim)
    expected = np.cos(offset * frequencies).sum()  # sin(a)sin(b) + cos(a)cos(b) = cos(a - b), per pair
    np.testing.assert_allclose(dots, np.full_like(dots, expected), rtol=0, atol=1e-5)


@pytest.mark.points(2)
@given(batch=st.integers(1, 3), seq_len=st.integers(1, 6), dim=SIZES, dtype=float_dtypes, data=st.data())
def test_sinusoidal_module_adds_the_code_and_has_no_parameters(batch, seq_len, dim, dtype, data):
    module = SinusoidalPositionalEncoding(6, dim)
    assert module.num_parameters() == 0 and module.parameters() == []
    x = data.draw(float_arrays((batch, seq_len, dim), dtype=dtype, magnitude=5))
    # The code is float32 (off by up to a few 1e-7 from the exact values) cast to x's dtype; a float32
    # sum adds one more rounding of a value up to 6 (3.6e-7).
    atol = 2e-6 if dtype == np.float32 else 1e-6
    assert_tensor(module(Tensor(x)), x + expected_code(seq_len, dim), rtol=0, atol=atol, dtype=dtype)


# ---------------------------------------------------------------- learned position table
@given(batch=st.integers(1, 3), seq_len=st.integers(1, 5), dim=SIZES, dtype=float_dtypes, data=st.data())
def test_learned_positions_add_the_first_rows(batch, seq_len, dim, dtype, data):
    module = LearnedPositionalEmbedding(5, dim, seed=4)
    assert isinstance(module.weight, Parameter) and module.weight.shape == (5, dim)
    assert module.num_parameters() == 5 * dim
    x = data.draw(float_arrays((batch, seq_len, dim), dtype=dtype, magnitude=5))
    # one addition, float32 table + x: NumPy in the same dtypes is exact to the last bit
    assert_tensor(module(Tensor(x)), x + values(module.weight)[:seq_len], rtol=0, dtype=dtype)


@pytest.mark.points(2)
@given(batch=st.integers(1, 3), seq_len=st.integers(1, 6), dim=st.integers(1, 4), data=st.data())
def test_learned_gradient_reaches_only_the_first_rows(batch, seq_len, dim, data):
    module = LearnedPositionalEmbedding(6, dim, seed=0)
    module.weight.data = values(module.weight).astype(np.float64)
    upstream = data.draw(float_arrays((batch, seq_len, dim), dtype=np.float64, magnitude=5))
    x = Tensor(np.zeros((batch, seq_len, dim)), requires_grad=True)
    (module(x) * Tensor(upstream)).sum().backward()
    expected = np.zeros((6, dim))
    expected[:seq_len] = upstream.sum(axis=0)
    assert_tensor(module.weight.grad, expected, rtol=1e-12, atol=1e-12)
    assert_tensor(x.grad, upstream, rtol=0)


# ---------------------------------------------------------------- shape errors
MODULES = {
    "sinusoidal": lambda: SinusoidalPositionalEncoding(4, 3),
    "learned": lambda: LearnedPositionalEmbedding(4, 3, seed=0),
}


@pytest.mark.parametrize("kind", sorted(MODULES))
def test_sequence_longer_than_max_seq_len_is_a_value_error(kind):
    module = MODULES[kind]()
    module(Tensor(np.zeros((2, 4, 3))))  # exactly max_seq_len is fine
    with pytest.raises(ValueError) as caught:
        module(Tensor(np.zeros((2, 5, 3))))
    message = str(caught.value)
    assert "5" in message and "4" in message, f"name the length that arrived and the maximum: {message}"
    assert re.search(r"max_seq_len|max(imum)? seq(uence)? len(gth)?", message, re.IGNORECASE), (
        f"say that max_seq_len was exceeded (not just a broadcasting failure): {message}")


@pytest.mark.parametrize("kind", sorted(MODULES))
def test_wrong_vector_size_is_a_value_error(kind):
    module = MODULES[kind]()
    with pytest.raises(ValueError) as caught:
        module(Tensor(np.zeros((2, 3, 5))))
    message = str(caught.value)
    assert "5" in message and "3" in message, f"name the size that arrived and the expected one: {message}"
    assert re.search(r"embedding[_ ]dim", message, re.IGNORECASE), (
        f"say that the last dimension must be embedding_dim (not just a broadcasting failure): {message}")


# ---------------------------------------------------------------- systems: table memory
@given(num_embeddings=st.integers(1, 3000), dim=st.integers(1, 300),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]))
def test_embedding_table_bytes(num_embeddings, dim, dtype):
    assert embedding_table_bytes(num_embeddings, dim, dtype=dtype) == num_embeddings * dim * np.dtype(dtype).itemsize
    assert embedding_table_bytes(num_embeddings, dim) == num_embeddings * dim * 4


@given(num_embeddings=st.integers(1, 500), dim=st.integers(1, 64))
def test_table_bytes_agree_with_the_module(num_embeddings, dim):
    table = Embedding(num_embeddings, dim, seed=0)
    assert table.num_parameters() == num_embeddings * dim
    assert table.parameter_bytes() == embedding_table_bytes(num_embeddings, dim) == num_embeddings * dim * 4


def test_a_large_vocabulary_table():
    assert embedding_table_bytes(50_000, 768) == 153_600_000  # ~154 MB before any other layer
