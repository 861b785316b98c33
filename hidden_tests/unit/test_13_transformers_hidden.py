"""Module 13 -- Transformers: held-out checks.

A whole pre-norm block against an independent NumPy implementation, LayerNorm's exact algebra
(biased variance, eps inside the square root), finite differences through a complete tiny GPT,
a backward that visits every block exactly once, and the sampling rules of generate() (top-k,
temperature frequencies, no graph recording, evaluation mode, independent batch rows).
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spec.support import assert_gradients_close, examples, float_arrays, numerical_gradient, values
from tinytorch.core.attention import causal_mask
from tinytorch.core.autograd import Function, enable_autograd, no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, FeedForward, LayerNorm, TransformerBlock, memory_profile

pytestmark = pytest.mark.module(13)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


# ---------------------------------------------------------------- independent oracles and helpers
def numpy_layernorm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def numpy_linear(linear, a):
    return a @ values(linear.weight) + values(linear.bias)


def numpy_block(block, x, mask, heads):
    """x + attn(ln1(x)) then + ffn(ln2(x)), written from the block's parameter arrays (float64)."""
    def norm(ln, a):
        return numpy_layernorm(a, values(ln.gamma), values(ln.beta))

    def split(a):
        b, t, d = a.shape
        return a.reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3)

    h = norm(block.ln1, x)
    q, k, v = (split(numpy_linear(p, h)) for p in (block.attn.q_proj, block.attn.k_proj, block.attn.v_proj))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    b, _, t, _ = q.shape
    x = x + numpy_linear(block.attn.out_proj, (weights @ v).transpose(0, 2, 1, 3).reshape(b, t, -1))
    inner = numpy_linear(block.ffn.fc1, norm(block.ln2, x))
    gelu = 0.5 * inner * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (inner + 0.044715 * inner ** 3)))
    return x + numpy_linear(block.ffn.fc2, gelu)


def to_float64(module):
    for parameter in module.parameters():
        parameter.data = values(parameter).astype(np.float64)


def tiny_gpt(**overrides):
    sizes = dict(vocab_size=9, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=5, seed=0)
    sizes.update(overrides)
    return GPT(**sizes)


def last_logits(model, idx):
    with no_grad():
        return values(model.forward(idx)).astype(np.float64)[:, -1, :]


# ---------------------------------------------------------------- LayerNorm algebra
@pytest.mark.points(2)
@given(a=st.floats(-50, 50), b=st.floats(-50, 50), level=st.floats(-100, 100))
def test_layernorm_biased_variance_and_eps_inside_the_root(a, b, level):
    x = np.array([[a, b], [level, level]], dtype=np.float64)
    norm = LayerNorm(2)
    norm.gamma.data = np.array([2.0, 3.0])
    norm.beta.data = np.array([0.5, -1.0])
    out = values(norm(Tensor(x)))
    half = (b - a) / 2  # biased variance of [a, b] is half^2
    z = half / np.sqrt(half * half + 1e-5)
    np.testing.assert_allclose(out[0], [-z * 2.0 + 0.5, z * 3.0 - 1.0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out[1], [0.5, -1.0], atol=1e-9)  # a constant row becomes beta, no division by 0


@given(x=float_arrays((3, 6), dtype=np.float64, magnitude=5), shift=st.floats(-100, 100), scale=st.floats(0.5, 20))
def test_layernorm_ignores_a_row_shift_and_positive_scale(x, shift, scale):
    x = x + np.linspace(-3, 3, 6)  # every row has spread, so eps is negligible
    norm = LayerNorm(6)
    np.testing.assert_allclose(values(norm(Tensor(x * scale + shift))), values(norm(Tensor(x))), rtol=1e-5, atol=1e-5)


def test_feedforward_is_finite_and_exact_for_huge_inputs():
    ffn = FeedForward(2, hidden_dim=3, seed=0)
    to_float64(ffn)
    x = np.array([[1e4, -1e4], [-3e3, 50.0]])
    inner = numpy_linear(ffn.fc1, x)
    gelu = 0.5 * inner * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (inner + 0.044715 * inner ** 3)))
    out = values(ffn(Tensor(x)))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, numpy_linear(ffn.fc2, gelu), rtol=1e-9)


# ---------------------------------------------------------------- TransformerBlock
@pytest.mark.points(3)
@settings(max_examples=examples(15))
@given(data=st.data(), causal=st.booleans())
def test_block_matches_an_independent_numpy_pre_norm_block(data, causal):
    heads = data.draw(st.sampled_from([1, 2, 4]))
    batch, length = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 5))
    x = data.draw(float_arrays((batch, length, 8), dtype=np.float64, magnitude=3))
    hidden, seed = data.draw(st.sampled_from([None, 5])), data.draw(st.integers(0, 99))
    block = TransformerBlock(8, heads, hidden_dim=hidden, seed=seed)
    to_float64(block)
    for ln in (block.ln1, block.ln2):  # non-trivial scale and shift
        ln.gamma.data = 1.0 + 0.3 * np.arange(8.0) / 8
        ln.beta.data = 0.1 * np.arange(8.0)
    mask = causal_mask(length) if causal else None
    out = block(Tensor(x), mask)
    np.testing.assert_allclose(values(out), numpy_block(block, x, mask, heads), rtol=1e-7, atol=1e-9)


@pytest.mark.points(2)
@settings(max_examples=examples(10))
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 3), length=st.integers(1, 5))
def test_gpt_logits_match_an_independent_numpy_forward(seed, batch, length):
    """Token rows + position rows, causal blocks, final LayerNorm, linear head."""
    model = tiny_gpt(seed=seed % 5)
    to_float64(model)
    idx = np.random.default_rng(seed).integers(0, 9, size=(batch, length))
    x = values(model.token_embedding.weight)[idx] + values(model.position_embedding.weight)[:length]
    lower_triangle = np.tril(np.ones((length, length), dtype=bool))
    for block in model.blocks:
        x = numpy_block(block, x, lower_triangle, heads=2)
    normed = numpy_layernorm(x, values(model.final_norm.gamma), values(model.final_norm.beta))
    expected = numpy_linear(model.head, normed)
    np.testing.assert_allclose(values(model(idx)), expected, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- gradients through a whole GPT
@pytest.mark.points(3)
def test_tiny_gpt_gradients_of_the_loss_for_every_parameter():
    model = GPT(vocab_size=5, embed_dim=4, num_heads=2, num_layers=1, max_seq_len=3, seed=4, hidden_dim=6)
    to_float64(model)
    for ln in (model.blocks[0].ln1, model.blocks[0].ln2, model.final_norm):
        ln.gamma.data = np.array([1.0, 0.5, 1.5, 2.0])
        ln.beta.data = np.array([0.1, -0.2, 0.3, 0.0])
    idx, targets = np.array([[0, 3, 3], [4, 1, 2]]), np.array([[3, 3, 1], [1, 2, 0]])
    _, loss = model(idx, targets)
    loss.backward()
    numeric = {}
    with no_grad():  # one block around every evaluation: only forward values are needed
        for name, parameter in model.named_parameters():
            original = values(parameter).copy()

            def at(value, parameter=parameter):
                parameter.data = value
                return float(values(model(idx, targets)[1]))

            numeric[name] = numerical_gradient(at, original)
            parameter.data = original
    for name, parameter in model.named_parameters():
        assert_gradients_close(parameter.grad, numeric[name], rtol=1e-5, atol=1e-8, name=name)


class CountingIdentity(Function):
    """y = x; counts how often its backward runs."""
    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        CountingIdentity.calls += 1
        return (grad,)


@pytest.mark.points(2)
@pytest.mark.parametrize("layers", [1, 3, 6])
def test_backward_visits_every_block_exactly_once(layers):
    """Residual paths double at every block: a walk that does not merge them first costs 2^layers."""
    model = GPT(vocab_size=7, embed_dim=4, num_heads=1, num_layers=layers, max_seq_len=4, seed=0)
    for block in model.blocks:
        original = block.forward
        block.forward = lambda x, mask=None, original=original: original(CountingIdentity.apply(x), mask)
    CountingIdentity.calls = 0
    idx = np.array([[1, 2, 3]])
    _, loss = model(idx, idx)
    loss.backward()
    assert CountingIdentity.calls == layers
    assert all(p.grad is not None for p in model.parameters())


# ---------------------------------------------------------------- generation rules
def test_loss_with_a_silent_head_is_exactly_log_vocab():
    model = tiny_gpt()
    model.head.weight.data = np.zeros_like(values(model.head.weight))
    model.head.bias.data = np.zeros_like(values(model.head.bias))
    idx = np.random.default_rng(0).integers(0, 9, size=(3, 5))
    _, loss = model(idx, idx)
    np.testing.assert_allclose(loss.item(), math.log(9), rtol=1e-6)


@pytest.mark.points(2)
@pytest.mark.parametrize("temperature", [0.7, 2.0])
def test_sample_frequencies_follow_softmax_of_logits_over_temperature(temperature):
    model = tiny_gpt(vocab_size=5)
    model.head.weight.data = np.random.default_rng(1).normal(0, 0.6, values(model.head.weight).shape).astype(np.float32)
    prompt = np.tile(np.array([[2, 4]]), (4000, 1))
    logits = last_logits(model, prompt[:1])[0] / temperature
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    sampled = model.generate(prompt, 1, temperature=temperature, seed=123)[:, -1]
    frequencies = np.bincount(sampled, minlength=5) / len(sampled)
    np.testing.assert_allclose(frequencies, expected, atol=0.03)


@settings(max_examples=examples(10))
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 3))
def test_top_k_samples_come_from_the_k_largest_logits(seed, k):
    model = tiny_gpt()
    shape = values(model.head.weight).shape
    model.head.weight.data = np.random.default_rng(seed).normal(0, 0.3, shape).astype(np.float32)
    prompt = np.tile(np.array([[1, 5, 7]]), (300, 1))
    allowed = np.argsort(last_logits(model, prompt[:1])[0])[-k:]
    sampled = model.generate(prompt, 1, temperature=5.0, top_k=k, seed=seed)[:, -1]
    assert np.isin(sampled, allowed).all(), f"top_k={k} sampled {np.unique(sampled)}, allowed {sorted(allowed)}"
    assert len(np.unique(sampled)) == k, "at a high temperature every one of the k tokens should appear"


def test_generation_records_no_graph_and_runs_in_eval_mode():
    model = tiny_gpt(dropout=0.5)
    seen = []
    original = model.head.forward
    model.head.forward = lambda x: seen.append(original(x)) or seen[-1]
    model.train()
    idx = np.array([[1, 2, 3]])
    first = model.generate(idx, 4, temperature=1.0, seed=7)
    assert model.training, "generate() must restore the training mode it found"
    assert seen and all(not getattr(out, "requires_grad", False) for out in seen), "generate() must run under no_grad()"
    np.testing.assert_array_equal(model.generate(idx, 4, temperature=1.0, seed=7), first)
    model.eval()
    np.testing.assert_array_equal(model.generate(idx, 4, temperature=1.0, seed=7), first)
    assert not model.training


def test_batch_rows_generate_independently_and_zero_steps_returns_the_prompt():
    model = tiny_gpt()
    idx = np.random.default_rng(3).integers(0, 9, size=(3, 4))
    together = model.generate(idx, 6, temperature=0)
    for row in range(3):
        np.testing.assert_array_equal(together[row:row + 1], model.generate(idx[row:row + 1], 6, temperature=0))
    same = model.generate(idx, 0)
    assert same.shape == idx.shape
    np.testing.assert_array_equal(same, idx)


# ---------------------------------------------------------------- memory accounting
def test_memory_profile_follows_the_parameter_dtype_and_checks_arguments():
    model = tiny_gpt(num_layers=3)
    to_float64(model)
    rows = memory_profile(model, 2, 5)
    assert len(rows) == 3
    assert rows[0]["kv_bytes"] == 2 * 2 * 5 * 8 * 8
    assert rows[0]["attention_score_bytes"] == 2 * 2 * 5 * 5 * 8
    assert rows[2]["parameter_bytes"] == 8 * sum(values(p).size for p in model.blocks[2].parameters())
    with pytest.raises(ValueError):
        memory_profile(model, 2, 6)  # longer than max_seq_len=5
    with pytest.raises(ValueError):
        memory_profile(model, 0, 3)
    with pytest.raises(TypeError):
        memory_profile(TransformerBlock(8, 2), 1, 1)
