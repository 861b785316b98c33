"""Module 16 -- Compression: fewer numbers, measured in bytes.

Four ways to make a trained model smaller, each judged by what it really saves:

  * Magnitude pruning (`magnitude_prune`) zeroes the weights of smallest absolute value, over the
    whole model (global) or layer by layer, to a sparsity given as a fraction in [0, 1]. The
    returned `PruningMask` keeps them zero: wrap the optimizer in `MaskedOptimizer` and every
    step re-applies the masks, so fine-tuning cannot bring a pruned weight back.
  * Zeros alone save nothing: a float32 zero is still 4 bytes. `CSRMatrix` stores only the nonzero
    values with their column indices and row starts, and `compression_report` measures the bytes
    of the model stored that way. At low sparsity CSR is LARGER than dense (each kept value also
    pays for an index); it wins only past roughly 50% zeros.
  * Structured pruning (`prune_units`) removes whole hidden units or channels, so the layers
    really get smaller and the dense matrix products themselves shrink.
  * Low-rank factorization (`low_rank_factorize`) replaces a Linear's (in x out) weight with two
    thin factors from its singular value decomposition: rank r costs r * (in + out) numbers, and the
    error is exactly the energy of the discarded singular values (`low_rank_error`).

Knowledge distillation (`distillation_loss`) is the training side: a small model learns from a
large one's softened outputs (temperature T, scaled by T^2 so gradients keep their size).
"""
from __future__ import annotations

import math

import numpy as np

from tinytorch.core.activations import GELU, LogSoftmax, ReLU, Tanh
from tinytorch.core.layers import Dropout, Linear, Module, Parameter, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.spatial import AvgPool2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor

# Steps that act on each unit (or channel) separately and map 0 to 0, so a removed unit stays
# removed through them.
UNIT_WISE = (ReLU, Tanh, GELU, Dropout, MaxPool2d, AvgPool2d)


# ---------------------------------------------------------------- argument checking (no solution logic)
def _fraction(value, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{owner}: {name} must be a fraction in [0, 1], got {value!r}")
    return float(value)


def _how_many(fraction: float, total: int) -> int:
    """round(fraction * total), halves rounded up."""
    return int(math.floor(fraction * total + 0.5))


# ---------------------------------------------------------------- which weights are pruned
def prunable_weights(model) -> list[tuple[str, Parameter]]:
    """The weights magnitude pruning acts on: every Linear's and Conv2d's weight (not the biases).

    Args:
        model (Module): the model.

    Returns:
        list[tuple[str, Parameter]]: (dotted name, weight) pairs in model.named_parameters() order,
        each Parameter once.

    Raises:
        TypeError: model is not a Module.

    Example:
        >>> [name for name, _ in prunable_weights(Sequential(Linear(2, 3), ReLU(), Linear(3, 1)))]
        ['layers.0.weight', 'layers.2.weight']
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Module):
        raise TypeError(f"prunable_weights expects a Module, got {type(model).__name__}")
    weights = set()

    def visit(module):
        if isinstance(module, (Linear, Conv2d)):
            weights.add(id(module.weight))
        for _, child in module.children():
            visit(child)

    visit(model)
    return [(name, parameter) for name, parameter in model.named_parameters() if id(parameter) in weights]
    ### END SOLUTION


class PruningMask:
    """Which weights of a model survive pruning; applies itself to keep the others at zero.

    Args:
        weights (list[tuple[str, Parameter]]): the pruned weights (prunable_weights(model)).
        masks (list[np.ndarray of bool]): one per weight, same shape; True = kept.

    Attributes:
        names (list[str]), weights (list[Parameter]), masks (list[np.ndarray bool]).

    Raises:
        ValueError: the lists differ in length or a mask's shape differs from its weight's.

    Example:
        >>> layer = Linear(2, 2); mask = PruningMask([("w", layer.weight)], [np.eye(2, dtype=bool)])
        >>> mask.apply(); int((layer.weight.data == 0).sum())
        2
    """

    def __init__(self, weights, masks):
        ### BEGIN SOLUTION
        weights, masks = list(weights), [np.asarray(mask, dtype=bool) for mask in masks]
        if len(weights) != len(masks):
            raise ValueError(f"PruningMask: {len(weights)} weights but {len(masks)} masks")
        for (name, weight), mask in zip(weights, masks):
            if mask.shape != weight.shape:
                raise ValueError(f"PruningMask: mask for {name} has shape {mask.shape}, the weight {weight.shape}")
        self.names = [name for name, _ in weights]
        self.weights = [weight for _, weight in weights]
        self.masks = masks
        ### END SOLUTION

    def apply(self) -> None:
        """Set every pruned weight to exactly 0.0 (in place; the kept ones are untouched).

        Example:
            >>> layer = Linear(1, 1); PruningMask([("w", layer.weight)], [np.zeros((1, 1), bool)]).apply()
        """
        ### BEGIN SOLUTION
        for weight, mask in zip(self.weights, self.masks):
            weight.data[~mask] = 0.0
        ### END SOLUTION

    def sparsity(self) -> float:
        """Fraction of the masked weights that are exactly zero now (measured from the weights).

        Returns:
            float: zeros / total over all masked weights (0.0 when there are none).

        Example:
            >>> layer = Linear(2, 2); PruningMask([("w", layer.weight)], [np.ones((2, 2), bool)]).sparsity()
            0.0
        """
        ### BEGIN SOLUTION
        total = sum(weight.size for weight in self.weights)
        zeros = sum(int(np.count_nonzero(weight.data == 0)) for weight in self.weights)
        return zeros / total if total else 0.0
        ### END SOLUTION


def magnitude_prune(model, sparsity: float, scope: str = "global") -> PruningMask:
    """Zero the smallest-magnitude weights of a model's Linear and Conv2d layers.

    With n weights in scope, exactly round(sparsity * n) of them (halves rounded up) are zeroed:
    those of smallest |w|, ties broken by position (earlier first). scope="global" ranks all
    prunable weights of the model together, so layers with many small weights lose more;
    scope="layer" prunes each weight to the same sparsity. Biases are never pruned.

    Args:
        model (Module): the model, pruned in place.
        sparsity (float): fraction of weights to remove, in [0, 1].
        scope (str): "global" or "layer".

    Returns:
        PruningMask: the masks, already applied.

    Raises:
        TypeError: model is not a Module.
        ValueError: sparsity outside [0, 1], an unknown scope, or a model without prunable weights.

    Example:
        >>> model = Sequential(Linear(4, 4, seed=0)); mask = magnitude_prune(model, 0.5)
        >>> int((model.layers[0].weight.data == 0).sum())
        8
    """
    ### BEGIN SOLUTION
    sparsity = _fraction(sparsity, "sparsity", "magnitude_prune")
    if scope not in ("global", "layer"):
        raise ValueError(f"magnitude_prune: scope must be 'global' or 'layer', got {scope!r}")
    weights = prunable_weights(model)
    if not weights:
        raise ValueError(f"magnitude_prune: {type(model).__name__} has no Linear or Conv2d weights to prune")
    groups = [weights] if scope == "global" else [[pair] for pair in weights]
    masks = {}
    for group in groups:
        magnitudes = np.concatenate([np.abs(weight.data).ravel() for _, weight in group])
        pruned = np.argsort(magnitudes, kind="stable")[:_how_many(sparsity, magnitudes.size)]
        keep = np.ones(magnitudes.size, dtype=bool)
        keep[pruned] = False
        offset = 0
        for name, weight in group:
            masks[name] = keep[offset:offset + weight.size].reshape(weight.shape)
            offset += weight.size
    mask = PruningMask(weights, [masks[name] for name, _ in weights])
    mask.apply()
    return mask
    ### END SOLUTION


class MaskedOptimizer:
    """An optimizer whose every step is followed by re-applying pruning masks.

    Momentum, weight decay or Adam's moments could otherwise move a pruned weight away from zero;
    after each step() the pruned weights are exactly 0.0 again.

    Args:
        optimizer (Optimizer): the optimizer over the model's parameters.
        mask (PruningMask): the masks to keep.

    Attributes:
        optimizer (Optimizer), mask (PruningMask).

    Raises:
        TypeError: optimizer is not an Optimizer or mask is not a PruningMask.

    Example:
        >>> layer = Linear(2, 2, seed=0); mask = magnitude_prune(Sequential(layer), 0.5)
        >>> opt = MaskedOptimizer(SGD(layer.parameters(), lr=0.1), mask)
    """

    def __init__(self, optimizer, mask):
        ### BEGIN SOLUTION
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"MaskedOptimizer expects an Optimizer, got {type(optimizer).__name__}")
        if not isinstance(mask, PruningMask):
            raise TypeError(f"MaskedOptimizer expects a PruningMask, got {type(mask).__name__}")
        self.optimizer, self.mask = optimizer, mask
        ### END SOLUTION

    def zero_grad(self) -> None:
        """Clear the gradients (the wrapped optimizer's zero_grad).

        Example:
            >>> layer = Linear(1, 1); opt = MaskedOptimizer(SGD(layer.parameters(), lr=0.1), magnitude_prune(Sequential(layer), 0.0))
            >>> opt.zero_grad()
        """
        ### BEGIN SOLUTION
        self.optimizer.zero_grad()
        ### END SOLUTION

    def step(self) -> None:
        """One optimizer step, then the masks again.

        Example:
            >>> layer = Linear(1, 1); opt = MaskedOptimizer(SGD(layer.parameters(), lr=0.1), magnitude_prune(Sequential(layer), 1.0))
            >>> opt.step(); float(layer.weight.data[0, 0])
            0.0
        """
        ### BEGIN SOLUTION
        self.optimizer.step()
        self.mask.apply()
        ### END SOLUTION


# ---------------------------------------------------------------- storing only the nonzeros
class CSRMatrix:
    """A 2-D matrix in compressed sparse row form: only the nonzeros are stored.

    Row r's nonzeros are data[indptr[r]:indptr[r + 1]], in columns indices[indptr[r]:indptr[r + 1]]
    (increasing). Indices are int32 when the column count fits, int64 otherwise; indptr likewise
    for the nonzero count.

    Args:
        data (np.ndarray, shape (nnz,)): the nonzero values.
        indices (np.ndarray int, shape (nnz,)): their columns.
        indptr (np.ndarray int, shape (rows + 1,)): where each row starts in data.
        shape (tuple[int, int]): (rows, columns).

    Attributes:
        data, indices, indptr (np.ndarray), shape (tuple[int, int]).

    Raises:
        ValueError: the arrays are inconsistent with each other or with shape.

    Example:
        >>> CSRMatrix.from_dense(np.array([[0.0, 2.0], [0.0, 0.0]], dtype=np.float32)).data.tolist()
        [2.0]
    """

    def __init__(self, data, indices, indptr, shape):
        ### BEGIN SOLUTION
        self.data, self.indices, self.indptr = np.asarray(data), np.asarray(indices), np.asarray(indptr)
        self.shape = tuple(int(size) for size in shape)
        rows = self.shape[0] if len(self.shape) == 2 else -1
        if (len(self.shape) != 2 or self.indptr.shape != (rows + 1,) or self.data.shape != self.indices.shape
                or self.data.ndim != 1 or int(self.indptr[-1]) != self.data.size or int(self.indptr[0]) != 0
                or np.any(np.diff(self.indptr) < 0)
                or (self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.shape[1]))):
            raise ValueError(
                f"CSRMatrix: inconsistent arrays for shape {self.shape}: data {self.data.shape}, "
                f"indices {self.indices.shape}, indptr {self.indptr.shape}")
        ### END SOLUTION

    @classmethod
    def from_dense(cls, array) -> "CSRMatrix":
        """Keep the nonzeros of a 2-D array, row by row.

        Args:
            array (np.ndarray, shape (rows, columns)): the dense matrix.

        Returns:
            CSRMatrix: data in array's dtype.

        Raises:
            ValueError: array is not 2-D.

        Example:
            >>> CSRMatrix.from_dense(np.eye(3)).indptr.tolist()
            [0, 1, 2, 3]
        """
        ### BEGIN SOLUTION
        array = np.asarray(array)
        if array.ndim != 2:
            raise ValueError(f"CSRMatrix.from_dense expects a 2-D array, got shape {array.shape}")
        rows, columns = np.nonzero(array)  # row-major order: rows ascending, columns ascending within
        index_dtype = np.int32 if max(array.shape[1], rows.size) < 2**31 else np.int64
        indptr = np.zeros(array.shape[0] + 1, dtype=index_dtype)
        np.cumsum(np.bincount(rows, minlength=array.shape[0]), out=indptr[1:])
        return cls(array[rows, columns], columns.astype(index_dtype), indptr, array.shape)
        ### END SOLUTION

    @property
    def nnz(self) -> int:
        """Number of stored values.

        Returns:
            int: data.size.
        """
        ### BEGIN SOLUTION
        return int(self.data.size)
        ### END SOLUTION

    @property
    def nbytes(self) -> int:
        """Bytes really stored: data, indices and indptr.

        Returns:
            int: data.nbytes + indices.nbytes + indptr.nbytes.
        """
        ### BEGIN SOLUTION
        return int(self.data.nbytes + self.indices.nbytes + self.indptr.nbytes)
        ### END SOLUTION

    def to_dense(self) -> np.ndarray:
        """The dense matrix again (zeros where nothing is stored).

        Returns:
            np.ndarray: shape self.shape, data's dtype.

        Example:
            >>> CSRMatrix.from_dense(np.eye(2)).to_dense().tolist()
            [[1.0, 0.0], [0.0, 1.0]]
        """
        ### BEGIN SOLUTION
        dense = np.zeros(self.shape, dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        dense[rows, self.indices] = self.data
        return dense
        ### END SOLUTION

    def rmatmul(self, x) -> np.ndarray:
        """x @ M for a dense x, touching only the stored values (how a pruned Linear would run).

        Args:
            x (np.ndarray, shape (N, rows)): left operand.

        Returns:
            np.ndarray: shape (N, columns), equal to x @ self.to_dense().

        Raises:
            ValueError: x is not 2-D with `rows` columns.

        Example:
            >>> CSRMatrix.from_dense(np.eye(2)).rmatmul(np.array([[1.0, 2.0]])).tolist()
            [[1.0, 2.0]]
        """
        ### BEGIN SOLUTION
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.shape[0]:
            raise ValueError(f"CSRMatrix.rmatmul expects x of shape (N, {self.shape[0]}), got {x.shape}")
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out = np.zeros((x.shape[0], self.shape[1]), dtype=np.result_type(x.dtype, self.data.dtype))
        # Each stored value w[r, c] adds x[:, r] * w[r, c] to output column c.
        np.add.at(out.T, self.indices, (x[:, rows] * self.data).T)
        return out
        ### END SOLUTION


def compression_report(model) -> dict:
    """Bytes of a model stored densely and with every prunable weight in CSR form, measured.

    Args:
        model (Module): the (pruned) model.

    Returns:
        dict: {"parameters" (int, all numbers), "nonzeros" (int, nonzero numbers),
        "dense_bytes" (int, every parameter dense), "sparse_bytes" (int, prunable weights as
        CSRMatrix.nbytes, everything else dense), "ratio" (float, dense_bytes / sparse_bytes)}.

    Raises:
        TypeError: model is not a Module.

    Example:
        >>> compression_report(Sequential(Linear(2, 2)))["dense_bytes"]
        24
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Module):
        raise TypeError(f"compression_report expects a Module, got {type(model).__name__}")
    sparse_ids = {id(weight) for _, weight in prunable_weights(model)}
    parameters = {id(p): p for p in model.parameters()}.values()
    dense = sparse = count = nonzeros = 0
    for parameter in parameters:
        count += parameter.size
        nonzeros += int(np.count_nonzero(parameter.data))
        dense += parameter.data.nbytes
        if id(parameter) in sparse_ids:
            sparse += CSRMatrix.from_dense(parameter.data.reshape(parameter.shape[0], -1)).nbytes
        else:
            sparse += parameter.data.nbytes
    return {"parameters": count, "nonzeros": nonzeros, "dense_bytes": int(dense), "sparse_bytes": int(sparse),
            "ratio": dense / sparse if sparse else float("inf")}
    ### END SOLUTION


# ---------------------------------------------------------------- structured pruning
def _unit_pairs(steps: list) -> list[tuple[int, int]]:
    """(producer, consumer) positions: a Linear feeding a Linear, or a Conv2d feeding a Conv2d,
    through unit-wise steps only."""
    pairs = []
    for first, step in enumerate(steps):
        if not isinstance(step, (Linear, Conv2d)):
            continue
        following = first + 1
        while following < len(steps) and isinstance(steps[following], UNIT_WISE):
            following += 1
        if following < len(steps) and type(steps[following]) is type(step):
            pairs.append((first, following))
    return pairs


def prune_units(model, sparsity: float) -> Sequential:
    """Remove whole hidden units (Linear) or channels (Conv2d) of a Sequential: smaller layers.

    For every Linear followed by another Linear (or Conv2d by Conv2d) with only unit-wise steps
    in between (ReLU, Tanh, GELU, Dropout, pooling), the first layer's output units are ranked by
    the L2 norm of their incoming weights (a Linear's weight column, a Conv2d's kernel) and the
    round(sparsity * units) weakest removed (at least one unit always stays): the first layer
    loses those columns/kernels and bias entries, the next layer the matching input rows/channels.
    The model's output is then exactly what the original computes with those units' outputs set
    to zero (for activations with f(0) = 0). The original model is not changed.

    Args:
        model (Sequential): the model.
        sparsity (float): fraction of units to remove from each prunable layer, in [0, 1].

    Returns:
        Sequential: a new model whose pruned layers have fewer units (new Linear/Conv2d objects;
        the other steps are shared with the original).

    Raises:
        TypeError: model is not a Sequential.
        ValueError: sparsity outside [0, 1].

    Example:
        >>> small = prune_units(Sequential(Linear(4, 10, seed=0), ReLU(), Linear(10, 2, seed=1)), 0.5)
        >>> small.layers[0].weight.shape, small.layers[2].weight.shape
        ((4, 5), (5, 2))
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Sequential):
        raise TypeError(f"prune_units expects a Sequential, got {type(model).__name__}")
    sparsity = _fraction(sparsity, "sparsity", "prune_units")
    steps = list(model.layers)
    for first, second in _unit_pairs(steps):
        producer, consumer = steps[first], steps[second]
        if isinstance(producer, Linear):
            strength = np.linalg.norm(producer.weight.data, axis=0)          # one per output column
        else:
            strength = np.linalg.norm(producer.weight.data.reshape(producer.out_channels, -1), axis=1)
        units = strength.size
        drop = min(_how_many(sparsity, units), units - 1)
        kept = np.sort(np.argsort(strength, kind="stable")[drop:])
        steps[first], steps[second] = _keep_outputs(producer, kept), _keep_inputs(consumer, kept)
    return Sequential(*steps)
    ### END SOLUTION


def _copy_layer(layer, weight: np.ndarray, bias):
    if isinstance(layer, Linear):
        new = Linear(weight.shape[0], weight.shape[1], bias=bias is not None, seed=0)
    else:
        new = Conv2d(weight.shape[1], weight.shape[0], weight.shape[2:], layer.stride, layer.padding,
                     bias=bias is not None, seed=0)
    new.weight.data = np.ascontiguousarray(weight)
    if bias is not None:
        new.bias.data = np.ascontiguousarray(bias)
    return new


def _keep_outputs(layer, kept: np.ndarray):
    weight = layer.weight.data[:, kept] if isinstance(layer, Linear) else layer.weight.data[kept]
    return _copy_layer(layer, weight, None if layer.bias is None else layer.bias.data[kept])


def _keep_inputs(layer, kept: np.ndarray):
    weight = layer.weight.data[kept] if isinstance(layer, Linear) else layer.weight.data[:, kept]
    return _copy_layer(layer, weight, None if layer.bias is None else layer.bias.data)


# ---------------------------------------------------------------- low rank
def low_rank_error(weight, rank: int) -> float:
    """Relative error of the best rank-r approximation of a matrix: ||W - W_r||_F / ||W||_F.

    Computed from the truncated SVD itself (W_r = U_r diag(s_r) V_r^T), so it also equals
    sqrt(sum of the discarded s_i^2 / sum of all s_i^2) (Eckart-Young).

    Args:
        weight (np.ndarray, shape (m, n)): the matrix.
        rank (int): r, in [1, min(m, n)].

    Returns:
        float: in [0, 1]; 0 at full rank (to rounding), 0 for the zero matrix.

    Raises:
        ValueError: weight is not 2-D or rank is out of range.

    Example:
        >>> low_rank_error(np.diag([3.0, 4.0]), 1)
        0.6
    """
    ### BEGIN SOLUTION
    weight = np.asarray(weight, dtype=np.float64)
    first, second = _truncated_factors(weight, rank, "low_rank_error")
    total = np.linalg.norm(weight)
    return float(np.linalg.norm(weight - first @ second) / total) if total > 0 else 0.0
    ### END SOLUTION


def _truncated_factors(weight: np.ndarray, rank, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """(m, r) and (r, n) factors of the best rank-r approximation."""
    if weight.ndim != 2:
        raise ValueError(f"{owner}: expects a 2-D weight, got shape {weight.shape}")
    limit = min(weight.shape)
    if not isinstance(rank, (int, np.integer)) or isinstance(rank, bool) or not 1 <= rank <= limit:
        raise ValueError(f"{owner}: rank must be an integer in [1, {limit}], got {rank!r}")
    ### BEGIN SOLUTION
    u, s, vt = np.linalg.svd(weight, full_matrices=False)
    return u[:, :rank] * s[:rank], vt[:rank]
    ### END SOLUTION


def low_rank_factorize(layer, rank: int) -> Sequential:
    """Replace a Linear by two thinner ones from its truncated SVD: in -> rank -> out.

    W (in x out) ~ A B with A = U_r diag(s_r) (in x r) and B = V_r^T (r x out). The first Linear
    has weight A and no bias; the second weight B and the original bias. Parameters drop from
    in * out (+ out) to rank * (in + out) (+ out): a saving only when rank < in*out / (in + out).

    Args:
        layer (Linear): the layer to factorize (unchanged).
        rank (int): r, in [1, min(in, out)].

    Returns:
        Sequential: Sequential(Linear(in, r, bias=False), Linear(r, out)), float32 weights.

    Raises:
        TypeError: layer is not a Linear.
        ValueError: rank is out of range.

    Example:
        >>> low_rank_factorize(Linear(6, 4, seed=0), 2).layers[0].weight.shape
        (6, 2)
    """
    ### BEGIN SOLUTION
    if not isinstance(layer, Linear):
        raise TypeError(f"low_rank_factorize expects a Linear, got {type(layer).__name__}")
    first, second = _truncated_factors(layer.weight.data.astype(np.float64), rank, "low_rank_factorize")
    down = Linear(layer.in_features, int(rank), bias=False, seed=0)
    up = Linear(int(rank), layer.out_features, bias=layer.bias is not None, seed=0)
    down.weight.data = first.astype(np.float32)
    up.weight.data = second.astype(np.float32)
    if layer.bias is not None:
        up.bias.data = layer.bias.data.copy()
    return Sequential(down, up)
    ### END SOLUTION


# ---------------------------------------------------------------- distillation
def distillation_loss(student_logits, teacher_logits, labels, temperature: float = 4.0,
                      alpha: float = 0.5) -> Tensor:
    """Knowledge distillation: match the teacher's softened distribution and the true labels.

        soft = T^2 * mean over rows of KL(softmax(teacher / T) || softmax(student / T))
        hard = cross-entropy(student, labels)
        loss = alpha * soft + (1 - alpha) * hard

    Softening (T > 1) exposes how the teacher ranks the wrong classes; the T^2 factor keeps the
    soft term's gradients the same size as T changes. The teacher is a constant: no gradient
    flows into it.

    Args:
        student_logits (Tensor, shape (N, C)): the model being trained.
        teacher_logits (Tensor | np.ndarray, shape (N, C)): the larger model's outputs.
        labels (np.ndarray int, shape (N,)): true classes.
        temperature (float): T > 0.
        alpha (float): weight of the soft term, in [0, 1].

    Returns:
        Tensor: 0-d loss, differentiable with respect to student_logits.

    Raises:
        TypeError: student_logits is not a Tensor.
        ValueError: shapes differ, T <= 0, or alpha outside [0, 1].

    Example:
        >>> z = Tensor(np.zeros((2, 3))); round(float(distillation_loss(z, np.zeros((2, 3)), np.array([0, 1])).data), 4)
        0.5493
    """
    ### BEGIN SOLUTION
    if not isinstance(student_logits, Tensor):
        raise TypeError(f"distillation_loss expects student_logits as a Tensor, got {type(student_logits).__name__}")
    teacher = np.asarray(teacher_logits.data if isinstance(teacher_logits, Tensor) else teacher_logits,
                         dtype=student_logits.data.dtype)
    if student_logits.ndim != 2 or teacher.shape != student_logits.shape:
        raise ValueError(f"distillation_loss: student {student_logits.shape} and teacher {teacher.shape} logits "
                         "must both be (N, C)")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"distillation_loss: temperature must be > 0, got {temperature!r}")
    alpha = _fraction(alpha, "alpha", "distillation_loss")
    log_student = LogSoftmax()(student_logits * (1.0 / temperature))
    shifted = teacher / temperature - (teacher / temperature).max(axis=1, keepdims=True)
    log_teacher = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    teacher_probs = np.exp(log_teacher)
    # KL(p_t || p_s) = sum p_t log p_t - sum p_t log p_s; the first term is a constant.
    cross = (log_student * Tensor(-teacher_probs)).sum() * (1.0 / len(teacher))
    soft = (cross + float((teacher_probs * log_teacher).sum() / len(teacher))) * (temperature ** 2)
    hard = CrossEntropyLoss()(student_logits, labels)
    return soft * alpha + hard * (1.0 - alpha)
    ### END SOLUTION
