"""Module 12 -- Attention: every position reads from every other, at O(N^2) memory.

Scaled dot-product attention turns a query, key and value for each position into an output:

    weights = softmax(q @ k^T / sqrt(d))      shape (..., T_q, T_k), each row sums to 1
    output  = weights @ v                     shape (..., T_q, d_v)

Each query row is a probability distribution over keys, so the output at one position is a
content-dependent average of the value rows. Dividing by sqrt(d) keeps the scores' spread
independent of the head width, so the softmax does not saturate as d grows.

THE MASK CONVENTION (the only one in tinytorch): a mask is a BOOLEAN array, broadcastable to
(..., T_q, T_k), where True means "this query MAY attend to this key". False positions get
probability exactly 0. `causal_mask(T)` is lower-triangular True: position t sees keys 0..t.
A float or 0/1 integer mask is rejected with a TypeError, because such a mask is ambiguous
(is 1 "keep" or "block"?): a mask with the opposite meaning silently blocks the wrong keys,
and a mask that is merely added to the scores changes nothing visible (a constant added to a
whole row does not change its softmax), so attention quietly stays uniform or looks ahead.

`MultiHeadAttention` projects x (B, T, D) into queries, keys and values, splits the model width
into H heads of width D/H -> (B, H, T, D/H), attends in every head at once, merges the heads
back to (B, T, D) and applies an output projection. With `context` (B, S, D), keys and values
come from the context instead (cross-attention).

Systems lesson: the weights hold B * H * T_q * T_k numbers. Doubling the sequence length
quadruples that memory (`attention_score_bytes`), and training keeps it alive for backward.
"""
from __future__ import annotations

import math

import numpy as np

from tinytorch.core.autograd import Function, _unbroadcast
from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor


# ---------------------------------------------------------------- masks
def causal_mask(seq_len: int) -> np.ndarray:
    """The boolean mask that lets position t attend only to positions 0..t (never the future).

    Args:
        seq_len (int): the sequence length T (positive).

    Returns:
        np.ndarray: shape (T, T), dtype bool; entry [t, s] is True exactly when s <= t
        (lower-triangular True, diagonal included).

    Raises:
        ValueError: seq_len is not a positive integer.

    Example:
        >>> causal_mask(3)
        array([[ True, False, False],
               [ True,  True, False],
               [ True,  True,  True]])
    """
    ### BEGIN SOLUTION
    if not isinstance(seq_len, (int, np.integer)) or isinstance(seq_len, bool) or seq_len <= 0:
        raise ValueError(f"causal_mask: seq_len must be a positive integer, got {seq_len!r}")
    return np.tril(np.ones((int(seq_len), int(seq_len)), dtype=bool))
    ### END SOLUTION


def _check_mask(mask, scores_shape: tuple) -> np.ndarray:
    """Validate a mask against the convention and return it as a boolean array.

    Args:
        mask (np.ndarray | Tensor | list): the mask, True = may attend.
        scores_shape (tuple[int, ...]): the shape (..., T_q, T_k) of the scores it applies to.

    Returns:
        np.ndarray: dtype bool, broadcastable to scores_shape.

    Raises:
        TypeError: the mask is not boolean (the message explains the convention).
        ValueError: the mask does not broadcast to scores_shape, or some query row has every key
            masked out (its probabilities would be 0/0).

    Example:
        >>> _check_mask(causal_mask(2), (1, 2, 2)).dtype
        dtype('bool')
    """
    ### BEGIN SOLUTION
    array = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype != np.bool_:
        raise TypeError(
            "attention mask must be a boolean array where True means 'this query may attend to this key' "
            f"(False gets probability 0), got dtype {array.dtype}; convert an intended 0/1 mask with "
            "mask.astype(bool) only if 1 means 'may attend'"
        )
    try:
        broadcast = np.broadcast_shapes(array.shape, scores_shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(scores_shape):
        raise ValueError(
            f"attention mask of shape {array.shape} does not broadcast to the scores' shape {tuple(scores_shape)} "
            "(..., T_q, T_k)"
        )
    blocked = ~np.atleast_1d(array).any(axis=-1)
    if blocked.any():
        raise ValueError(
            "attention mask blocks every key for some query row (a row of the mask is all False), so its "
            f"weights would be 0/0; first such row at mask index {tuple(int(i) for i in np.argwhere(blocked)[0])}"
        )
    return array
    ### END SOLUTION


# ---------------------------------------------------------------- the differentiable core
class AttentionWeights(Function):
    """weights = softmax(masked(q @ k^T * scale)) over the last axis, with a hand-written backward.

    `AttentionWeights.apply(q, k, mask, scale)` takes q (..., T_q, d), k (..., T_k, d), a boolean
    mask broadcastable to (..., T_q, T_k) (True = may attend; np.True_ for "no mask") and the
    scale 1/sqrt(d). Only q and k receive gradients. The whole batch of heads is one array
    operation: no Python loop over batch, head or position.

    Example:
        >>> AttentionWeights.apply(Tensor(np.zeros((2, 3))), Tensor(np.zeros((4, 3))), np.True_, 1.0).shape
        (2, 4)
    """

    @staticmethod
    def forward(ctx, q, k, mask, scale):
        """Masked, max-shifted softmax of the scaled scores; saves what backward needs.

        Args:
            ctx (object): namespace for saved arrays.
            q (np.ndarray, shape (..., T_q, d)): queries.
            k (np.ndarray, shape (..., T_k, d)): keys.
            mask (np.ndarray of bool, broadcastable to (..., T_q, T_k)): True = may attend.
            scale (np.ndarray, 0-d): the factor 1/sqrt(d).

        Returns:
            np.ndarray: weights of shape (..., T_q, T_k); masked entries are exactly 0 and each
            row sums to 1.

        Example:
            >>> AttentionWeights  # see the class example
        """
        ### BEGIN SOLUTION
        scale = float(scale)
        scores = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
        if not np.all(mask):
            # -inf becomes exp(-inf) = 0 exactly; every row keeps a finite maximum (checked earlier).
            scores = np.where(mask, scores, np.array(-np.inf, dtype=scores.dtype))
        scores = scores - scores.max(axis=-1, keepdims=True)
        exps = np.exp(scores)
        weights = exps / exps.sum(axis=-1, keepdims=True)
        ctx.q, ctx.k, ctx.weights, ctx.scale = q, k, weights, scale
        return weights
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Send the weights' gradient to q and k through the softmax and the score product.

        Args:
            ctx (object): what forward saved (q, k, weights, scale).
            grad (np.ndarray, shape (..., T_q, T_k)): gradient of the weights.

        Returns:
            tuple: (grad_q shaped like q, grad_k shaped like k, None for the mask, None for the
            scale).

        Example:
            >>> AttentionWeights  # see the class example
        """
        ### BEGIN SOLUTION
        weights = ctx.weights
        # softmax Jacobian-vector product, row by row: P * (g - sum(g * P)); masked P = 0 stays 0.
        grad_scores = weights * (grad - (grad * weights).sum(axis=-1, keepdims=True)) * ctx.scale
        grad_q = np.matmul(grad_scores, ctx.k)
        grad_k = np.matmul(np.swapaxes(grad_scores, -1, -2), ctx.q)
        return _unbroadcast(grad_q, ctx.q.shape), _unbroadcast(grad_k, ctx.k.shape), None, None
        ### END SOLUTION


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask=None) -> tuple[Tensor, Tensor]:
    """softmax(q @ k^T / sqrt(d)) @ v, optionally masked, for any number of leading dimensions.

    Args:
        q (Tensor, shape (..., T_q, d)): queries.
        k (Tensor, shape (..., T_k, d)): keys (same d as q).
        v (Tensor, shape (..., T_k, d_v)): values (same T_k as k).
        mask (np.ndarray | Tensor of bool | None): broadcastable to (..., T_q, T_k); True means
            "this query may attend to this key", False positions get probability exactly 0.
            None lets every query see every key.

    Returns:
        tuple[Tensor, Tensor]: (output of shape (..., T_q, d_v), weights of shape
        (..., T_q, T_k)); both have the inputs' float dtype, weights are non-negative and each
        row sums to 1. After enable_autograd() both are differentiable with respect to q, k, v.

    Raises:
        TypeError: q, k or v is not a Tensor, or the mask is not boolean (a 0/1 float mask is
            ambiguous and refused; the message states the convention).
        ValueError: an input has fewer than 2 dimensions, the feature sizes of q and k differ,
            k and v have different lengths, leading dimensions do not broadcast, the mask does
            not broadcast to (..., T_q, T_k), or a query row has every key masked out.

    Example:
        >>> out, w = scaled_dot_product_attention(Tensor(np.ones((2, 4))), Tensor(np.ones((3, 4))), Tensor(np.ones((3, 5))))
        >>> out.shape, w.shape
        ((2, 5), (2, 3))
    """
    ### BEGIN SOLUTION
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, got {type(tensor).__name__}")
        if tensor.ndim < 2:
            raise ValueError(
                f"scaled_dot_product_attention: {name} needs shape (..., T, features), got shape {tensor.shape}"
            )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"scaled_dot_product_attention: q and k must have the same feature size d, got q {q.shape} and k {k.shape}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: k and v must have the same length T_k, got k {k.shape} and v {v.shape}"
        )
    try:
        leading = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"scaled_dot_product_attention: leading dimensions do not broadcast: q {q.shape}, k {k.shape}, v {v.shape}"
        ) from None
    scores_shape = tuple(leading) + (q.shape[-2], k.shape[-2])
    mask_array = np.True_ if mask is None else _check_mask(mask, scores_shape)
    scale = 1.0 / math.sqrt(q.shape[-1])
    weights = AttentionWeights.apply(q, k, mask_array, scale)
    return weights @ v, weights
    ### END SOLUTION


# ---------------------------------------------------------------- several heads at once
class MultiHeadAttention(Module):
    """H attention heads of width D/H over learned projections of the input.

    Args:
        embed_dim (int): the model width D (last dimension of the input).
        num_heads (int): the number of heads H; must divide embed_dim.
        seed (int | None): seed for the four projections' initial weights (None: fresh randomness).
        bias (bool): whether the projections have biases (default True).

    Attributes:
        q_proj, k_proj, v_proj, out_proj (Linear): D -> D projections.
        head_dim (int): D // H.
        last_attention_weights (np.ndarray | None): the weights (B, H, T, S) of the latest
            forward call, kept for inspection (None before the first call).

    Raises:
        ValueError: embed_dim or num_heads is not a positive integer, or num_heads does not
            divide embed_dim.

    Example:
        >>> MultiHeadAttention(8, 2, seed=0)(Tensor(np.zeros((1, 3, 8)))).shape
        (1, 3, 8)
    """

    def __init__(self, embed_dim: int, num_heads: int, seed: int | None = None, bias: bool = True):
        ### BEGIN SOLUTION
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"MultiHeadAttention: {name} must be a positive integer, got {value!r}")
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"MultiHeadAttention: embed_dim={embed_dim} must be divisible by num_heads={num_heads} "
                f"(each head gets embed_dim / num_heads features)"
            )
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        seeds = [None] * 4 if seed is None else [int(s) for s in np.random.default_rng(seed).integers(0, 2**31, 4)]
        self.q_proj = Linear(self.embed_dim, self.embed_dim, bias=bias, seed=seeds[0])
        self.k_proj = Linear(self.embed_dim, self.embed_dim, bias=bias, seed=seeds[1])
        self.v_proj = Linear(self.embed_dim, self.embed_dim, bias=bias, seed=seeds[2])
        self.out_proj = Linear(self.embed_dim, self.embed_dim, bias=bias, seed=seeds[3])
        self.last_attention_weights = None
        ### END SOLUTION

    def split_heads(self, x: Tensor) -> Tensor:
        """Give every head its own slice of the features: (B, T, D) -> (B, H, T, D/H).

        Head h receives features h*D/H .. (h+1)*D/H - 1 of every position.

        Args:
            x (Tensor, shape (B, T, D)): projected inputs.

        Returns:
            Tensor: shape (B, H, T, D/H), same dtype (differentiable).

        Raises:
            ValueError: x is not 3-D with last dimension embed_dim.

        Example:
            >>> MultiHeadAttention(8, 2).split_heads(Tensor(np.zeros((1, 3, 8)))).shape
            (1, 2, 3, 4)
        """
        ### BEGIN SOLUTION
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"split_heads expects shape (B, T, {self.embed_dim}), got {x.shape}")
        batch, length, _ = x.shape
        return x.reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)
        ### END SOLUTION

    def merge_heads(self, x: Tensor) -> Tensor:
        """Undo split_heads: (B, H, T, D/H) -> (B, T, D), heads side by side in order.

        Args:
            x (Tensor, shape (B, H, T, D/H)): per-head outputs.

        Returns:
            Tensor: shape (B, T, D), same dtype (differentiable).

        Raises:
            ValueError: x does not have shape (B, num_heads, T, head_dim).

        Example:
            >>> MultiHeadAttention(8, 2).merge_heads(Tensor(np.zeros((1, 2, 3, 4)))).shape
            (1, 3, 8)
        """
        ### BEGIN SOLUTION
        if x.ndim != 4 or x.shape[1] != self.num_heads or x.shape[3] != self.head_dim:
            raise ValueError(
                f"merge_heads expects shape (B, {self.num_heads}, T, {self.head_dim}), got {x.shape}"
            )
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.embed_dim)
        ### END SOLUTION

    def forward(self, x: Tensor, context: Tensor | None = None, mask=None) -> Tensor:
        """Attend from every position of x to every position of x (or of context).

        Args:
            x (Tensor, shape (B, T, D)): the sequence whose positions ask (queries come from x).
            context (Tensor, shape (B, S, D) | None): where keys and values come from;
                None means x itself (self-attention, S = T).
            mask (np.ndarray | Tensor of bool | None): True = may attend. Shape (T, S) is shared
                by every example and head; (B, T, S) is per example (shared by the heads);
                (B, 1, T, S) or (B, H, T, S) is used as given.

        Returns:
            Tensor: shape (B, T, D), dtype of x. Also sets self.last_attention_weights to the
            (B, H, T, S) weights as an np.ndarray.

        Raises:
            TypeError: x or context is not a Tensor, or the mask is not boolean.
            ValueError: x or context is not 3-D with last dimension embed_dim, their batch sizes
                differ, or the mask does not fit (see scaled_dot_product_attention).

        Example:
            >>> MultiHeadAttention(4, 2, seed=0)(Tensor(np.ones((2, 5, 4))), mask=causal_mask(5)).shape
            (2, 5, 4)
        """
        ### BEGIN SOLUTION
        source = x if context is None else context
        for name, tensor in (("x", x), ("context", source)):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"MultiHeadAttention: {name} must be a Tensor, got {type(tensor).__name__}")
            if tensor.ndim != 3 or tensor.shape[-1] != self.embed_dim:
                raise ValueError(
                    f"MultiHeadAttention: {name} must have shape (B, length, {self.embed_dim}), got {tensor.shape}"
                )
        if source.shape[0] != x.shape[0]:
            raise ValueError(
                f"MultiHeadAttention: x and context must have the same batch size, got {x.shape} and {source.shape}"
            )
        if mask is not None:
            mask_array = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
            mask = mask_array[:, None] if mask_array.ndim == 3 else mask_array  # per example -> every head
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(source))
        v = self.split_heads(self.v_proj(source))
        heads, weights = scaled_dot_product_attention(q, k, v, mask)
        self.last_attention_weights = weights.data
        return self.out_proj(self.merge_heads(heads))
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"


# ---------------------------------------------------------------- systems fact
def attention_score_bytes(batch: int, num_heads: int, seq_len: int, dtype=np.float32) -> int:
    """Memory of one layer's attention weights: batch * heads * T * T * itemsize (quadratic in T).

    Args:
        batch (int): number of sequences B.
        num_heads (int): number of heads H.
        seq_len (int): sequence length T (queries and keys).
        dtype (np.dtype | type): element type of the weights.

    Returns:
        int: B * H * T * T * np.dtype(dtype).itemsize bytes; doubling T quadruples it.

    Raises:
        ValueError: a count is negative or not an integer.

    Example:
        >>> attention_score_bytes(1, 1, 1024)
        4194304
    """
    ### BEGIN SOLUTION
    for name, value in (("batch", batch), ("num_heads", num_heads), ("seq_len", seq_len)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"attention_score_bytes: {name} must be a non-negative integer, got {value!r}")
    return int(batch) * int(num_heads) * int(seq_len) * int(seq_len) * np.dtype(dtype).itemsize
    ### END SOLUTION
