"""Module 11 -- Embeddings: turning token ids into learnable vectors, and telling positions apart.

A tokenizer (module 10) turns text into integer ids; a network needs vectors. An `Embedding` is a
lookup table with one learnable row per id: looking up ids of shape S returns vectors of shape
(*S, embedding_dim). Its gradient is a scatter-add: every occurrence of an id sends its gradient
to the same row, so repeated ids accumulate (np.add.at), and rows of ids that never occurred get
exactly zero.

A sequence of looked-up vectors carries no notion of order, so a position code is added:
either the fixed sinusoidal code (no parameters, defined for any position by a closed form) or a
learned table with one row per position (parameters, but only for max_seq_len positions).

Systems lesson: the embedding table costs num_embeddings * embedding_dim * itemsize bytes, so a
50,000-id vocabulary with 768-dimensional float32 rows needs ~154 MB before any other layer
(`embedding_table_bytes`). A bigger vocabulary means shorter sequences but a bigger table, and
each training step touches only the rows of the ids it actually saw.
"""
from __future__ import annotations

import numbers

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import Tensor


def _check_positive_int(owner: str, name: str, value) -> int:
    """Return value as an int, or raise ValueError when it is not a positive integer (bools rejected)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


class EmbeddingLookup(Function):
    """The differentiable table lookup out = weight[indices] (a custom autograd Function).

    Forward gathers rows; backward scatter-adds the incoming gradient back into the rows that were
    read, so an id that occurs k times receives the sum of its k gradients. The indices are not
    differentiable (backward answers None for them).

    Example:
        >>> EmbeddingLookup.apply(Tensor(np.eye(3)), np.array([2, 0])).data
        array([[0., 0., 1.],
               [1., 0., 0.]])
    """

    @staticmethod
    def forward(ctx, weight: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """Gather the rows of `weight` named by `indices` and remember what backward needs.

        Args:
            ctx (object): namespace for values saved for backward (save the indices and the
                table's shape).
            weight (np.ndarray, shape (num_embeddings, embedding_dim)): the table.
            indices (np.ndarray, integer dtype, any shape S): validated row ids.

        Returns:
            np.ndarray: shape (*S, embedding_dim), weight's dtype.

        Example:
            >>> EmbeddingLookup.apply(Tensor(np.eye(2)), np.array([1])).shape
            (1, 2)
        """
        ### BEGIN SOLUTION
        ctx.indices = indices
        ctx.weight_shape = weight.shape
        return weight[indices]
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad: np.ndarray) -> tuple:
        """Scatter-add the output's gradient into a zero table (repeated ids accumulate).

        Vectorized with np.add.at: a plain `table[indices] += grad` would keep only one of the
        contributions of a repeated id.

        Args:
            ctx (object): what forward saved.
            grad (np.ndarray, shape (*S, embedding_dim)): gradient of the looked-up vectors.

        Returns:
            tuple: (np.ndarray of shape (num_embeddings, embedding_dim) with grad's dtype, None);
            None because the ids get no gradient.

        Example:
            >>> EmbeddingLookup  # see the class example
        """
        ### BEGIN SOLUTION
        table_grad = np.zeros(ctx.weight_shape, dtype=grad.dtype)
        np.add.at(table_grad, ctx.indices, grad)
        return table_grad, None
        ### END SOLUTION


class Embedding(Module):
    """A learnable lookup table: id i -> row i of `weight`.

    `weight` has shape (num_embeddings, embedding_dim), float32, drawn from a normal distribution
    N(0, std^2) with std = 0.02 by default (reproducible with `seed`).

    Args:
        num_embeddings (int): number of rows (the vocabulary size).
        embedding_dim (int): length of each vector.
        seed (int | None): seed for the initial table (None: fresh randomness).
        std (float): standard deviation of the initial values (default 0.02).

    Attributes:
        weight (Parameter, shape (num_embeddings, embedding_dim)): the table.

    Raises:
        ValueError: a size is not a positive integer, or std is negative.

    Example:
        >>> Embedding(10, 4, seed=0)(np.array([[1, 2, 3]])).shape
        (1, 3, 4)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, seed: int | None = None, std: float = 0.02):
        ### BEGIN SOLUTION
        self.num_embeddings = _check_positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _check_positive_int("Embedding", "embedding_dim", embedding_dim)
        if not isinstance(std, numbers.Real) or isinstance(std, bool) or not std >= 0:
            raise ValueError(f"Embedding: std must be a non-negative number, got {std!r}")
        rng = np.random.default_rng(seed)
        table = rng.normal(0.0, float(std), (self.num_embeddings, self.embedding_dim))
        self.weight = Parameter(table.astype(np.float32))
        ### END SOLUTION

    def forward(self, indices) -> Tensor:
        """Look up one row per id.

        Args:
            indices (np.ndarray | Tensor | list | int, integer dtype, any shape S): ids in
                [0, num_embeddings). Negative ids are NOT counted from the end: they are errors.

        Returns:
            Tensor: shape (*S, embedding_dim), weight's dtype (float32 unless changed); its
            gradient flows into weight (repeated ids accumulate).

        Raises:
            TypeError: the ids are not integers (float or bool dtype, strings, ...); the message
                names the dtype that arrived.
            ValueError: an id is negative or >= num_embeddings; the message names the first bad
                id, where it is, and the valid range.

        Example:
            >>> Embedding(5, 2, seed=0)([0, 4, 4]).shape
            (3, 2)
        """
        ### BEGIN SOLUTION
        if isinstance(indices, Tensor):
            ids = indices.data
        elif isinstance(indices, (list, tuple)) and len(indices) == 0:
            ids = np.zeros(0, dtype=np.int64)
        else:
            try:
                ids = np.asarray(indices)
            except ValueError as error:
                raise TypeError(f"Embedding expects a rectangular array of integer ids: {error}") from None
        if ids.dtype.kind not in "iu":
            raise TypeError(
                f"Embedding expects integer ids (an int dtype such as int64), got dtype {ids.dtype}; "
                "ids name rows of the table, so store them as integers (e.g. ids.astype(np.int64))"
            )
        bad = (ids < 0) | (ids >= self.num_embeddings)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"Embedding: id {int(ids[where])} at position {where} is out of range; "
                f"valid ids are 0..{self.num_embeddings - 1} (num_embeddings={self.num_embeddings})"
            )
        return EmbeddingLookup.apply(self.weight, ids)
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"Embedding(num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim})"


def sinusoidal_positional_encoding(max_seq_len: int, embedding_dim: int) -> np.ndarray:
    """The fixed sinusoidal position code, one row per position.

    PE[pos, 2i]   = sin(pos / 10000^(2i / embedding_dim))
    PE[pos, 2i+1] = cos(pos / 10000^(2i / embedding_dim))

    Column pairs (2i, 2i+1) share one frequency; frequencies fall geometrically from 1 (columns
    0, 1) towards 1/10000. When embedding_dim is odd, the last column (index embedding_dim - 1,
    an even index 2i) is a sine whose cosine partner would fall outside the table: it is kept,
    the partner is simply dropped. Computed in float64, returned as float32.

    Args:
        max_seq_len (int): number of positions (rows), positions 0..max_seq_len-1.
        embedding_dim (int): length of each code (columns).

    Returns:
        np.ndarray: shape (max_seq_len, embedding_dim), dtype float32, values in [-1, 1];
        row 0 is [0, 1, 0, 1, ...].

    Raises:
        ValueError: a size is not a positive integer.

    Example:
        >>> sinusoidal_positional_encoding(1, 4)
        array([[0., 1., 0., 1.]], dtype=float32)
    """
    ### BEGIN SOLUTION
    max_seq_len = _check_positive_int("sinusoidal_positional_encoding", "max_seq_len", max_seq_len)
    embedding_dim = _check_positive_int("sinusoidal_positional_encoding", "embedding_dim", embedding_dim)
    positions = np.arange(max_seq_len, dtype=np.float64)[:, None]
    columns = np.arange(embedding_dim)
    pair_start = (columns - columns % 2).astype(np.float64)  # 2i for both columns of a pair
    angles = positions / np.power(10000.0, pair_start / embedding_dim)
    table = np.where(columns % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype(np.float32)
    ### END SOLUTION


def _check_sequence_input(owner: str, x, max_seq_len: int, embedding_dim: int) -> int:
    """Validate the input of a position module and return its sequence length T.

    Args:
        owner (str): the module's name, used in error messages.
        x (Tensor, shape (..., T, D)): the input to check.
        max_seq_len (int): longest sequence the module accepts.
        embedding_dim (int): the D the module was built for.

    Returns:
        int: T, the second-to-last dimension of x.

    Raises:
        TypeError: x is not a Tensor.
        ValueError: x has fewer than 2 dimensions, D != embedding_dim, or T > max_seq_len (the
            message names what was expected and the shape that arrived).

    Example:
        >>> _check_sequence_input("PE", Tensor(np.zeros((2, 3, 4))), 8, 4)
        3
    """
    ### BEGIN SOLUTION
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner} expects a Tensor of shape (batch, seq_len, {embedding_dim}), got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"{owner} expects a Tensor of shape (batch, seq_len, {embedding_dim}), got shape {x.shape}")
    seq_len, dim = x.shape[-2], x.shape[-1]
    if dim != embedding_dim:
        raise ValueError(
            f"{owner}: the last dimension must be embedding_dim={embedding_dim}, got {dim} (input shape {x.shape})"
        )
    if seq_len > max_seq_len:
        raise ValueError(
            f"{owner}: seq_len {seq_len} exceeds max_seq_len={max_seq_len} (input shape {x.shape}); "
            "build it with a larger max_seq_len or shorten the sequences"
        )
    return seq_len
    ### END SOLUTION


class SinusoidalPositionalEncoding(Module):
    """Adds the fixed sinusoidal position code to a batch of sequences (no parameters).

    Args:
        max_seq_len (int): longest sequence it accepts.
        embedding_dim (int): size of each vector (the input's last dimension).

    Attributes:
        encoding (np.ndarray, shape (max_seq_len, embedding_dim), float32): the precomputed
            table of sinusoidal_positional_encoding (a constant, not a Parameter).

    Raises:
        ValueError: a size is not a positive integer.

    Example:
        >>> SinusoidalPositionalEncoding(16, 8)(Tensor(np.zeros((2, 5, 8)))).shape
        (2, 5, 8)
    """

    def __init__(self, max_seq_len: int, embedding_dim: int):
        ### BEGIN SOLUTION
        self.max_seq_len = _check_positive_int("SinusoidalPositionalEncoding", "max_seq_len", max_seq_len)
        self.embedding_dim = _check_positive_int("SinusoidalPositionalEncoding", "embedding_dim", embedding_dim)
        self.encoding = sinusoidal_positional_encoding(self.max_seq_len, self.embedding_dim)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Return x + PE[:T], the code of position t added to every vector at position t.

        Args:
            x (Tensor, shape (B, T, D)): vectors of B sequences of length T (any leading
                dimensions work; the last two are T and D).

        Returns:
            Tensor: same shape; x's dtype when x is floating (the code is cast to it). The
            gradient w.r.t. x is the incoming gradient unchanged.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x has fewer than 2 dimensions, D != embedding_dim, or T > max_seq_len
                (the message names embedding_dim or max_seq_len and the shape that arrived).

        Example:
            >>> SinusoidalPositionalEncoding(4, 2)(Tensor(np.zeros((1, 1, 2)))).data
            array([[[0., 1.]]], dtype=float32)
        """
        ### BEGIN SOLUTION
        seq_len = _check_sequence_input("SinusoidalPositionalEncoding", x, self.max_seq_len, self.embedding_dim)
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        return x + Tensor(self.encoding[:seq_len].astype(dtype))
        ### END SOLUTION


class LearnedPositionalEmbedding(Module):
    """Adds a learned vector per position: one trainable row for each of max_seq_len positions.

    `weight` starts N(0, std^2) with std = 0.02 by default, float32. A sequence of length T uses
    (and sends gradient to) only rows 0..T-1.

    Args:
        max_seq_len (int): number of positions with a row (longest sequence accepted).
        embedding_dim (int): size of each vector (the input's last dimension).
        seed (int | None): seed for the initial table (None: fresh randomness).
        std (float): standard deviation of the initial values (default 0.02).

    Attributes:
        weight (Parameter, shape (max_seq_len, embedding_dim)): one row per position.

    Raises:
        ValueError: a size is not a positive integer, or std is negative.

    Example:
        >>> LearnedPositionalEmbedding(16, 8, seed=0).num_parameters()
        128
    """

    def __init__(self, max_seq_len: int, embedding_dim: int, seed: int | None = None, std: float = 0.02):
        ### BEGIN SOLUTION
        self.max_seq_len = _check_positive_int("LearnedPositionalEmbedding", "max_seq_len", max_seq_len)
        self.embedding_dim = _check_positive_int("LearnedPositionalEmbedding", "embedding_dim", embedding_dim)
        if not isinstance(std, numbers.Real) or isinstance(std, bool) or not std >= 0:
            raise ValueError(f"LearnedPositionalEmbedding: std must be a non-negative number, got {std!r}")
        rng = np.random.default_rng(seed)
        table = rng.normal(0.0, float(std), (self.max_seq_len, self.embedding_dim))
        self.weight = Parameter(table.astype(np.float32))
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Return x + weight[:T] (row t added to every vector at position t).

        Args:
            x (Tensor, shape (B, T, D)): vectors of B sequences of length T (any leading
                dimensions work; the last two are T and D).

        Returns:
            Tensor: same shape; gradients flow to x and to rows 0..T-1 of weight (summed over
            the batch); rows T.. get zero gradient.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x has fewer than 2 dimensions, D != embedding_dim, or T > max_seq_len
                (the message names embedding_dim or max_seq_len and the shape that arrived).

        Example:
            >>> LearnedPositionalEmbedding(8, 4, seed=0)(Tensor(np.zeros((2, 3, 4)))).shape
            (2, 3, 4)
        """
        ### BEGIN SOLUTION
        seq_len = _check_sequence_input("LearnedPositionalEmbedding", x, self.max_seq_len, self.embedding_dim)
        return x + self.weight[:seq_len]
        ### END SOLUTION


def embedding_table_bytes(num_embeddings: int, embedding_dim: int, dtype=np.float32) -> int:
    """Memory of an embedding table: num_embeddings * embedding_dim * itemsize.

    Equals `Embedding(num_embeddings, embedding_dim).parameter_bytes()` for float32.

    Args:
        num_embeddings (int): rows (vocabulary size).
        embedding_dim (int): columns (vector length).
        dtype (np.dtype | type): element type (default float32, 4 bytes).

    Returns:
        int: bytes, e.g. 50,000 x 768 float32 -> 153,600,000.

    Raises:
        ValueError: a size is not a positive integer.

    Example:
        >>> embedding_table_bytes(50_000, 768)
        153600000
    """
    ### BEGIN SOLUTION
    rows = _check_positive_int("embedding_table_bytes", "num_embeddings", num_embeddings)
    columns = _check_positive_int("embedding_table_bytes", "embedding_dim", embedding_dim)
    return rows * columns * np.dtype(dtype).itemsize
    ### END SOLUTION
