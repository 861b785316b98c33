"""Module 13 -- Transformers: the visible specification.

Run just this module:  pytest spec/test_13_transformers.py     (or: kata test 13)
LayerNorm and FeedForward are compared with independent NumPy formulas written below; gradients
of LayerNorm, FeedForward and a tiny TransformerBlock are float64 central finite differences over
EVERY element of the input and of every parameter (rtol=1e-5, atol=1e-7 unless a test says).
The GPT is checked by its properties: causality (the logits at position t ignore tokens after t),
generation (deterministic for a seed, greedy = argmax of forward's last position, context cropped
to max_seq_len), dropout only in train(), initial loss near log(vocab_size), the closed-form
parameter count, the per-layer memory numbers, and a backward whose graph grows linearly with depth.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import assert_gradients_close, examples, float_arrays, float_dtypes, numerical_gradient_of, values
from tinytorch.core.attention import causal_mask
from tinytorch.core.autograd import enable_autograd, graph_size, no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import (GPT, FeedForward, LayerNorm, TransformerBlock, gpt_parameter_count,
                                        memory_profile)

pytestmark = pytest.mark.module(13)

GELU_C = math.sqrt(2.0 / math.pi)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


# ---------------------------------------------------------------- independent oracles and helpers
def numpy_layernorm(x, gamma, beta, eps=1e-5):
    """(x - mean) / sqrt(biased var + eps) * gamma + beta over the last axis, in float64."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def numpy_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(GELU_C * (x + 0.044715 * x ** 3)))


def numpy_feedforward(ffn, x):
    hidden = numpy_gelu(x @ values(ffn.fc1.weight).astype(np.float64) + values(ffn.fc1.bias))
    return hidden @ values(ffn.fc2.weight).astype(np.float64) + values(ffn.fc2.bias)


def spread_rows(array, scale=2.0):
    """Add a fixed ramp to every row so no row is (nearly) constant (LayerNorm is smooth there)."""
    return array + scale * np.linspace(-1.0, 1.0, array.shape[-1])


def to_float64(module):
    for parameter in module.parameters():
        parameter.data = values(parameter).astype(np.float64)


def check_module_gradients(module, forward, x=None, *, rtol=1e-5, atol=1e-7, seed=0):
    """Finite-difference check of every element of every parameter (and of x when given).

    forward(input_tensor_or_None) -> Tensor. The checked scalar is sum(forward(.) * W) for a fixed
    random W. Parameters are cast to float64 first; nothing here decides equality with the code
    under test: the numeric gradient comes from forward values only.
    """
    to_float64(module)
    x_tensor = None if x is None else Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    out = forward(x_tensor)
    weights = np.random.default_rng(seed).normal(size=values(out).shape)
    (out * Tensor(weights)).sum().backward()

    def weighted_sum(data):
        return float((data * weights).sum())

    numeric = {}
    with no_grad():  # one block around every evaluation: only forward values are needed
        fixed_input = None if x is None else Tensor(np.array(x, dtype=np.float64))
        for name, parameter in module.named_parameters():
            original = values(parameter).copy()

            def output_at(value, parameter=parameter):
                parameter.data = value
                return forward(fixed_input)

            numeric[name] = numerical_gradient_of(output_at, weighted_sum, original)
            parameter.data = original
        if x is not None:
            numeric["input"] = numerical_gradient_of(lambda value: forward(Tensor(value)), weighted_sum,
                                                     np.array(x, dtype=np.float64))
    for name, parameter in module.named_parameters():
        assert_gradients_close(parameter.grad, numeric[name], rtol=rtol, atol=atol, name=name)
    if x is not None:
        assert_gradients_close(x_tensor.grad, numeric["input"],
                               rtol=rtol, atol=atol, name="input")


def tiny_gpt(**overrides):
    sizes = dict(vocab_size=11, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=6, seed=0)
    sizes.update(overrides)
    return GPT(**sizes)


def token_ids(rng, shape, vocab):
    return rng.integers(0, vocab, size=shape).astype(np.int64)


# ---------------------------------------------------------------- LayerNorm
@pytest.mark.points(2)
@given(x=float_arrays(dtype=np.float64, magnitude=100, min_dims=1, max_dims=3, max_side=6))
def test_layernorm_rows_have_mean_zero_and_variance_var_over_var_plus_eps(x):
    out = values(LayerNorm(x.shape[-1])(Tensor(x)))
    assert out.shape == x.shape and out.dtype == np.float64
    var = x.var(axis=-1)  # biased: divide by D
    np.testing.assert_allclose(out.mean(axis=-1), 0.0, atol=1e-9)
    # eps sits inside the square root, so each row's variance is var / (var + eps): 1 unless var ~ eps.
    np.testing.assert_allclose(out.var(axis=-1), var / (var + 1e-5), rtol=1e-7, atol=1e-9)


@pytest.mark.points(2)
@given(data=st.data(), dtype=float_dtypes)
def test_layernorm_matches_numpy_formula_with_gamma_and_beta(data, dtype):
    x = data.draw(float_arrays(dtype=dtype, magnitude=10, min_dims=1, max_dims=3, max_side=5))
    dim = x.shape[-1]
    gamma = data.draw(float_arrays((dim,), dtype=np.float32, magnitude=3))
    beta = data.draw(float_arrays((dim,), dtype=np.float32, magnitude=3))
    eps = data.draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    norm = LayerNorm(dim, eps=eps)
    norm.gamma.data, norm.beta.data = gamma, beta
    out = norm(Tensor(x))
    assert values(out).dtype == np.dtype(dtype), "float32 stays float32, float64 stays float64"
    expected = numpy_layernorm(x, gamma, beta, eps)
    # x - mean is only as exact as the mean, which rounds by up to ~2 (D + 1) eps max|x| in x's dtype;
    # dividing by sqrt(var + eps) >= sqrt(eps) magnifies that for (nearly) constant rows: a float32
    # row of 6.25s gives about 1.5e-4 instead of 0 with eps = 1e-5, in any correct implementation.
    x64 = x.astype(np.float64)
    mean_error = 2 * (dim + 1) * float(np.finfo(dtype).eps) * np.abs(x64).max(axis=-1, keepdims=True)
    amplified = np.abs(gamma).max() * mean_error / np.sqrt(x64.var(axis=-1, keepdims=True) + eps)
    tolerance = 1e-4 if dtype == np.float32 else 1e-9
    error = np.abs(values(out).astype(np.float64) - expected)
    allowed = tolerance * (1 + np.abs(expected)) + amplified
    worst = np.unravel_index(np.argmax(error - allowed), error.shape)
    assert (error <= allowed).all(), f"error {error[worst]:.3g} at {worst}, where {allowed[worst]:.3g} is allowed"


@pytest.mark.points(3)
@settings(max_examples=examples(30))
@given(data=st.data())
def test_layernorm_gradients_for_input_gamma_and_beta(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    x = spread_rows(data.draw(float_arrays(shape, dtype=np.float64, magnitude=1)))
    norm = LayerNorm(shape[-1])
    norm.gamma.data = 1.0 + np.random.default_rng(1).normal(size=shape[-1])
    norm.beta.data = np.random.default_rng(2).normal(size=shape[-1])
    check_module_gradients(norm, norm, x)


def test_layernorm_starts_as_ones_and_zeros_and_checks_inputs():
    norm = LayerNorm(5)
    np.testing.assert_array_equal(values(norm.gamma), np.ones(5))
    np.testing.assert_array_equal(values(norm.beta), np.zeros(5))
    assert [name for name, _ in norm.named_parameters()] == ["gamma", "beta"]
    with pytest.raises(ValueError, match="5"):
        norm(Tensor(np.zeros((2, 4))))
    with pytest.raises(TypeError):
        norm(np.zeros((2, 5)))
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError):
            LayerNorm(bad)
    with pytest.raises(ValueError):
        LayerNorm(4, eps=0.0)


# ---------------------------------------------------------------- FeedForward
@pytest.mark.points(2)
@given(data=st.data(), hidden=st.one_of(st.none(), st.integers(1, 12)))
def test_feedforward_is_linear_gelu_linear(data, hidden):
    dim = data.draw(st.integers(1, 6))
    leading = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
    x = data.draw(float_arrays(leading + (dim,), dtype=np.float64, magnitude=4))
    ffn = FeedForward(dim, hidden_dim=hidden, seed=3)
    width = 4 * dim if hidden is None else hidden
    assert values(ffn.fc1.weight).shape == (dim, width) and values(ffn.fc2.weight).shape == (width, dim)
    assert ffn.num_parameters() == dim * width + width + width * dim + dim
    out = ffn(Tensor(x))
    assert out.shape == x.shape
    np.testing.assert_allclose(values(out), numpy_feedforward(ffn, x), rtol=1e-5, atol=1e-5)


@pytest.mark.points(2)
@settings(max_examples=examples(20))
@given(x=float_arrays((2, 3, 3), dtype=np.float64, magnitude=3))
def test_feedforward_gradients_for_input_and_every_parameter(x):
    ffn = FeedForward(3, hidden_dim=5, seed=0)
    check_module_gradients(ffn, ffn, x)


# ---------------------------------------------------------------- TransformerBlock
@given(x=float_arrays((2, 4, 8), dtype=np.float64, magnitude=5))
@settings(max_examples=examples(15))
def test_block_with_silent_sublayers_is_the_identity(x):
    """Residual connections: if both sub-layers output zero, the block returns its input exactly."""
    block = TransformerBlock(8, 2, seed=0)
    to_float64(block)
    for linear in (block.attn.out_proj, block.ffn.fc2):
        linear.weight.data = np.zeros_like(values(linear.weight))
        linear.bias.data = np.zeros_like(values(linear.bias))
    out = block(Tensor(x), causal_mask(4))
    np.testing.assert_array_equal(values(out), x)


@pytest.mark.points(3)
@settings(max_examples=examples(10))
@given(x=float_arrays((1, 3, 4), dtype=np.float64, magnitude=2))
def test_tiny_block_gradients_for_input_and_every_parameter(x):
    block = TransformerBlock(4, 2, hidden_dim=6, dropout=0.0, seed=1)
    mask = causal_mask(3)
    check_module_gradients(block, lambda inp: block(inp, mask), spread_rows(x, 1.0), rtol=1e-5, atol=1e-7)


def test_block_dropout_is_active_in_train_and_off_in_eval():
    block = TransformerBlock(8, 2, dropout=0.5, seed=0)
    x = Tensor(np.random.default_rng(0).normal(size=(2, 5, 8)).astype(np.float32))
    block.train()
    first, second = values(block(x, causal_mask(5))), values(block(x, causal_mask(5)))
    assert not np.allclose(first, second), "train(): two calls must use different dropout masks"
    block.eval()
    np.testing.assert_array_equal(values(block(x, causal_mask(5))), values(block(x, causal_mask(5))))


# ---------------------------------------------------------------- GPT forward
@pytest.mark.points(2)
@settings(max_examples=examples(10))
@given(batch=st.integers(1, 3), length=st.integers(1, 6), seed=st.integers(0, 1000))
def test_gpt_logits_shape_and_loss_is_mean_cross_entropy(batch, length, seed):
    rng = np.random.default_rng(seed)
    model = tiny_gpt()
    idx, targets = token_ids(rng, (batch, length), 11), token_ids(rng, (batch, length), 11)
    logits = model(idx)
    assert logits.shape == (batch, length, 11)
    pair = model(idx, targets)
    assert isinstance(pair, tuple) and len(pair) == 2
    logits2, loss = pair
    z = values(logits2).astype(np.float64)
    np.testing.assert_allclose(z, values(logits), rtol=1e-6, atol=1e-6)
    shifted = z - z.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    expected = -np.take_along_axis(log_probs, targets[..., None], axis=-1).mean()
    assert loss.shape == () or loss.size == 1
    np.testing.assert_allclose(float(values(loss)), expected, rtol=1e-5)


@pytest.mark.points(3)
@settings(max_examples=examples(25))
@given(seed=st.integers(0, 10_000), t=st.integers(0, 5))
def test_gpt_is_causal_future_tokens_do_not_change_past_logits(seed, t):
    rng = np.random.default_rng(seed)
    model = tiny_gpt(num_layers=2)
    idx = token_ids(rng, (2, 6), 11)
    changed = idx.copy()
    changed[:, t + 1:] = (idx[:, t + 1:] + 1 + rng.integers(0, 9, size=idx[:, t + 1:].shape)) % 11
    before, after = values(model(idx)), values(model(changed))
    np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], rtol=1e-5, atol=1e-6)
    # ... while the past does matter: the first token influences the last position.
    first_changed = idx.copy()
    first_changed[:, 0] = (idx[:, 0] + 1) % 11
    assert not np.allclose(values(model(first_changed))[:, -1], before[:, -1], rtol=0, atol=1e-7)


def test_initial_loss_is_close_to_log_vocab_size():
    for seed in range(3):
        model = GPT(vocab_size=32, embed_dim=16, num_heads=2, num_layers=2, max_seq_len=8, seed=seed)
        rng = np.random.default_rng(seed)
        _, loss = model(token_ids(rng, (4, 8), 32), token_ids(rng, (4, 8), 32))
        assert abs(loss.item() - math.log(32)) < 0.1, (
            f"a fresh model should predict nearly uniform probabilities: loss {loss.item():.3f} "
            f"vs log(32)={math.log(32):.3f}"
        )


def test_gpt_dropout_differs_in_train_and_is_deterministic_in_eval():
    model = tiny_gpt(dropout=0.3)
    idx = token_ids(np.random.default_rng(0), (2, 6), 11)
    model.train()
    assert not np.allclose(values(model(idx)), values(model(idx)))
    model.eval()
    np.testing.assert_array_equal(values(model(idx)), values(model(idx)))


def test_gpt_errors_name_what_was_expected():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="6"):
        model(np.zeros((1, 7), dtype=np.int64))  # longer than max_seq_len=6
    with pytest.raises(TypeError):
        model(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        model(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError):
        model(np.array([[1, 11]]))  # id 11 with vocab_size 11
    with pytest.raises(ValueError):
        model(np.zeros((2, 3), dtype=np.int64), np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError):
        GPT(vocab_size=10, embed_dim=6, num_heads=4, num_layers=1, max_seq_len=4)
    with pytest.raises(ValueError):
        model.generate(np.zeros((1, 2), dtype=np.int64), 3, temperature=-1.0)
    with pytest.raises(ValueError):
        model.generate(np.zeros((1, 2), dtype=np.int64), 3, top_k=0)
    with pytest.raises(ValueError):
        model.generate(np.zeros((1, 2), dtype=np.int64), -1)


# ---------------------------------------------------------------- generation
def greedy_by_hand(model, idx, steps, window):
    """Greedy decoding written here: argmax of forward()'s last position, context cropped to window."""
    seq = idx.copy()
    for _ in range(steps):
        with no_grad():
            logits = values(model.forward(seq[:, -window:]))[:, -1, :]
        seq = np.concatenate([seq, logits.argmax(axis=-1)[:, None].astype(seq.dtype)], axis=1)
    return seq


@pytest.mark.points(2)
@settings(max_examples=examples(15))
@given(seed=st.integers(0, 10_000), prompt=st.integers(1, 4), steps=st.integers(0, 5))
def test_greedy_generation_is_argmax_of_forward(seed, prompt, steps):
    model = tiny_gpt(seed=seed % 7)
    idx = token_ids(np.random.default_rng(seed), (2, prompt), 11)
    out = model.generate(idx, steps, temperature=0)
    assert isinstance(out, np.ndarray) and out.shape == (2, prompt + steps) and out.dtype.kind in "iu"
    np.testing.assert_array_equal(out[:, :prompt], idx)
    np.testing.assert_array_equal(out, greedy_by_hand(model, idx, steps, window=6))


@pytest.mark.points(2)
def test_generation_crops_a_prompt_longer_than_max_seq_len():
    model = tiny_gpt()
    idx = token_ids(np.random.default_rng(5), (2, 10), 11)  # max_seq_len is 6
    out = model.generate(idx, 4, temperature=0)
    assert out.shape == (2, 14)
    np.testing.assert_array_equal(out, greedy_by_hand(model, idx, 4, window=6))
    sampled = model.generate(idx, 4, seed=0)
    assert sampled.shape == (2, 14) and ((sampled >= 0) & (sampled < 11)).all()


@pytest.mark.points(2)
@settings(max_examples=examples(10))
@given(seed=st.integers(0, 2**31 - 1), temperature=st.sampled_from([0.5, 1.0, 2.0]))
def test_sampling_is_deterministic_for_a_seed(seed, temperature):
    model = tiny_gpt()
    idx = np.array([[1, 2], [3, 4]], dtype=np.int64)
    first = model.generate(idx, 12, temperature=temperature, seed=seed)
    np.testing.assert_array_equal(model.generate(idx, 12, temperature=temperature, seed=seed), first)
    np.testing.assert_array_equal(first[:, :2], idx)
    assert ((first >= 0) & (first < 11)).all()
    others = [model.generate(idx, 12, temperature=temperature, seed=seed + k) for k in (1, 2, 3)]
    assert any(not np.array_equal(first, other) for other in others), "different seeds should sample differently"


@settings(max_examples=examples(10))
@given(seed=st.integers(0, 2**31 - 1))
def test_top_k_of_one_is_greedy(seed):
    model = tiny_gpt()
    idx = token_ids(np.random.default_rng(seed), (3, 3), 11)
    np.testing.assert_array_equal(model.generate(idx, 5, temperature=1.0, top_k=1, seed=seed),
                                  greedy_by_hand(model, idx, 5, window=6))


# ---------------------------------------------------------------- systems: parameters and memory
@pytest.mark.points(2)
@settings(max_examples=examples(25))
@given(vocab=st.integers(2, 40), heads=st.integers(1, 3), head_width=st.integers(1, 4), layers=st.integers(1, 3),
       max_len=st.integers(1, 12), hidden=st.one_of(st.none(), st.integers(1, 20)))
def test_parameter_count_closed_form(vocab, heads, head_width, layers, max_len, hidden):
    d = heads * head_width
    h = 4 * d if hidden is None else hidden
    block = 2 * (2 * d) + 4 * (d * d + d) + (d * h + h) + (h * d + d)
    expected = vocab * d + max_len * d + layers * block + 2 * d + d * vocab + vocab
    assert gpt_parameter_count(vocab, d, layers, max_len, hidden_dim=hidden) == expected
    model = GPT(vocab, d, heads, layers, max_len, seed=0, hidden_dim=hidden)
    assert model.num_parameters() == expected
    assert sum(values(p).size for p in model.parameters()) == expected


@pytest.mark.points(2)
@given(batch=st.integers(1, 4), seq_len=st.integers(1, 16))
@settings(max_examples=examples(15))
def test_memory_profile_per_layer_numbers(batch, seq_len):
    d, heads, layers, hidden = 8, 2, 3, 32
    model = GPT(vocab_size=20, embed_dim=d, num_heads=heads, num_layers=layers, max_seq_len=32, seed=0)
    rows = memory_profile(model, batch, seq_len)
    assert len(rows) == layers and [row["layer"] for row in rows] == list(range(layers))
    block_params = 2 * (2 * d) + 4 * (d * d + d) + (d * hidden + hidden) + (hidden * d + d)
    for row in rows:
        assert row["parameter_bytes"] == 4 * block_params
        assert row["activation_bytes"] == 4 * batch * seq_len * (10 * d + 2 * hidden)
        assert row["attention_score_bytes"] == 4 * batch * heads * seq_len * seq_len
        assert row["kv_bytes"] == 2 * batch * seq_len * d * 4
    if 2 * seq_len <= 32:
        doubled = memory_profile(model, batch, 2 * seq_len)[0]
        assert doubled["kv_bytes"] == 2 * rows[0]["kv_bytes"], "keys and values grow linearly with T"
        assert doubled["attention_score_bytes"] == 4 * rows[0]["attention_score_bytes"], "scores grow with T^2"
        assert doubled["parameter_bytes"] == rows[0]["parameter_bytes"]


@pytest.mark.points(2)
def test_backward_graph_grows_linearly_with_depth():
    """Each block adds the same number of graph nodes: 6 layers cost about 6x one layer to walk."""
    idx = np.array([[1, 2, 3, 4]])
    sizes = {}
    for layers in (1, 2, 6):
        model = GPT(vocab_size=7, embed_dim=4, num_heads=2, num_layers=layers, max_seq_len=4, seed=0)
        _, loss = model(idx, idx)
        sizes[layers] = graph_size(loss)
        loss.backward()
        assert all(p.grad is not None for p in model.parameters())
    per_block = sizes[2] - sizes[1]
    assert per_block > 0
    assert sizes[6] - sizes[1] == 5 * per_block, f"graph sizes {sizes} do not grow linearly with num_layers"
