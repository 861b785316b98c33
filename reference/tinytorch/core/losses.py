"""Module 04 -- Losses: one number that says how wrong the predictions are.

Every loss is composed of Tensor operations (plus constant masks computed from the data), so
it stays usable by any later machinery that follows Tensor operations. Stability is the systems
lesson: cross-entropy goes through log-softmax (the log-sum-exp trick) instead of log(softmax),
and the logits form of binary cross-entropy never evaluates exp of a large positive number.
"""
from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")
# Probabilities are clamped to [PROBABILITY_EPS, 1 - PROBABILITY_EPS] before log() in BCELoss.
PROBABILITY_EPS = 1e-7


def _check_reduction(reduction: str) -> str:
    """Validate a reduction name."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def _reduce(values: Tensor, reduction: str) -> Tensor:
    """Apply a reduction: mean or sum over every element, or none (per-element values)."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _as_float_tensor(x, name: str) -> Tensor:
    """Accept a Tensor or array as predictions; integer values become float32."""
    if not isinstance(x, Tensor):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a Tensor or NumPy array, got {type(x).__name__}")
        x = Tensor(x)
    return x if x.dtype.kind == "f" else Tensor(x.data.astype(np.float32))


def _same_shape(predictions: Tensor, targets: Tensor, name: str) -> None:
    if predictions.shape != targets.shape:
        raise ValueError(f"{name}: predictions have shape {predictions.shape} but targets have shape {targets.shape}")


class MSELoss:
    """Mean squared error: mean((predictions - targets)^2).

    Args:
        reduction (str): "mean" (default), "sum" or "none".

    Raises:
        ValueError: unknown reduction.

    Example:
        >>> MSELoss()(Tensor([1.0, 3.0]), Tensor([1.0, 1.0])).item()
        2.0
    """

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)

    def forward(self, predictions: Tensor, targets: Tensor) -> Tensor:
        """Squared differences, reduced.

        Args:
            predictions (Tensor, any shape): model outputs.
            targets (Tensor | np.ndarray, same shape): desired outputs.

        Returns:
            Tensor: 0-d for "mean"/"sum", predictions' shape for "none".

        Raises:
            TypeError: an argument is not a Tensor or array.
            ValueError: the shapes differ (both are named).

        Example:
            >>> MSELoss(reduction="sum")(Tensor([1.0, 3.0]), Tensor([0.0, 0.0])).item()
            10.0
        """
        ### BEGIN SOLUTION
        predictions = _as_float_tensor(predictions, "MSELoss predictions")
        targets = _as_float_tensor(targets, "MSELoss targets")
        _same_shape(predictions, targets, "MSELoss")
        difference = predictions - targets
        return _reduce(difference * difference, self.reduction)
        ### END SOLUTION

    def __call__(self, predictions, targets) -> Tensor:
        return self.forward(predictions, targets)


class CrossEntropyLoss:
    """Cross-entropy of integer class targets under softmax(logits): -log p[target].

    Args:
        reduction (str): "mean" (default, over every example and position), "sum" or "none".

    Raises:
        ValueError: unknown reduction.

    Example:
        >>> CrossEntropyLoss()(Tensor([[0.0, 0.0]]), np.array([1])).item()  # log(2)
        0.6931...
    """

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: Tensor, targets) -> Tensor:
        """Negative log-probability of each target class: logsumexp(logits) - logits[target].

        Args:
            logits (Tensor, shape (N, C) or (N, T, C)): unnormalised class scores.
            targets (Tensor | np.ndarray, integer, shape (N,) or (N, T)): class ids in [0, C).

        Returns:
            Tensor: 0-d for "mean"/"sum"; shape (N,) or (N, T) for "none".

        Raises:
            TypeError: logits is not a Tensor, or targets are not integers.
            ValueError: the shapes do not match, or a class id is outside [0, C).

        Example:
            >>> CrossEntropyLoss(reduction="none")(Tensor([[10.0, 0.0]]), np.array([0])).shape
            (1,)
        """
        ### BEGIN SOLUTION
        if not isinstance(logits, Tensor):
            raise TypeError(f"CrossEntropyLoss logits must be a Tensor, got {type(logits).__name__}")
        ids = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"CrossEntropyLoss targets must be integer class ids, got dtype {ids.dtype}")
        if logits.ndim not in (2, 3) or ids.shape != logits.shape[:-1]:
            raise ValueError(
                f"CrossEntropyLoss expects logits (N, C) with targets (N,) or logits (N, T, C) with targets (N, T); "
                f"got logits {logits.shape} and targets {ids.shape}"
            )
        classes = logits.shape[-1]
        if ids.size and (ids.min() < 0 or ids.max() >= classes):
            raise ValueError(f"CrossEntropyLoss targets must lie in [0, {classes}), got values from {ids.min()} to {ids.max()}")
        scores = _as_float_tensor(logits, "logits")
        if scores.ndim == 3:  # (N, T, C): score every position as one long batch
            scores = scores.reshape(-1, classes)
        flat_ids = ids.reshape(-1)
        # -log softmax(x)[y] = log(sum(exp(x))) - x[y]: only the target's log-probability is
        # needed, so the full log-softmax table is never built. Subtracting each row's maximum
        # (a constant, so a plain array) keeps every exp() <= 1: the log-sum-exp trick.
        shifted = scores - scores.data.max(axis=-1, keepdims=True)
        log_sum_exp = shifted.exp().sum(axis=-1).log()
        losses = log_sum_exp - shifted[np.arange(flat_ids.size), flat_ids]
        return _reduce(losses.reshape(ids.shape) if ids.ndim == 2 else losses, self.reduction)
        ### END SOLUTION

    def __call__(self, logits, targets) -> Tensor:
        return self.forward(logits, targets)


def _binary_targets(targets, predictions: Tensor, name: str) -> Tensor:
    """Targets for binary losses: same shape as predictions, values in [0, 1], float dtype."""
    targets = _as_float_tensor(targets, f"{name} targets")
    _same_shape(predictions, targets, name)
    if targets.size and (targets.data.min() < 0 or targets.data.max() > 1):
        raise ValueError(f"{name} targets must lie in [0, 1], got values from {targets.data.min()} to {targets.data.max()}")
    return targets


class BCELoss:
    """Binary cross-entropy on probabilities: -(y log p + (1 - y) log(1 - p)).

    Probabilities are clamped to [1e-7, 1 - 1e-7] first, so a confident wrong answer costs a
    large finite amount instead of infinity (p = 0 with y = 1 costs -log(1e-7) = 16.12). Outside
    that band the loss is flat: its slope with respect to p is exactly 0 for p below 1e-7 or above
    1 - 1e-7 (PyTorch's BCELoss keeps a non-zero slope there). Use BCEWithLogitsLoss on raw
    scores when such confident predictions must keep improving.

    Args:
        reduction (str): "mean" (default), "sum" or "none".

    Raises:
        ValueError: unknown reduction.

    Example:
        >>> round(BCELoss()(Tensor([0.5]), Tensor([1.0])).item(), 4)
        0.6931
    """

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)

    def forward(self, probabilities: Tensor, targets) -> Tensor:
        """Binary cross-entropy of probabilities against 0/1 (or soft) targets.

        Args:
            probabilities (Tensor, any shape): values in [0, 1], e.g. a Sigmoid output.
            targets (Tensor | np.ndarray, same shape): values in [0, 1].

        Returns:
            Tensor: 0-d for "mean"/"sum", the input shape for "none".

        Raises:
            TypeError: an argument is not a Tensor or array.
            ValueError: shapes differ, or a value lies outside [0, 1].

        Example:
            >>> BCELoss()(Tensor([0.0]), Tensor([1.0])).item() < 20
            True
        """
        ### BEGIN SOLUTION
        p = _as_float_tensor(probabilities, "BCELoss probabilities")
        y = _binary_targets(targets, p, "BCELoss")
        if p.size and (p.data.min() < 0 or p.data.max() > 1):
            raise ValueError(f"BCELoss probabilities must lie in [0, 1], got values from {p.data.min()} to {p.data.max()}")
        # Clamp with constant masks: inside the band keep p, outside use the band's edge.
        low, high = PROBABILITY_EPS, 1.0 - PROBABILITY_EPS
        inside = Tensor(((p.data >= low) & (p.data <= high)).astype(p.dtype))
        edge = Tensor(np.clip(p.data, low, high) * (1 - inside.data))
        clamped = p * inside + edge
        return _reduce(-(y * clamped.log() + (1.0 - y) * (1.0 - clamped).log()), self.reduction)
        ### END SOLUTION

    def __call__(self, probabilities, targets) -> Tensor:
        return self.forward(probabilities, targets)


class BCEWithLogitsLoss:
    """Binary cross-entropy on raw scores (logits), stable for any finite logit:

        loss = max(x, 0) - x * y + log1p(exp(-|x|))

    log1p keeps the last term accurate when exp(-|x|) is tiny: at x = 20, y = 1 the loss is
    2.06e-9, which log(1 + 2.06e-9) would round to 0 in float32.

    Args:
        reduction (str): "mean" (default), "sum" or "none".

    Raises:
        ValueError: unknown reduction.

    Example:
        >>> round(BCEWithLogitsLoss()(Tensor([0.0]), Tensor([1.0])).item(), 4)
        0.6931
    """

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: Tensor, targets) -> Tensor:
        """Binary cross-entropy of sigmoid(logits), without computing the sigmoid.

        Args:
            logits (Tensor, any shape): raw scores.
            targets (Tensor | np.ndarray, same shape): values in [0, 1].

        Returns:
            Tensor: 0-d for "mean"/"sum", the input shape for "none".

        Raises:
            TypeError: an argument is not a Tensor or array.
            ValueError: shapes differ, or a target lies outside [0, 1].

        Example:
            >>> BCEWithLogitsLoss()(Tensor([1e4]), Tensor([0.0])).item()
            10000.0
        """
        ### BEGIN SOLUTION
        x = _as_float_tensor(logits, "BCEWithLogitsLoss logits")
        y = _binary_targets(targets, x, "BCEWithLogitsLoss")
        # Both masks treat x == 0 as positive, so their one-sided slopes agree there.
        positive = Tensor((x.data >= 0).astype(x.dtype))
        sign = positive * 2.0 - 1.0
        softplus_of_minus_abs = (-(x * sign)).exp().log1p()
        return _reduce(x * positive - x * y + softplus_of_minus_abs, self.reduction)
        ### END SOLUTION

    def __call__(self, logits, targets) -> Tensor:
        return self.forward(logits, targets)
