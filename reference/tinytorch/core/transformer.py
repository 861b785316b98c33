"""Module 13 -- Transformers: stack attention and small MLPs into a GPT that writes text.

A transformer block normalises its input (LayerNorm over the last dimension), lets every
position gather information from earlier positions (multi-head self-attention with the causal
mask of module 12), normalises again and applies a position-wise feed-forward network
(Linear -> GELU -> Linear). Both sub-layers are wrapped in residual connections,
x = x + sublayer(norm(x)) ("pre-norm"), so the identity path carries the signal and the gradient
straight through a deep stack. A GPT is token embedding + learned positions, a stack of blocks,
a final LayerNorm and a linear head that scores every vocabulary entry at every position; it is
trained to predict token t+1 from tokens <= t and generates text autoregressively, one token at a
time, feeding each choice back in.

Systems lesson (paper Table 3): memory per layer. Parameters are fixed by the architecture
(about 12 * embed_dim^2 per block with the usual 4x hidden size), but the activations a training
step keeps grow with batch * seq_len * embed_dim, the attention score matrices grow with
batch * heads * seq_len^2, and the keys and values of every earlier position (2 * batch *
seq_len * embed_dim numbers per layer) are what a generator must hold to avoid recomputing
them. `gpt_parameter_count` and `memory_profile` put numbers on each of these.
"""
from __future__ import annotations

import numpy as np

from tinytorch.core.activations import GELU_CUBIC, GELU_SCALE
from tinytorch.core.attention import MultiHeadAttention, attention_score_bytes, causal_mask
from tinytorch.core.autograd import Function, no_grad
from tinytorch.core.embeddings import Embedding, LearnedPositionalEmbedding
from tinytorch.core.layers import Dropout, Linear, Module, Parameter
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.tensor import Tensor

# Standard deviation of the output head's initial weights: small, so the first predictions are
# close to uniform and the initial loss is close to log(vocab_size).
HEAD_INIT_STD = 0.02


def _positive_int(value, name: str, owner: str) -> int:
    """Validate a size argument (a positive integer, bools rejected)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _child_seeds(seed: int | None, count: int) -> list:
    """`count` independent seeds derived from one seed (all None when seed is None)."""
    if seed is None:
        return [None] * count
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=count)]


# ---------------------------------------------------------------- LayerNorm
class LayerNormFunction(Function):
    """Layer normalisation of the last dimension as one recorded operation with its own backward.

    forward(x, gamma, beta, eps) = gamma * (x - mean) / sqrt(var + eps) + beta, where mean and the
    biased variance var are taken over the last dimension. Recording it as a single operation
    (instead of about ten Tensor operations) keeps the graph small and the backward fast.

    Example:
        >>> LayerNormFunction.apply(Tensor(np.ones((2, 3))), np.ones(3), np.zeros(3), 1e-5).shape
        (2, 3)
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        """Normalise each row of the last dimension, then scale by gamma and shift by beta.

        Args:
            ctx (object): saves the normalised values and 1/std for backward.
            x (np.ndarray, shape (..., D)): inputs.
            gamma (np.ndarray, shape (D,)): per-feature scale.
            beta (np.ndarray, shape (D,)): per-feature shift.
            eps (np.ndarray, 0-d): added to the variance inside the square root.

        Returns:
            np.ndarray: shape (..., D), dtype of x (promoted with gamma/beta).

        Example:
            >>> LayerNormFunction  # see the class example
        """
        ### BEGIN SOLUTION
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        variance = (centered * centered).mean(axis=-1, keepdims=True)
        inv_std = 1.0 / np.sqrt(variance + float(eps))
        normalized = centered
        normalized *= inv_std  # in place: centered is a fresh array
        ctx.normalized, ctx.inv_std, ctx.gamma = normalized, inv_std, gamma
        out = normalized * gamma
        out += beta
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Gradients for x, gamma and beta (eps gets none).

        With n = normalised x and g = grad * gamma:
        dx = (g - mean(g) - n * mean(g * n)) / std, dgamma = sum(grad * n), dbeta = sum(grad),
        where the means run over the last dimension and the sums over every other dimension.

        Args:
            ctx (object): what forward saved.
            grad (np.ndarray, shape (..., D)): gradient of the output.

        Returns:
            tuple: (grad_x (..., D), grad_gamma (D,), grad_beta (D,), None).

        Example:
            >>> LayerNormFunction  # see the class example
        """
        ### BEGIN SOLUTION
        normalized, inv_std, gamma = ctx.normalized, ctx.inv_std, ctx.gamma
        width = normalized.shape[-1]
        g = grad * gamma
        grad_x = normalized * (g * normalized).mean(axis=-1, keepdims=True)
        np.subtract(g, grad_x, out=grad_x)
        grad_x -= g.mean(axis=-1, keepdims=True)
        grad_x *= inv_std
        flat_grad = grad.reshape(-1, width)
        grad_gamma = np.einsum("ij,ij->j", flat_grad, normalized.reshape(-1, width))  # sum over rows
        grad_beta = flat_grad.sum(axis=0)
        return grad_x, grad_gamma, grad_beta, None
        ### END SOLUTION


class LayerNorm(Module):
    """Layer normalisation over the last dimension, with a learned scale and shift:

        y = gamma * (x - mean) / sqrt(var + eps) + beta

    mean and var are computed per row over the last dimension; var is the biased variance
    (divide by D, not D - 1); eps sits inside the square root. gamma starts at ones and beta at
    zeros, so a fresh layer outputs rows with mean 0 and variance 1.

    Args:
        normalized_dim (int): D, the size of the last dimension.
        eps (float): small positive number added to the variance (default 1e-5).

    Attributes:
        gamma (Parameter, shape (D,)): scale, initialised to ones.
        beta (Parameter, shape (D,)): shift, initialised to zeros.

    Raises:
        ValueError: normalized_dim is not a positive integer, or eps is not a positive number.

    Example:
        >>> LayerNorm(4)(Tensor(np.arange(8.0).reshape(2, 4))).shape
        (2, 4)
    """

    def __init__(self, normalized_dim: int, eps: float = 1e-5):
        ### BEGIN SOLUTION
        self.normalized_dim = _positive_int(normalized_dim, "normalized_dim", "LayerNorm")
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
            raise ValueError(f"LayerNorm: eps must be a positive number, got {eps!r}")
        self.eps = float(eps)
        self.gamma = Parameter(np.ones(self.normalized_dim, dtype=np.float32))
        self.beta = Parameter(np.zeros(self.normalized_dim, dtype=np.float32))
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Normalise every row of the last dimension, then apply gamma and beta.

        Args:
            x (Tensor, shape (..., D)): inputs; integer inputs are treated as float32.

        Returns:
            Tensor: shape (..., D), x's float dtype.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x's last dimension is not normalized_dim (both sizes are named).

        Example:
            >>> y = LayerNorm(3)(Tensor([[1.0, 2.0, 3.0]])); np.round(y.data, 3)
            array([[-1.225,  0.   ,  1.225]], dtype=float32)
        """
        ### BEGIN SOLUTION
        if not isinstance(x, Tensor):
            raise TypeError(f"LayerNorm expects a Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.normalized_dim:
            raise ValueError(
                f"LayerNorm expects inputs whose last dimension is normalized_dim={self.normalized_dim}, "
                f"got shape {x.shape}"
            )
        if x.dtype.kind != "f":
            x = Tensor(x.data.astype(np.float32))
        return LayerNormFunction.apply(x, self.gamma, self.beta, self.eps)
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_dim}, eps={self.eps})"


# ---------------------------------------------------------------- feed-forward network
class GELUFunction(Function):
    """GELU (the module-02 tanh formula) as one recorded operation with a hand-written backward.

    GELU(x) = 0.5 * x * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 * x^3). The module-02
    GELU is built from about a dozen Tensor operations, each one a graph node holding a full
    (B, T, hidden) array; the feed-forward network is the widest part of a block, so here the
    same formula is one node whose backward uses the closed-form derivative
    GELU'(x) = 0.5 * (1 + tanh(u)) + 0.5 * x * (1 - tanh(u)^2) * sqrt(2/pi) * (1 + 3 * 0.044715 * x^2).

    Example:
        >>> np.round(GELUFunction.apply(Tensor([0.0, 1.0])).data, 4)
        array([0.    , 0.8412], dtype=float32)
    """

    @staticmethod
    def forward(ctx, x):
        """Apply GELU element-wise and save what backward needs.

        Args:
            ctx (object): saves x and tanh(u).
            x (np.ndarray, any shape): inputs (float).

        Returns:
            np.ndarray: same shape and dtype.

        Example:
            >>> GELUFunction  # see the class example
        """
        ### BEGIN SOLUTION
        # In-place steps on one fresh buffer: the hidden layer is the widest array of a block.
        tanh_u = x * x
        tanh_u *= GELU_CUBIC
        tanh_u += 1.0
        tanh_u *= x
        tanh_u *= GELU_SCALE
        np.tanh(tanh_u, out=tanh_u)  # tanh(u), u = sqrt(2/pi) * (x + 0.044715 x^3)
        ctx.x, ctx.tanh_u = x, tanh_u
        out = tanh_u + 1.0
        out *= x
        out *= 0.5
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Multiply the incoming gradient by GELU'(x) (formula in the class docstring).

        Args:
            ctx (object): what forward saved.
            grad (np.ndarray, shape of x): gradient of the output.

        Returns:
            tuple: (grad_x,) shaped like x.

        Example:
            >>> GELUFunction  # see the class example
        """
        ### BEGIN SOLUTION
        x, tanh_u = ctx.x, ctx.tanh_u
        slope = tanh_u * tanh_u
        np.subtract(1.0, slope, out=slope)  # 1 - tanh(u)^2
        du_dx = x * x
        du_dx *= 3.0 * GELU_CUBIC
        du_dx += 1.0
        du_dx *= GELU_SCALE
        du_dx *= x  # x * du/dx
        slope *= du_dx
        slope += tanh_u
        slope += 1.0
        slope *= 0.5
        slope *= grad
        return (slope,)
        ### END SOLUTION


class FeedForward(Module):
    """Position-wise MLP of a block: Linear(D, hidden) -> GELU -> Linear(hidden, D).

    It acts on the last dimension only, so every position is transformed independently. GELU is
    the module-02 tanh formula (applied through GELUFunction, one graph node instead of a dozen).

    Args:
        embed_dim (int): D, input and output size.
        hidden_dim (int | None): inner size (default 4 * embed_dim).
        seed (int | None): seed for both layers' initial weights.

    Attributes:
        fc1 (Linear): embed_dim -> hidden_dim.
        fc2 (Linear): hidden_dim -> embed_dim.

    Raises:
        ValueError: a size is not a positive integer.

    Example:
        >>> FeedForward(8, seed=0)(Tensor(np.zeros((2, 5, 8)))).shape
        (2, 5, 8)
    """

    def __init__(self, embed_dim: int, hidden_dim: int | None = None, seed: int | None = None):
        ### BEGIN SOLUTION
        self.embed_dim = _positive_int(embed_dim, "embed_dim", "FeedForward")
        self.hidden_dim = (4 * self.embed_dim if hidden_dim is None
                           else _positive_int(hidden_dim, "hidden_dim", "FeedForward"))
        seeds = _child_seeds(seed, 2)
        self.fc1 = Linear(self.embed_dim, self.hidden_dim, seed=seeds[0])
        self.fc2 = Linear(self.hidden_dim, self.embed_dim, seed=seeds[1])
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Apply fc1, GELU and fc2 to the last dimension.

        Args:
            x (Tensor, shape (..., embed_dim)): inputs.

        Returns:
            Tensor: shape (..., embed_dim).

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x's last dimension is not embed_dim.

        Example:
            >>> FeedForward(4, hidden_dim=6)(Tensor(np.ones((3, 4)))).shape
            (3, 4)
        """
        ### BEGIN SOLUTION
        if not isinstance(x, Tensor):
            raise TypeError(f"FeedForward expects a Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.embed_dim:
            raise ValueError(
                f"FeedForward expects inputs whose last dimension is embed_dim={self.embed_dim}, got shape {x.shape}"
            )
        # Positions are independent, so fold them into one (rows, D) matrix: each weight gradient is
        # then a single matrix product instead of one per sequence plus a sum.
        rows = x.reshape(-1, self.embed_dim) if x.ndim > 2 else x
        out = self.fc2(GELUFunction.apply(self.fc1(rows)))
        return out.reshape(x.shape) if x.ndim > 2 else out
        ### END SOLUTION


# ---------------------------------------------------------------- transformer block
class TransformerBlock(Module):
    """Pre-norm transformer block with residual connections:

        x = x + dropout(attn(ln1(x), mask))
        x = x + dropout(ffn(ln2(x)))

    Args:
        embed_dim (int): D, the model width.
        num_heads (int): attention heads; must divide embed_dim.
        hidden_dim (int | None): feed-forward inner size (default 4 * embed_dim).
        dropout (float): dropout probability on both residual branches (active only in train()).
        seed (int | None): seed for the initial weights and the dropout masks.

    Attributes:
        ln1 (LayerNorm), attn (MultiHeadAttention), ln2 (LayerNorm), ffn (FeedForward),
        dropout (Dropout).

    Raises:
        ValueError: a size is not a positive integer, num_heads does not divide embed_dim, or
            dropout is outside [0, 1).

    Example:
        >>> TransformerBlock(8, 2, seed=0)(Tensor(np.zeros((1, 3, 8)))).shape
        (1, 3, 8)
    """

    def __init__(self, embed_dim: int, num_heads: int, hidden_dim: int | None = None, dropout: float = 0.0,
                 seed: int | None = None):
        ### BEGIN SOLUTION
        self.embed_dim = _positive_int(embed_dim, "embed_dim", "TransformerBlock")
        self.num_heads = _positive_int(num_heads, "num_heads", "TransformerBlock")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"TransformerBlock: num_heads={self.num_heads} must divide embed_dim={self.embed_dim}"
            )
        seeds = _child_seeds(seed, 3)
        self.ln1 = LayerNorm(self.embed_dim)
        self.attn = MultiHeadAttention(self.embed_dim, self.num_heads, seed=seeds[0])
        self.ln2 = LayerNorm(self.embed_dim)
        self.ffn = FeedForward(self.embed_dim, hidden_dim, seed=seeds[1])
        self.dropout = Dropout(dropout, seed=seeds[2])
        ### END SOLUTION

    def forward(self, x: Tensor, mask=None) -> Tensor:
        """Apply both residual sub-layers.

        Args:
            x (Tensor, shape (B, T, embed_dim)): inputs.
            mask (np.ndarray bool | None, broadcastable to (T, T)): True where a position may
                look at another (e.g. causal_mask(T)); None lets every position see all.

        Returns:
            Tensor: shape (B, T, embed_dim).

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x is not (B, T, embed_dim).

        Example:
            >>> TransformerBlock(4, 1)(Tensor(np.ones((2, 3, 4))), causal_mask(3)).shape
            (2, 3, 4)
        """
        ### BEGIN SOLUTION
        if not isinstance(x, Tensor):
            raise TypeError(f"TransformerBlock expects a Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(
                f"TransformerBlock expects inputs of shape (B, T, embed_dim={self.embed_dim}), got shape {x.shape}"
            )
        x = x + self.dropout(self.attn(self.ln1(x), mask=mask))
        return x + self.dropout(self.ffn(self.ln2(x)))
        ### END SOLUTION


# ---------------------------------------------------------------- GPT
def _token_ids(ids, name: str) -> np.ndarray:
    """Accept a 2-D integer array (or nested list / integer Tensor) of token ids."""
    if isinstance(ids, Tensor):
        ids = ids.data
    array = np.asarray(ids)
    if array.dtype.kind not in "iu":
        raise TypeError(f"GPT: {name} must hold integer token ids, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"GPT: {name} must have shape (batch, seq_len), got shape {array.shape}")
    return array


def _generation_arguments(idx, max_new_tokens, temperature, top_k, owner: str) -> np.ndarray:
    """Check what every generation loop is given; returns the prompt's ids (B, T >= 1)."""
    ids = _token_ids(idx, "idx")
    if ids.shape[1] == 0:
        raise ValueError(f"{owner} needs a prompt of at least one token, got shape {ids.shape}")
    if not isinstance(max_new_tokens, (int, np.integer)) or isinstance(max_new_tokens, bool) or max_new_tokens < 0:
        raise ValueError(f"{owner}: max_new_tokens must be a non-negative integer, got {max_new_tokens!r}")
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature >= 0:
        raise ValueError(f"{owner}: temperature must be a number >= 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(f"{owner}: top_k must be a positive integer or None, got {top_k!r}")
    return ids


def sample_next_token(logits: np.ndarray, temperature: float, top_k: int | None, rng) -> np.ndarray:
    """Choose one next token per row from the last position's logits.

    temperature 0 is greedy (argmax, the first on a tie). Otherwise the logits are divided by the
    temperature, cut to the top_k largest when top_k is given (ties with the k-th are kept), and one
    token is drawn from their softmax by inverse-CDF sampling with ONE rng.random(B) call: row b
    takes the first token whose running total of weights exceeds u_b * total. Doing it the same
    way every time is what lets two generation loops with the same seed choose the same tokens.

    Args:
        logits (np.ndarray float, shape (B, V)): scores of every vocabulary entry.
        temperature (float): >= 0.
        top_k (int | None): keep only the k largest logits (None or k >= V: all).
        rng (np.random.Generator): the source of randomness (unused when temperature is 0).

    Returns:
        np.ndarray: int64 token ids, shape (B,).

    Raises:
        ValueError: logits is not 2-D.

    Example:
        >>> sample_next_token(np.array([[0.1, 2.0, 0.3]]), 0.0, None, np.random.default_rng(0)).tolist()
        [1]
    """
    ### BEGIN SOLUTION
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"sample_next_token expects logits of shape (B, V), got shape {logits.shape}")
    if temperature == 0:
        return logits.argmax(axis=-1).astype(np.int64)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.sort(logits, axis=-1)[:, -int(top_k)][:, None]
        logits = np.where(logits >= kth, logits, -np.inf)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    cumulative = np.cumsum(weights, axis=-1)
    u = rng.random(len(logits))[:, None] * cumulative[:, -1:]
    return (cumulative <= u).sum(axis=-1).astype(np.int64)
    ### END SOLUTION


class GPT(Module):
    """A decoder-only language model: predicts token t+1 from tokens 0..t at every position.

        x = token_embedding(idx) + position_embedding[:T]
        x = dropout(x); x = block(x, causal_mask(T)) for each block
        logits = head(final_norm(x))

    The head's weights start small (normal, std 0.02) so a fresh model predicts nearly uniform
    probabilities: the initial loss is close to log(vocab_size).

    Args:
        vocab_size (int): V, number of token ids.
        embed_dim (int): D, the model width.
        num_heads (int): attention heads per block; must divide embed_dim.
        num_layers (int): number of TransformerBlocks.
        max_seq_len (int): longest sequence forward() accepts (size of the position table).
        dropout (float): dropout probability after the embeddings and on every residual branch.
        seed (int | None): seed for every initial weight and dropout mask.
        hidden_dim (int | None): feed-forward inner size (default 4 * embed_dim).

    Attributes:
        token_embedding (Embedding, (V, D)), position_embedding (LearnedPositionalEmbedding,
        (max_seq_len, D)), dropout (Dropout), blocks (list[TransformerBlock]),
        final_norm (LayerNorm), head (Linear, D -> V).

    Raises:
        ValueError: a size is not a positive integer, num_heads does not divide embed_dim, or
            dropout is outside [0, 1).

    Example:
        >>> model = GPT(vocab_size=10, embed_dim=8, num_heads=2, num_layers=1, max_seq_len=4, seed=0)
        >>> model(np.zeros((1, 3), dtype=np.int64)).shape
        (1, 3, 10)
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_heads: int, num_layers: int, max_seq_len: int,
                 dropout: float = 0.0, seed: int | None = None, hidden_dim: int | None = None):
        ### BEGIN SOLUTION
        self.vocab_size = _positive_int(vocab_size, "vocab_size", "GPT")
        self.embed_dim = _positive_int(embed_dim, "embed_dim", "GPT")
        self.num_heads = _positive_int(num_heads, "num_heads", "GPT")
        self.num_layers = _positive_int(num_layers, "num_layers", "GPT")
        self.max_seq_len = _positive_int(max_seq_len, "max_seq_len", "GPT")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"GPT: num_heads={self.num_heads} must divide embed_dim={self.embed_dim}")
        seeds = _child_seeds(seed, 4 + self.num_layers)
        self.token_embedding = Embedding(self.vocab_size, self.embed_dim, seed=seeds[0])
        self.position_embedding = LearnedPositionalEmbedding(self.max_seq_len, self.embed_dim, seed=seeds[1])
        self.dropout = Dropout(dropout, seed=seeds[2])
        self.blocks = [TransformerBlock(self.embed_dim, self.num_heads, hidden_dim, dropout, seed=s)
                       for s in seeds[4:]]
        self.final_norm = LayerNorm(self.embed_dim)
        self.head = Linear(self.embed_dim, self.vocab_size)
        head_rng = np.random.default_rng(seeds[3])
        self.head.weight.data = head_rng.normal(0.0, HEAD_INIT_STD, self.head.weight.shape).astype(np.float32)
        ### END SOLUTION

    def forward(self, idx, targets=None):
        """Score every vocabulary entry at every position; optionally the training loss too.

        Args:
            idx (np.ndarray int, shape (B, T)): token ids in [0, vocab_size), T <= max_seq_len.
            targets (np.ndarray int, shape (B, T) | None): the token that should follow each
                position (usually idx shifted left by one).

        Returns:
            Tensor | tuple[Tensor, Tensor]: logits of shape (B, T, vocab_size) when targets is
            None; otherwise (logits, loss), loss a 0-d Tensor: the mean cross-entropy over all
            B * T positions.

        Raises:
            TypeError: idx or targets do not hold integers.
            ValueError: idx is not 2-D, T > max_seq_len, targets' shape differs from idx's, or an
                id is outside [0, vocab_size).

        Example:
            >>> model = GPT(10, 8, 2, 1, 4, seed=0); ids = np.array([[1, 2, 3]])
            >>> logits, loss = model(ids, np.array([[2, 3, 4]])); logits.shape
            (1, 3, 10)
        """
        ### BEGIN SOLUTION
        ids = _token_ids(idx, "idx")
        batch, seq_len = ids.shape
        if seq_len > self.max_seq_len:
            raise ValueError(f"GPT: sequence length {seq_len} exceeds max_seq_len={self.max_seq_len}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"GPT: token ids must lie in [0, {self.vocab_size}), got values from {ids.min()} to {ids.max()}"
            )
        x = self.dropout(self.position_embedding(self.token_embedding(ids)))
        mask = causal_mask(seq_len)
        for block in self.blocks:
            x = block(x, mask)
        logits = self.head(self.final_norm(x))
        if targets is None:
            return logits
        target_ids = _token_ids(targets, "targets")
        if target_ids.shape != ids.shape:
            raise ValueError(f"GPT: targets must have the shape of idx {ids.shape}, got {target_ids.shape}")
        return logits, CrossEntropyLoss()(logits, target_ids)
        ### END SOLUTION

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 seed: int | None = None) -> np.ndarray:
        """Extend idx autoregressively: predict, choose a token, append it, repeat.

        At each step the model sees only the last max_seq_len tokens. The next token is the
        argmax of the last position's logits when temperature is 0; otherwise it is sampled from
        softmax(logits / temperature), restricted to the top_k largest logits when top_k is
        given. Runs without recording gradients and in evaluation mode (dropout off; the previous
        mode is restored afterwards). The same seed gives the same tokens.

        Args:
            idx (np.ndarray int, shape (B, T)): the prompt, T >= 1 (may exceed max_seq_len).
            max_new_tokens (int): how many tokens to append (>= 0).
            temperature (float): >= 0; lower is more conservative, 0 is greedy.
            top_k (int | None): sample only among the k most likely tokens (k >= 1; values above
                vocab_size mean "all").
            seed (int | None): seed of np.random.default_rng for the sampling.

        Returns:
            np.ndarray: shape (B, T + max_new_tokens), idx's integer dtype; starts with idx.

        Raises:
            TypeError: idx does not hold integers.
            ValueError: idx is not 2-D or is empty, max_new_tokens < 0, temperature < 0, or
                top_k < 1.

        Example:
            >>> GPT(10, 8, 2, 1, 4, seed=0).generate(np.array([[1, 2]]), 3, temperature=0).shape
            (1, 5)
        """
        ### BEGIN SOLUTION
        ids = _generation_arguments(idx, max_new_tokens, temperature, top_k, "GPT.generate")
        rng = np.random.default_rng(seed)
        out = ids.copy()
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(int(max_new_tokens)):
                    logits = self.forward(out[:, -self.max_seq_len:]).data[:, -1, :]
                    chosen = sample_next_token(logits, temperature, top_k, rng)
                    out = np.concatenate([out, chosen.astype(out.dtype)[:, None]], axis=1)
        finally:
            self.train(was_training)
        return out
        ### END SOLUTION


# ---------------------------------------------------------------- memory accounting
def gpt_parameter_count(vocab_size: int, embed_dim: int, num_layers: int, max_seq_len: int,
                        hidden_dim: int | None = None) -> int:
    """Number of learnable numbers in GPT, from its sizes alone (no model is built).

    With V = vocab_size, D = embed_dim, H = hidden_dim (default 4D), L = num_layers, S = max_seq_len:
      embeddings V*D + S*D; per block: two LayerNorms 2*2D, four attention projections 4*(D*D + D),
      feed-forward D*H + H + H*D + D; final LayerNorm 2D; head D*V + V.
    The number of heads does not change the count (heads split D, they do not add weights).

    Args:
        vocab_size (int): V.
        embed_dim (int): D.
        num_layers (int): L.
        max_seq_len (int): S.
        hidden_dim (int | None): H (default 4 * embed_dim).

    Returns:
        int: the total; equals GPT(...).num_parameters() for the same sizes.

    Raises:
        ValueError: a size is not a positive integer.

    Example:
        >>> gpt_parameter_count(vocab_size=10, embed_dim=8, num_layers=1, max_seq_len=4)
        1090
    """
    ### BEGIN SOLUTION
    v = _positive_int(vocab_size, "vocab_size", "gpt_parameter_count")
    d = _positive_int(embed_dim, "embed_dim", "gpt_parameter_count")
    layers = _positive_int(num_layers, "num_layers", "gpt_parameter_count")
    s = _positive_int(max_seq_len, "max_seq_len", "gpt_parameter_count")
    h = 4 * d if hidden_dim is None else _positive_int(hidden_dim, "hidden_dim", "gpt_parameter_count")
    per_block = 2 * 2 * d + 4 * (d * d + d) + (d * h + h) + (h * d + d)
    return v * d + s * d + layers * per_block + 2 * d + (d * v + v)
    ### END SOLUTION


def memory_profile(model: GPT, batch_size: int, seq_len: int) -> list[dict]:
    """Memory of each block for one batch, in bytes (element size from the model's weights).

    For B = batch_size, T = seq_len, D = embed_dim, H = the feed-forward inner size, h = heads
    and itemsize the bytes per element, every block reports:
      * "parameter_bytes": bytes of the block's parameters (independent of B and T);
      * "activation_bytes": estimate of the (B, T, .) intermediates one training step keeps:
        ten of width D (ln1 output, queries, keys, values, combined heads, output projection,
        first residual sum, ln2 output, feed-forward output, second residual sum) and two of
        width H (before and after GELU): itemsize * B * T * (10 * D + 2 * H);
      * "attention_score_bytes": the (B, h, T, T) score matrix, attention_score_bytes(B, h, T);
        it grows with T^2;
      * "kv_bytes": keys and values of every position, 2 * B * T * D * itemsize; grows with T.

    Args:
        model (GPT): the model to describe.
        batch_size (int): B.
        seq_len (int): T, at most model.max_seq_len.

    Returns:
        list[dict]: one dict per block, in order, each with the keys "layer" (int index),
        "parameter_bytes", "activation_bytes", "attention_score_bytes", "kv_bytes" (ints).

    Raises:
        TypeError: model is not a GPT.
        ValueError: batch_size or seq_len is not a positive integer, or seq_len > model.max_seq_len.

    Example:
        >>> [row["kv_bytes"] for row in memory_profile(GPT(10, 8, 2, 2, 4, seed=0), 1, 4)]
        [256, 256]
    """
    ### BEGIN SOLUTION
    if not isinstance(model, GPT):
        raise TypeError(f"memory_profile expects a GPT, got {type(model).__name__}")
    batch = _positive_int(batch_size, "batch_size", "memory_profile")
    length = _positive_int(seq_len, "seq_len", "memory_profile")
    if length > model.max_seq_len:
        raise ValueError(f"memory_profile: seq_len {length} exceeds the model's max_seq_len={model.max_seq_len}")
    dtype = model.token_embedding.weight.dtype
    itemsize = np.dtype(dtype).itemsize
    d = model.embed_dim
    rows = []
    for index, block in enumerate(model.blocks):
        hidden = block.ffn.hidden_dim
        rows.append({
            "layer": index,
            "parameter_bytes": int(block.parameter_bytes()),
            "activation_bytes": int(itemsize * batch * length * (10 * d + 2 * hidden)),
            "attention_score_bytes": int(attention_score_bytes(batch, block.num_heads, length, dtype=dtype)),
            "kv_bytes": int(2 * batch * length * d * itemsize),
        })
    return rows
    ### END SOLUTION
