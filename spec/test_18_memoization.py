"""Module 18 -- Memoization: the visible specification.

Run just this module:  pytest spec/test_18_memoization.py     (or: kata test 18)
Cached logits are compared with the uncached model's own forward pass on the whole sequence
(absolute tolerance 1e-4, float32 rounding), cached tokens with uncached generation token for token,
and the work per step with FLOP formulas written out here. Nothing here measures time.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spec.support import examples, values
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.transformer import GPT
from tinytorch.perf.memoization import (KVCache, cache_for, enable_kv_cache, forward_step, generate_cached,
                                        kv_cache_bytes, step_flops)

pytestmark = pytest.mark.module(18)

LOGIT_TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def small_gpt(seed=0, max_seq_len=12, layers=2):
    return GPT(vocab_size=11, embed_dim=8, num_heads=2, num_layers=layers, max_seq_len=max_seq_len, seed=seed)


# ---------------------------------------------------------------- the cache itself
@given(layers=st.integers(1, 4), batch=st.integers(1, 3), heads=st.integers(1, 4), seq=st.integers(1, 64),
       width=st.integers(1, 16), dtype=st.sampled_from([np.float32, np.float64, np.float16]))
def test_cache_bytes_are_keys_plus_values_of_every_layer(layers, batch, heads, seq, width, dtype):
    assert kv_cache_bytes(layers, batch, heads, seq, width, dtype) == 2 * layers * batch * heads * seq * width * np.dtype(dtype).itemsize


@pytest.mark.points(2)
def test_cache_is_preallocated_and_measures_its_own_bytes():
    cache = KVCache(num_layers=3, batch=2, num_heads=4, max_seq_len=16, head_dim=5)
    for array in (cache.keys, cache.values):
        assert array.shape == (3, 2, 4, 16, 5) and array.dtype == np.float32
    assert cache.nbytes == 2 * 3 * 2 * 4 * 16 * 5 * 4
    assert cache.length == 0 and cache.max_seq_len == 16


@pytest.mark.points(2)
@given(splits=st.lists(st.integers(1, 3), min_size=1, max_size=4))
def test_appends_continue_where_the_last_one_stopped(splits):
    rng = np.random.default_rng(len(splits))
    cache = KVCache(num_layers=2, batch=1, num_heads=2, max_seq_len=12, head_dim=3)
    stored_k, stored_v = [], []
    for steps in splits:
        k, v = rng.normal(size=(2, 1, 2, steps, 3)).astype(np.float32)
        keys, vals = cache.append(1, k, v)
        stored_k.append(k)
        stored_v.append(v)
        np.testing.assert_array_equal(keys, np.concatenate(stored_k, axis=2))
        np.testing.assert_array_equal(vals, np.concatenate(stored_v, axis=2))
    total = sum(splits)
    np.testing.assert_array_equal(cache.keys[1, :, :, :total], np.concatenate(stored_k, axis=2))
    assert list(cache.lengths) == [0, total], "only the layer appended to grows"


def test_reset_forgets_positions_and_a_full_cache_refuses_more():
    cache = KVCache(1, 1, 1, 4, 2)
    cache.append(0, np.ones((1, 1, 4, 2)), np.ones((1, 1, 4, 2)))
    with pytest.raises(ValueError, match="max_seq_len"):
        cache.append(0, np.ones((1, 1, 1, 2)), np.ones((1, 1, 1, 2)))
    cache.reset()
    assert cache.length == 0
    keys, _ = cache.append(0, np.full((1, 1, 1, 2), 7.0), np.zeros((1, 1, 1, 2)))
    np.testing.assert_array_equal(keys, np.full((1, 1, 1, 2), 7.0))


def test_cache_for_a_gpt_has_one_slot_per_block():
    cache = cache_for(GPT(10, 12, 3, 4, 20, seed=0), batch=2)
    assert cache.keys.shape == (4, 2, 3, 20, 4)


# ---------------------------------------------------------------- cached forward steps
@pytest.mark.points(2)
def test_a_prompt_step_gives_the_models_own_logits():
    model = small_gpt()
    model.eval()
    prompt = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]])
    logits = forward_step(model, prompt, cache_for(model, 2))
    np.testing.assert_allclose(values(logits), values(model(prompt)), atol=LOGIT_TOLERANCE, rtol=0)


@pytest.mark.points(3)
@settings(max_examples=examples(10))
@given(prompt_len=st.integers(1, 6), data=st.data())
def test_one_token_at_a_time_agrees_with_the_full_forward_pass(prompt_len, data):
    model = small_gpt(seed=prompt_len)
    model.eval()
    tokens = np.array([data.draw(st.lists(st.integers(0, 10), min_size=12, max_size=12))])
    cache = cache_for(model, 1)
    pieces = [values(forward_step(model, tokens[:, :prompt_len], cache))]
    for position in range(prompt_len, 12):
        pieces.append(values(forward_step(model, tokens[:, position:position + 1], cache)))
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), values(model(tokens)), atol=LOGIT_TOLERANCE, rtol=0)
    assert cache.length == 12


@pytest.mark.points(2)
def test_a_cached_step_attends_with_one_query_over_every_cached_key():
    model = small_gpt()
    model.eval()
    cache = cache_for(model, 1)
    forward_step(model, np.array([[1, 2, 3, 4]]), cache)
    forward_step(model, np.array([[5]]), cache)
    weights = model.blocks[0].attn.last_attention_weights
    assert weights.shape == (1, 2, 1, 5), "one new query against 5 keys: work linear in the length"
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------- generation
@pytest.mark.points(3)
@pytest.mark.parametrize("options", [{"temperature": 0}, {"temperature": 1.0, "seed": 7},
                                     {"temperature": 0.8, "top_k": 4, "seed": 3}],
                         ids=["greedy", "sampled", "top-k"])
def test_cached_generation_gives_exactly_the_uncached_tokens(options):
    model = small_gpt(seed=5)
    prompt = np.array([[2, 7, 1], [8, 2, 8]])
    expected = model.generate(prompt, 9, **options)   # 3 + 9 = max_seq_len: up to the end of the table
    got = generate_cached(model, prompt, 9, **options)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == prompt.dtype


@pytest.mark.points(2)
def test_enable_kv_cache_adds_use_cache_to_generate():
    model = small_gpt(seed=2)
    prompt = np.array([[4, 4, 2]])
    plain = model.generate(prompt, 6, temperature=0.5, seed=11)
    enable_kv_cache()
    enable_kv_cache()  # idempotent
    np.testing.assert_array_equal(model.generate(prompt, 6, temperature=0.5, seed=11, use_cache=True), plain)
    np.testing.assert_array_equal(model.generate(prompt, 6, temperature=0.5, seed=11, use_cache=False), plain)


def test_generation_past_max_seq_len_still_matches():
    model = small_gpt(seed=4, max_seq_len=6)
    prompt = np.array([[1, 2, 3, 4]])
    np.testing.assert_array_equal(generate_cached(model, prompt, 8, temperature=0),
                                  model.generate(prompt, 8, temperature=0))


def test_generation_restores_training_mode():
    model = small_gpt()
    model.train()
    generate_cached(model, np.array([[1]]), 3, temperature=0)
    assert model.training is True


@pytest.mark.parametrize("arguments", [
    {"idx": np.array([1, 2]), "max_new_tokens": 2},
    {"idx": np.zeros((1, 0), dtype=np.int64), "max_new_tokens": 2},
    {"idx": np.array([[1]]), "max_new_tokens": -1},
    {"idx": np.array([[1]]), "max_new_tokens": 2, "temperature": -0.5},
    {"idx": np.array([[1]]), "max_new_tokens": 2, "top_k": 0},
], ids=["1-d", "empty", "negative-count", "negative-temperature", "top-k-zero"])
def test_generation_refuses_what_generate_refuses(arguments):
    with pytest.raises(ValueError):
        generate_cached(small_gpt(), **arguments)


# ---------------------------------------------------------------- counting the work
@pytest.mark.points(3)
def test_cached_steps_cost_linear_work_and_uncached_quadratic():
    model = GPT(vocab_size=50, embed_dim=16, num_heads=4, num_layers=2, max_seq_len=64, seed=0)
    dim, hidden, vocab = 16, 64, 50

    def cached(p):
        per_block = 4 * dim * (2 * dim + 1) + 4 * (p + 1) * dim + hidden * (2 * dim + 1) + dim * (2 * hidden + 1)
        return 2 * per_block + vocab * (2 * dim + 1)

    def uncached(p):
        rows = p + 1
        per_block = (4 * rows * dim * (2 * dim + 1) + 4 * rows * rows * dim
                     + rows * hidden * (2 * dim + 1) + rows * dim * (2 * hidden + 1))
        return 2 * per_block + rows * vocab * (2 * dim + 1)

    for position in (0, 1, 10, 63):
        assert step_flops(model, position, use_cache=True) == cached(position)
        assert step_flops(model, position, use_cache=False) == uncached(position)
    steps = [step_flops(model, p) for p in range(64)]
    assert len(set(np.diff(steps))) == 1, "each cached step costs a constant amount more than the last: O(n)"
    full = [step_flops(model, p, use_cache=False) for p in range(64)]
    assert len(set(np.diff(full, n=2))) == 1 and np.diff(full, n=2)[0] > 0, "uncached: O(n^2)"
