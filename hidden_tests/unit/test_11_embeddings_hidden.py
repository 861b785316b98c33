"""Module 11 -- Embeddings: held-out checks (dtypes, 0-d ids, shared tables, training steps, odd sizes).

Values are compared with NumPy computations written here; gradients with np.add.at and with
float64 central finite differences over every element (spec.support).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import (assert_gradients_close, assert_tensor, check_gradients, examples, float_arrays,
                          numerical_gradient, values)
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.embeddings import (
    Embedding,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    embedding_table_bytes,
    sinusoidal_positional_encoding,
)
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(11)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint64])
def test_every_integer_dtype_and_a_single_id(dtype):
    table = Embedding(9, 3, seed=5)
    weight = values(table.weight)
    assert_tensor(table(np.array([[8, 0, 8]], dtype=dtype)), weight[[[8, 0, 8]]], rtol=0)
    single = table(np.array(4, dtype=dtype))
    assert single.shape == (3,), "a 0-d id gives one vector of shape (embedding_dim,)"
    assert_tensor(single, weight[4], rtol=0)


def test_python_int_and_empty_list():
    table = Embedding(3, 2, seed=0)
    assert_tensor(table(2), values(table.weight)[2], rtol=0)
    assert table([]).shape == (0, 2)


def test_float64_table_gives_float64_vectors():
    table = Embedding(4, 2, seed=0)
    table.weight.data = values(table.weight).astype(np.float64)
    out = table(np.array([1, 3]))
    assert out.dtype == np.float64
    assert_tensor(out, values(table.weight)[[1, 3]], rtol=0)


@pytest.mark.points(2)
@settings(max_examples=examples(15))
@given(data=st.data())
def test_finite_differences_through_a_nonlinear_use(data):
    # Two lookups of the same table in one expression, squared: repeated ids and a shared table.
    ids_a = data.draw(hnp.arrays(np.int64, (2, 3), elements=st.integers(0, 3)))
    ids_b = data.draw(hnp.arrays(np.int64, (2, 3), elements=st.integers(0, 3)))
    table = Embedding(4, 2, seed=7)
    weight = values(table.weight).astype(np.float64) * 10
    upstream = np.random.default_rng(1).normal(size=(2, 3, 2))

    def scalar(w):
        table.weight.data = w
        a, b = values(table(ids_a)).astype(np.float64), values(table(ids_b)).astype(np.float64)
        return float(((a * b + a * a) * upstream).sum())

    numeric = numerical_gradient(scalar, weight)
    table.weight.data = weight.copy()
    table.weight.grad = None
    a, b = table(ids_a), table(ids_b)
    ((a * b + a * a) * Tensor(upstream)).sum().backward()
    assert_gradients_close(table.weight.grad, numeric, rtol=1e-6, atol=1e-8, name="Embedding.weight")


def test_sgd_step_moves_only_the_rows_that_were_looked_up():
    table = Embedding(6, 3, seed=0)
    before = values(table.weight).copy()
    optimizer = SGD(table.parameters(), lr=0.5)
    optimizer.zero_grad()
    table(np.array([[1, 4], [4, 4]])).sum().backward()
    optimizer.step()
    after = values(table.weight)
    expected = before.copy()
    expected[1] -= 0.5 * 1
    expected[4] -= 0.5 * 3
    np.testing.assert_allclose(after, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("ids, bad", [(np.array([[0, 2], [3, 9]]), 9), (np.array([[-4, 0]]), -4),
                                      ([1, 2, 1000], 1000)], ids=["2d-too-large", "2d-negative", "list"])
def test_out_of_range_message_in_any_shape(ids, bad):
    with pytest.raises(ValueError) as caught:
        Embedding(5, 2, seed=0)(ids)
    message = str(caught.value)
    assert str(bad) in message and "4" in message, f"name the bad id and the valid range 0..4: {message}"


@pytest.mark.parametrize("make", [
    lambda bad: Embedding(bad, 2), lambda bad: Embedding(2, bad),
    lambda bad: SinusoidalPositionalEncoding(bad, 2), lambda bad: LearnedPositionalEmbedding(2, bad),
    lambda bad: sinusoidal_positional_encoding(bad, 4), lambda bad: embedding_table_bytes(bad, 4),
], ids=["vocab", "dim", "sin-len", "learned-dim", "code-len", "bytes-rows"])
@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_sizes_must_be_positive_integers(make, bad):
    with pytest.raises(ValueError):
        make(bad)


@given(max_seq_len=st.integers(1, 30), half=st.integers(0, 10))
def test_odd_size_keeps_a_final_sine_column(max_seq_len, half):
    dim = 2 * half + 1
    code = sinusoidal_positional_encoding(max_seq_len, dim).astype(np.float64)
    positions = np.arange(max_seq_len)
    np.testing.assert_allclose(code[:, -1], np.sin(positions / 10000.0 ** ((dim - 1) / dim)), rtol=0, atol=2e-6)
    even = sinusoidal_positional_encoding(max_seq_len, dim + 1).astype(np.float64)
    # Each pair shares its frequency: sin^2 + cos^2 = 1.
    np.testing.assert_allclose(even[:, 0::2] ** 2 + even[:, 1::2] ** 2, 1.0, rtol=0, atol=1e-6)


@pytest.mark.points(2)
@given(half=st.integers(1, 8), offset=st.integers(1, 10))
def test_a_fixed_rotation_maps_every_position_to_position_plus_offset(half, offset):
    dim = 2 * half
    code = sinusoidal_positional_encoding(30, dim).astype(np.float64)
    step = offset * 10000.0 ** (-np.arange(0, dim, 2) / dim)
    sin_now, cos_now = code[:-offset, 0::2], code[:-offset, 1::2]
    np.testing.assert_allclose(code[offset:, 0::2], sin_now * np.cos(step) + cos_now * np.sin(step), rtol=0, atol=2e-6)
    np.testing.assert_allclose(code[offset:, 1::2], cos_now * np.cos(step) - sin_now * np.sin(step), rtol=0, atol=2e-6)


@given(batch=st.integers(1, 2), seq_len=st.integers(1, 4), dim=st.integers(1, 4), data=st.data())
def test_sinusoidal_module_keeps_float64_and_passes_gradient_unchanged(batch, seq_len, dim, data):
    module = SinusoidalPositionalEncoding(4, dim)
    x = data.draw(float_arrays((batch, seq_len, dim), dtype=np.float64, magnitude=3))
    out = module(Tensor(x))
    assert out.dtype == np.float64
    check_gradients(module, x)


@settings(max_examples=examples(15))
@given(batch=st.integers(1, 2), seq_len=st.integers(1, 3), dim=st.integers(1, 3), data=st.data())
def test_learned_positions_finite_differences_for_input_and_table(batch, seq_len, dim, data):
    module = LearnedPositionalEmbedding(4, dim, seed=3)
    x = data.draw(float_arrays((batch, seq_len, dim), dtype=np.float64, magnitude=3))
    weight = values(module.weight).astype(np.float64)

    def apply(inp, w):
        module.weight.data = values(w)
        out = module(inp)
        return out * out  # a nonlinear use, so the gradient depends on the values

    check_gradients(lambda inp: apply(inp, Tensor(weight)), x)
    upstream = np.random.default_rng(0).normal(size=x.shape)
    numeric = numerical_gradient(lambda w: float((values(apply(Tensor(x), Tensor(w))) * upstream).sum()), weight)
    module.weight.data = weight.copy()
    module.weight.grad = None
    (apply(Tensor(x), module.weight) * Tensor(upstream)).sum().backward()
    assert_gradients_close(module.weight.grad, numeric, rtol=1e-6, atol=1e-8, name="LearnedPositionalEmbedding.weight")
    assert np.all(values(module.weight.grad)[seq_len:] == 0)


def test_learned_table_seed_and_initial_scale():
    a = LearnedPositionalEmbedding(300, 40, seed=9)
    np.testing.assert_array_equal(values(a.weight), values(LearnedPositionalEmbedding(300, 40, seed=9).weight))
    assert a.weight.dtype == np.float32
    assert 0.018 < values(a.weight).astype(np.float64).std() < 0.022


@pytest.mark.parametrize("make", [lambda: SinusoidalPositionalEncoding(4, 2), lambda: LearnedPositionalEmbedding(4, 2, seed=0)],
                         ids=["sinusoidal", "learned"])
def test_positional_modules_reject_non_tensors_and_vectors(make):
    module = make()
    with pytest.raises(TypeError):
        module(np.zeros((1, 2, 2)))
    with pytest.raises(ValueError):
        module(Tensor(np.zeros(2)))


@pytest.mark.points(2)
def test_ids_to_positioned_vectors_end_to_end():
    tokens = Embedding(10, 4, seed=1)
    positions = LearnedPositionalEmbedding(8, 4, seed=2)
    ids = np.array([[1, 2, 2], [9, 1, 0]])
    out = positions(tokens(ids))
    expected = values(tokens.weight)[ids] + values(positions.weight)[:3]
    assert_tensor(out, expected, rtol=1e-6)
    out.sum().backward()
    token_grad = np.zeros((10, 4))
    np.add.at(token_grad, ids, np.ones((2, 3, 4)))
    assert_tensor(tokens.weight.grad, token_grad, rtol=0)
    position_grad = np.zeros((8, 4))
    position_grad[:3] = 2
    assert_tensor(positions.weight.grad, position_grad, rtol=0)
