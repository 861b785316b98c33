"""Module 18 -- Memoization: held-out checks (batches, integer dtypes, long prompts, float64 caches,
bad appends, zero new tokens, models with wider feed-forward layers).

Cached results are compared with the uncached model's own outputs; FLOPs with formulas written here.
"""
import numpy as np
import pytest

from spec.support import values
from tinytorch.core.autograd import enable_autograd, is_autograd_enabled
from tinytorch.core.transformer import GPT
from tinytorch.perf.memoization import (KVCache, cache_for, forward_step, generate_cached, kv_cache_bytes,
                                        step_flops)

pytestmark = pytest.mark.module(18)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def test_sampling_a_batch_of_three_with_an_int32_prompt():
    model = GPT(13, 8, 2, 1, 16, seed=8, hidden_dim=20)
    prompt = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.int32)
    got = generate_cached(model, prompt, 7, temperature=1.3, seed=42)
    np.testing.assert_array_equal(got, model.generate(prompt, 7, temperature=1.3, seed=42))
    assert got.dtype == np.int32 and got.shape == (3, 9)
    np.testing.assert_array_equal(got[:, :2], prompt)


def test_a_prompt_longer_than_the_table_keeps_its_last_tokens():
    model = GPT(9, 8, 2, 2, 5, seed=1)
    prompt = np.array([[1, 2, 3, 4, 5, 6, 7]])
    np.testing.assert_array_equal(generate_cached(model, prompt, 4, temperature=0),
                                  model.generate(prompt, 4, temperature=0))


def test_zero_new_tokens_returns_the_prompt():
    prompt = np.array([[3, 1]])
    np.testing.assert_array_equal(generate_cached(GPT(5, 4, 1, 1, 4, seed=0), prompt, 0), prompt)


def test_a_float64_cache_measures_eight_bytes_per_number():
    cache = KVCache(2, 1, 2, 10, 3, dtype=np.float64)
    assert cache.keys.dtype == np.float64 and cache.nbytes == kv_cache_bytes(2, 1, 2, 10, 3, np.float64) == 1920


@pytest.mark.parametrize("layer, shape", [(2, (1, 2, 1, 3)), (-1, (1, 2, 1, 3)), (0, (1, 3, 1, 3)),
                                          (0, (2, 2, 1, 3)), (0, (1, 2, 1, 4)), (0, (2, 1, 3))])
def test_appends_that_do_not_fit_the_cache_are_refused(layer, shape):
    cache = KVCache(2, 1, 2, 6, 3)
    with pytest.raises(ValueError):
        cache.append(layer, np.zeros(shape), np.zeros(shape))
    assert list(cache.lengths) == [0, 0], "a refused append stores nothing"


def test_keys_and_values_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        KVCache(1, 1, 1, 6, 2).append(0, np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 2)))


@pytest.mark.parametrize("size", [0, -2, 2.0, True])
def test_sizes_must_be_positive_integers(size):
    with pytest.raises(ValueError):
        KVCache(1, size, 1, 4, 2)
    with pytest.raises(ValueError):
        kv_cache_bytes(1, 1, size, 4, 2)


def test_forward_step_refuses_a_step_past_the_table_and_a_wrong_batch():
    model = GPT(7, 4, 1, 1, 3, seed=0)
    cache = cache_for(model, 1)
    forward_step(model, np.array([[1, 2, 3]]), cache)
    with pytest.raises(ValueError, match="max_seq_len"):
        forward_step(model, np.array([[4]]), cache)
    with pytest.raises(ValueError):
        forward_step(model, np.array([[1], [2]]), cache_for(model, 1))


def test_cached_steps_record_no_graph_and_leave_autograd_on():
    model = GPT(7, 4, 1, 1, 8, seed=0)
    model.eval()
    logits = forward_step(model, np.array([[1, 2]]), cache_for(model, 1))
    assert logits.requires_grad is False, "generation needs no gradients"
    assert is_autograd_enabled()


def test_wider_feed_forward_and_batches_count_in_step_flops():
    model = GPT(vocab_size=20, embed_dim=8, num_heads=2, num_layers=1, max_seq_len=16, seed=0, hidden_dim=24)
    dim, hidden, vocab, batch, position = 8, 24, 20, 3, 5
    per_block = (4 * batch * dim * (2 * dim + 1) + 4 * batch * (position + 1) * dim
                 + batch * hidden * (2 * dim + 1) + batch * dim * (2 * hidden + 1))
    assert step_flops(model, position, batch=batch) == per_block + batch * vocab * (2 * dim + 1)
    with pytest.raises(ValueError):
        step_flops(model, 16)
    with pytest.raises(TypeError):
        step_flops("GPT", 1)


def test_logits_of_a_model_with_larger_weights_stay_within_tolerance():
    model = GPT(15, 16, 4, 2, 10, seed=3)
    model.head.weight.data = np.random.default_rng(0).normal(0, 1.0, model.head.weight.shape).astype(np.float32)
    model.eval()
    tokens = np.array([[1, 5, 9, 2, 14, 0, 7, 3, 3, 8]])
    cache = cache_for(model, 1)
    first = values(forward_step(model, tokens[:, :4], cache))
    rest = [values(forward_step(model, tokens[:, p:p + 1], cache)) for p in range(4, 10)]
    np.testing.assert_allclose(np.concatenate([first] + rest, axis=1), values(model(tokens)), atol=1e-4, rtol=0)
