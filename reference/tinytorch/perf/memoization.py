"""Module 18 -- Memoization: a KV cache turns O(n^2) generation into O(n).

GPT.generate (module 13) runs the whole sequence through the model for every new token. Almost all
of that work is repeated: the keys and values of positions 0..t-1 do not change when token t is
appended (the causal mask guarantees earlier positions never look ahead). Generating n tokens
therefore recomputes 1 + 2 + ... + n = n(n+1)/2 positions; for n = 100 that is 5,050 where 100
would do.

A KV cache memoizes them. Each layer keeps a preallocated (B, H, max_seq_len, head_dim) array of
keys and one of values; a generation step feeds only the NEW token through the model, appends its
key and value to every layer's cache, and lets its single query attend over everything cached.
Per step the attention work is 1 x length instead of length x length, and the projections and
feed-forward layers see one row instead of `length`: linear in the sequence, not quadratic.

The price is memory: 2 (keys and values) x layers x B x H x max_seq_len x head_dim numbers, held
for the whole generation (`kv_cache_bytes`). That is the memory-compute trade at the heart of
serving language models.

`enable_kv_cache()` adds a `use_cache` option to GPT.generate (like module 06's enable_autograd it
extends a class from an earlier module at run time). With use_cache=True the tokens are exactly
those of uncached generation, for greedy decoding and for seeded sampling alike: both loops
choose through the same sample_next_token, and the cached logits agree with the uncached ones to
float32 rounding (within 1e-4 absolute on models of the sizes tested).
"""
from __future__ import annotations

import math

import numpy as np

from tinytorch.core.activations import GELU_CUBIC, GELU_SCALE
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, _generation_arguments, sample_next_token
from tinytorch.perf.profiling import linear_flops

_STATE = {"enabled": False}


# ---------------------------------------------------------------- argument checking (no solution logic)
def _positive(value, name: str, owner: str, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ---------------------------------------------------------------- the cache
def kv_cache_bytes(num_layers: int, batch: int, num_heads: int, max_seq_len: int, head_dim: int,
                   dtype=np.float32) -> int:
    """Memory of a full KV cache: keys and values for every layer, head and position.

    Args:
        num_layers (int): L, transformer blocks.
        batch (int): B, sequences generated at once.
        num_heads (int): H, heads per block.
        max_seq_len (int): S, positions the cache can hold.
        head_dim (int): D/H, width of one head.
        dtype (np.dtype | type): element type.

    Returns:
        int: 2 * L * B * H * S * head_dim * itemsize bytes.

    Raises:
        ValueError: a size is not a positive integer.

    Example:
        >>> kv_cache_bytes(num_layers=4, batch=1, num_heads=4, max_seq_len=512, head_dim=32)
        1048576
    """
    ### BEGIN SOLUTION
    sizes = [_positive(value, name, "kv_cache_bytes") for name, value in (
        ("num_layers", num_layers), ("batch", batch), ("num_heads", num_heads), ("max_seq_len", max_seq_len),
        ("head_dim", head_dim))]
    return 2 * math.prod(sizes) * np.dtype(dtype).itemsize
    ### END SOLUTION


class KVCache:
    """Preallocated keys and values of every layer, filled one generation step at a time.

    Args:
        num_layers (int): L, one cache slot per transformer block.
        batch (int): B.
        num_heads (int): H.
        max_seq_len (int): S, capacity in positions.
        head_dim (int): width of one head.
        dtype (np.dtype | type): element type (default float32).

    Attributes:
        keys (np.ndarray): shape (L, B, H, S, head_dim), allocated once.
        values (np.ndarray): same shape as keys.
        lengths (np.ndarray int64, shape (L,)): positions filled in each layer.

    Raises:
        ValueError: a size is not a positive integer.

    Example:
        >>> cache = KVCache(num_layers=2, batch=1, num_heads=2, max_seq_len=8, head_dim=4)
        >>> cache.nbytes == kv_cache_bytes(2, 1, 2, 8, 4)
        True
    """

    def __init__(self, num_layers: int, batch: int, num_heads: int, max_seq_len: int, head_dim: int,
                 dtype=np.float32):
        ### BEGIN SOLUTION
        shape = tuple(_positive(value, name, "KVCache") for name, value in (
            ("num_layers", num_layers), ("batch", batch), ("num_heads", num_heads), ("max_seq_len", max_seq_len),
            ("head_dim", head_dim)))
        self.keys = np.zeros(shape, dtype=dtype)
        self.values = np.zeros(shape, dtype=dtype)
        self.lengths = np.zeros(shape[0], dtype=np.int64)
        ### END SOLUTION

    @property
    def max_seq_len(self) -> int:
        """Capacity in positions (S).

        Returns:
            int: the cache's fourth dimension.
        """
        ### BEGIN SOLUTION
        return int(self.keys.shape[3])
        ### END SOLUTION

    @property
    def length(self) -> int:
        """Positions every layer holds (the shortest layer's length).

        Returns:
            int: 0 after construction or reset().
        """
        ### BEGIN SOLUTION
        return int(self.lengths.min())
        ### END SOLUTION

    @property
    def nbytes(self) -> int:
        """Bytes held by keys and values (the whole preallocation, filled or not).

        Returns:
            int: keys.nbytes + values.nbytes, equal to kv_cache_bytes(...) of the same sizes.
        """
        ### BEGIN SOLUTION
        return int(self.keys.nbytes + self.values.nbytes)
        ### END SOLUTION

    def append(self, layer: int, keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Store the keys and values of new positions for one layer; return everything cached so far.

        Args:
            layer (int): which block, in [0, L).
            keys (np.ndarray, shape (B, H, t, head_dim)): keys of t new positions.
            values (np.ndarray, shape (B, H, t, head_dim)): their values.

        Returns:
            tuple[np.ndarray, np.ndarray]: views of the layer's keys and values for positions
            0 .. length + t - 1, each of shape (B, H, length + t, head_dim); no copy is made.

        Raises:
            ValueError: layer out of range, shapes that do not match the cache, or more positions
                than max_seq_len.

        Example:
            >>> cache = KVCache(1, 1, 1, 4, 2); k, v = cache.append(0, np.ones((1, 1, 3, 2)), np.ones((1, 1, 3, 2)))
            >>> k.shape
            (1, 1, 3, 2)
        """
        ### BEGIN SOLUTION
        num_layers, batch, heads, capacity, head_dim = self.keys.shape
        if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool) or not 0 <= layer < num_layers:
            raise ValueError(f"KVCache.append: layer must be an integer in [0, {num_layers}), got {layer!r}")
        keys, values = np.asarray(keys), np.asarray(values)
        for name, array in (("keys", keys), ("values", values)):
            if array.ndim != 4 or array.shape[:2] != (batch, heads) or array.shape[3] != head_dim:
                raise ValueError(
                    f"KVCache.append: {name} must have shape ({batch}, {heads}, t, {head_dim}), got {array.shape}")
        if keys.shape != values.shape:
            raise ValueError(f"KVCache.append: keys {keys.shape} and values {values.shape} differ in shape")
        start = int(self.lengths[layer])
        end = start + keys.shape[2]
        if end > capacity:
            raise ValueError(f"KVCache.append: {end} positions exceed max_seq_len={capacity}; reset() the cache")
        self.keys[layer, :, :, start:end] = keys
        self.values[layer, :, :, start:end] = values
        self.lengths[layer] = end
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]
        ### END SOLUTION

    def reset(self) -> None:
        """Forget every position (the memory stays allocated for the next generation).

        Example:
            >>> cache = KVCache(1, 1, 1, 4, 2); _ = cache.append(0, np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
            >>> cache.reset(); cache.length
            0
        """
        ### BEGIN SOLUTION
        self.lengths[:] = 0
        ### END SOLUTION


def cache_for(model: GPT, batch: int) -> KVCache:
    """An empty KVCache sized for a GPT: one layer per block, capacity max_seq_len.

    Args:
        model (GPT): the model to generate with.
        batch (int): sequences generated at once.

    Returns:
        KVCache: float32, (num_layers, batch, num_heads, max_seq_len, embed_dim // num_heads).

    Raises:
        TypeError: model is not a GPT.
        ValueError: batch is not a positive integer.

    Example:
        >>> cache_for(GPT(10, 8, 2, 3, 16, seed=0), batch=1).keys.shape
        (3, 1, 2, 16, 4)
    """
    ### BEGIN SOLUTION
    if not isinstance(model, GPT):
        raise TypeError(f"cache_for expects a GPT, got {type(model).__name__}")
    return KVCache(model.num_layers, batch, model.num_heads, model.max_seq_len, model.embed_dim // model.num_heads)
    ### END SOLUTION


# ---------------------------------------------------------------- one cached forward step
# A generation step records no graph, so it runs on the model's arrays directly: with one new row per
# step, the Tensor machinery (a Python object and checks per operation) would cost more than the
# arithmetic. The formulas are modules 02, 12 and 13's, applied to NumPy arrays.
def _layer_norm(x: np.ndarray, norm) -> np.ndarray:
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(variance + norm.eps) * norm.gamma.data + norm.beta.data


def _linear(x: np.ndarray, layer) -> np.ndarray:
    out = x @ layer.weight.data
    return out + layer.bias.data if layer.bias is not None else out


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(GELU_SCALE * (x + GELU_CUBIC * x * x * x)))


def _attend_with_cache(attn, x: np.ndarray, cache: KVCache, layer: int) -> np.ndarray:
    """Self-attention of t new positions over every cached position plus themselves."""
    batch, steps, _ = x.shape
    start = int(cache.lengths[layer])

    def heads(projected):  # (B, t, D) -> (B, H, t, D/H), as MultiHeadAttention.split_heads
        return projected.reshape(batch, steps, attn.num_heads, attn.head_dim).transpose(0, 2, 1, 3)

    q = heads(_linear(x, attn.q_proj))
    keys, values = cache.append(layer, heads(_linear(x, attn.k_proj)), heads(_linear(x, attn.v_proj)))
    scores = (q @ keys.transpose(0, 1, 3, 2)) * (1.0 / np.sqrt(attn.head_dim))
    if steps > 1:  # new query i sits at position start + i and may see keys 0 .. start + i
        mask = np.arange(keys.shape[2])[None, :] <= (start + np.arange(steps))[:, None]
        scores = np.where(mask, scores, -np.inf)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = scores / scores.sum(axis=-1, keepdims=True)
    attn.last_attention_weights = weights
    mixed = (weights @ values).transpose(0, 2, 1, 3).reshape(batch, steps, attn.embed_dim)
    return _linear(mixed, attn.out_proj)


def forward_step(model: GPT, ids, cache: KVCache) -> Tensor:
    """Logits of new tokens, reusing the cached keys and values of everything before them.

    The tokens take positions cache.length .. cache.length + t - 1. Every block appends their keys
    and values to its slot of the cache, so the next call continues where this one stopped. A
    step on t tokens does the work of t rows (projections, feed-forward, head) plus t x length
    attention scores; with t = 1 that is linear in the length. Records no graph and uses no
    dropout (inference); each block's attention leaves its (B, H, t, length) weights in
    block.attn.last_attention_weights, as MultiHeadAttention.forward does.

    Args:
        model (GPT): the model.
        ids (np.ndarray int, shape (B, t)): the new tokens.
        cache (KVCache): sized for the model (cache_for), holding the positions before ids.

    Returns:
        Tensor: logits of shape (B, t, vocab_size), float32, equal (to float32 rounding) to the
        last t positions of model(all tokens so far) in evaluation mode.

    Raises:
        ValueError: ids is not (B, t) with t >= 1 and B the cache's batch, or the cache would
            exceed max_seq_len.

    Example:
        >>> model = GPT(10, 8, 2, 1, 8, seed=0); cache = cache_for(model, 1)
        >>> forward_step(model, np.array([[1, 2, 3]]), cache).shape
        (1, 3, 10)
    """
    ### BEGIN SOLUTION
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.shape[1] == 0 or ids.shape[0] != cache.keys.shape[1] or ids.dtype.kind not in "iu":
        raise ValueError(
            f"forward_step expects integer ids of shape ({cache.keys.shape[1]}, t >= 1), got {ids.dtype} {ids.shape}")
    start, steps = cache.length, ids.shape[1]
    if start + steps > model.max_seq_len:
        raise ValueError(f"forward_step: {start} cached + {steps} new positions exceed max_seq_len={model.max_seq_len}")
    x = model.token_embedding.weight.data[ids] + model.position_embedding.weight.data[start:start + steps]
    for layer, block in enumerate(model.blocks):
        x = x + _attend_with_cache(block.attn, _layer_norm(x, block.ln1), cache, layer)
        x = x + _linear(_gelu(_linear(_layer_norm(x, block.ln2), block.ffn.fc1)), block.ffn.fc2)
    return Tensor(_linear(_layer_norm(x, model.final_norm), model.head).astype(np.float32, copy=False))
    ### END SOLUTION


# ---------------------------------------------------------------- generation
def generate_cached(model: GPT, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                    seed: int | None = None) -> np.ndarray:
    """GPT.generate with a KV cache: the same tokens, linear work per step.

    The prompt (its last max_seq_len tokens) is run once to fill the cache; then each new token
    is one forward_step. Tokens are chosen exactly as GPT.generate chooses them
    (sample_next_token with one np.random.default_rng(seed)). When the sequence outgrows
    max_seq_len, uncached generation slides its window, which moves every token to a new
    position; the cached keys then no longer apply, so each further step refills the cache from
    the last max_seq_len tokens (still the same tokens as uncached, at uncached cost).

    Args:
        model (GPT): the model (put in evaluation mode for the call, previous mode restored).
        idx (np.ndarray int, shape (B, T)): the prompt, T >= 1.
        max_new_tokens (int): tokens to append (>= 0).
        temperature (float): >= 0; 0 is greedy.
        top_k (int | None): sample among the k most likely tokens.
        seed (int | None): seed of the sampling.

    Returns:
        np.ndarray: shape (B, T + max_new_tokens), idx's integer dtype; starts with idx.

    Raises:
        TypeError: model is not a GPT, or idx does not hold integers.
        ValueError: the same argument errors as GPT.generate.

    Example:
        >>> model = GPT(10, 8, 2, 1, 8, seed=0); prompt = np.array([[1, 2]])
        >>> (generate_cached(model, prompt, 4, temperature=0) == model.generate(prompt, 4, temperature=0)).all()
        True
    """
    ### BEGIN SOLUTION
    if not isinstance(model, GPT):
        raise TypeError(f"generate_cached expects a GPT, got {type(model).__name__}")
    ids = _generation_arguments(idx, max_new_tokens, temperature, top_k, "generate_cached")
    rng = np.random.default_rng(seed)
    cache = cache_for(model, ids.shape[0])
    out = ids.copy()
    was_training = model.training
    model.eval()
    try:
        logits = None
        for _ in range(int(max_new_tokens)):
            if logits is None or cache.length == model.max_seq_len:
                cache.reset()  # first step, or the window slid: (re)fill from the visible tokens
                logits = forward_step(model, out[:, -model.max_seq_len:], cache)
            chosen = sample_next_token(logits.data[:, -1, :], temperature, top_k, rng).astype(out.dtype)
            out = np.concatenate([out, chosen[:, None]], axis=1)
            if cache.length < model.max_seq_len:
                logits = forward_step(model, chosen[:, None], cache)
    finally:
        model.train(was_training)
    return out
    ### END SOLUTION


def enable_kv_cache() -> None:
    """Give GPT.generate a `use_cache` keyword (default False). Calling it again does nothing.

    model.generate(idx, n, ..., use_cache=True) runs generate_cached; use_cache=False (or
    leaving it out) runs module 13's own generate unchanged.

    Example:
        >>> enable_kv_cache(); GPT(10, 8, 2, 1, 8, seed=0).generate(np.array([[1]]), 2, temperature=0, use_cache=True).shape
        (1, 3)
    """
    ### BEGIN SOLUTION
    if _STATE["enabled"]:
        return
    uncached = GPT.generate

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, seed=None, use_cache=False):
        if use_cache:
            return generate_cached(self, idx, max_new_tokens, temperature, top_k, seed)
        return uncached(self, idx, max_new_tokens, temperature, top_k, seed)

    generate.__doc__ = uncached.__doc__
    GPT.generate = generate
    _STATE["enabled"] = True
    ### END SOLUTION


# ---------------------------------------------------------------- counting the work
def step_flops(model: GPT, position: int, batch: int = 1, use_cache: bool = True) -> int:
    """FLOPs to produce the logits of the token at `position` (0-based) in a generation.

    Cached, the step runs ONE row through the model: per block, the four D x D projections of
    that row, its scores against position + 1 keys and the mix of as many values
    (4 * B * (position + 1) * D), and the feed-forward on one row; then the head on one row.
    Uncached, the step re-runs all position + 1 rows: per block attention_flops(B, position + 1,
    D, H) and the feed-forward on position + 1 rows, and the head on every row (the model computes
    all positions' logits). Counting convention of module 14.

    Args:
        model (GPT): the model.
        position (int): index of the newest token, in [0, max_seq_len).
        batch (int): B.
        use_cache (bool): cached step (True) or full recomputation (False).

    Returns:
        int: the FLOP count; linear in position when cached, quadratic when not.

    Raises:
        TypeError: model is not a GPT.
        ValueError: position outside [0, max_seq_len) or batch < 1.

    Example:
        >>> model = GPT(10, 8, 2, 1, 64, seed=0)
        >>> step_flops(model, 63, use_cache=False) > 30 * step_flops(model, 63, use_cache=True)
        True
    """
    ### BEGIN SOLUTION
    if not isinstance(model, GPT):
        raise TypeError(f"step_flops expects a GPT, got {type(model).__name__}")
    position = _positive(position, "position", "step_flops", minimum=0)
    if position >= model.max_seq_len:
        raise ValueError(f"step_flops: position must be below max_seq_len={model.max_seq_len}, got {position}")
    batch = _positive(batch, "batch", "step_flops")
    rows = 1 if use_cache else position + 1
    total = 0
    for block in model.blocks:
        attn, ffn = block.attn, block.ffn
        # Four projections of the rows computed this step; scores and mixing over position + 1 keys.
        total += 4 * linear_flops(batch * rows, model.embed_dim, model.embed_dim, attn.q_proj.bias is not None)
        total += 4 * batch * rows * (position + 1) * model.embed_dim
        total += linear_flops(batch * rows, ffn.embed_dim, ffn.hidden_dim, ffn.fc1.bias is not None)
        total += linear_flops(batch * rows, ffn.hidden_dim, ffn.embed_dim, ffn.fc2.bias is not None)
    return total + linear_flops(batch * rows, model.embed_dim, model.vocab_size, model.head.bias is not None)
    ### END SOLUTION
