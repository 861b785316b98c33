"""Module 08 -- Training: the loop that ties model, loss, optimizer and data together.

Adds what real training needs around `loss.backward(); optimizer.step()`: a cosine learning
rate schedule with warmup, global-norm gradient clipping, gradient accumulation (several small
batches acting as one large one when memory is short), evaluation without a graph, and
checkpoints saved as `.npz` files. Systems lesson: peak memory is parameters + gradients +
optimizer state + the activations of one batch; accumulation trades time for that last term.
"""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.tensor import Tensor


class CosineSchedule:
    """Learning rate with linear warmup then cosine decay:

        step < warmup:   lr = max_lr * (step + 1) / warmup_steps
        afterwards:      lr = min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2,
                         progress = (step - warmup_steps) / (total_steps - warmup_steps), capped at 1

    Warmup climbs from zero, not from min_lr (like PyTorch's LinearLR): with max_lr=1.0 and
    warmup_steps=4, steps 0-3 use 0.25, 0.5, 0.75, 1.0, so a warmup rate may lie below min_lr.
    From step warmup_steps on, the rate stays within [min_lr, max_lr]; from total_steps on it
    stays at min_lr: with max_lr=1.0, min_lr=0.1, warmup_steps=10, total_steps=110, step 60 (halfway
    through the decay) uses 0.55 and steps 110 and 500 both use 0.1.

    Args:
        max_lr (float): peak learning rate, > 0.
        total_steps (int): steps until the rate reaches min_lr, > warmup_steps.
        min_lr (float): final learning rate, 0 <= min_lr <= max_lr.
        warmup_steps (int): steps of linear warmup, >= 0.

    Raises:
        ValueError: an argument is out of range.

    Example:
        >>> CosineSchedule(0.1, total_steps=100)(0)
        0.1
    """

    def __init__(self, max_lr: float, total_steps: int, min_lr: float = 0.0, warmup_steps: int = 0):
        ### BEGIN SOLUTION
        if max_lr <= 0 or not 0 <= min_lr <= max_lr:
            raise ValueError(f"need 0 <= min_lr <= max_lr and max_lr > 0, got min_lr={min_lr}, max_lr={max_lr}")
        if warmup_steps < 0 or total_steps <= warmup_steps:
            raise ValueError(f"need 0 <= warmup_steps < total_steps, got warmup_steps={warmup_steps}, total_steps={total_steps}")
        self.max_lr, self.min_lr = float(max_lr), float(min_lr)
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)
        ### END SOLUTION

    def __call__(self, step: int) -> float:
        """The learning rate to use at `step` (counted from 0).

        Args:
            step (int): optimizer step number, >= 0.

        Returns:
            float: the learning rate.

        Example:
            >>> CosineSchedule(1.0, total_steps=10, warmup_steps=2)(0)
            0.5
        """
        ### BEGIN SOLUTION
        if step < self.warmup_steps:
            return self.max_lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_lr + (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
        ### END SOLUTION


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most max_norm.

    Args:
        params (Iterable[Tensor]): parameters whose .grad to clip (those without one are skipped).
        max_norm (float): the largest allowed global norm, > 0.

    Returns:
        float: the global norm BEFORE clipping (useful for spotting exploding gradients).

    Raises:
        ValueError: max_norm is not positive.

    Example:
        >>> p = Tensor([0.0, 0.0], requires_grad=True); p.grad = Tensor([3.0, 4.0]); clip_grad_norm([p], 1.0)
        5.0
    """
    ### BEGIN SOLUTION
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm!r}")
    grads = [p.grad for p in params if getattr(p, "grad", None) is not None]
    total = math.sqrt(sum(float(np.sum(g.data.astype(np.float64) ** 2)) for g in grads))
    if total > max_norm:
        scale = max_norm / total
        for g in grads:
            g.data *= scale
    return total
    ### END SOLUTION


def check_gradient_flow(model: Module) -> None:
    """Raise if some parameter received no gradient from the last backward pass.

    The usual cause is a layer whose forward computes on `.data` with raw NumPy: the result is a
    new Tensor with no history, so backward cannot reach the parameters behind it.

    Args:
        model (Module): the model after loss.backward().

    Raises:
        ValueError: names every parameter whose .grad is None and explains the likely cause.

    Example:
        >>> check_gradient_flow(Module())
    """
    ### BEGIN SOLUTION
    missing = [name for name, p in model.named_parameters() if getattr(p, "grad", None) is None]
    if missing:
        raise ValueError(
            f"no gradient reached {', '.join(missing)}. A forward pass that computes with raw NumPy on "
            "`.data` (or wraps a NumPy result in a new Tensor) cuts the computational graph: use Tensor "
            "operations so backward can follow them back to these parameters."
        )
    ### END SOLUTION


class Trainer:
    """Runs training epochs and evaluation for a model.

    Args:
        model (Module): the model; model(inputs) returns predictions.
        optimizer (Optimizer): updates model.parameters().
        loss_fn (callable): loss_fn(predictions, targets) -> 0-d Tensor (mean-reduced).
        schedule (callable | None): step -> learning rate, applied before every optimizer step.
        clip_norm (float | None): clip the global gradient norm to this value before each step.
        accumulation_steps (int): micro-batches per optimizer step (>= 1); each micro-batch loss is
            divided by this number, so k batches of size b act like one batch of size k*b.

    Raises:
        TypeError: optimizer is not an Optimizer.
        ValueError: accumulation_steps < 1.

    Example:
        >>> trainer = Trainer(Linear(2, 1), None, None)  # doctest: +SKIP
    """

    def __init__(self, model, optimizer, loss_fn, schedule=None, clip_norm: float | None = None,
                 accumulation_steps: int = 1):
        ### BEGIN SOLUTION
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Trainer needs an Optimizer, got {type(optimizer).__name__}")
        if not isinstance(accumulation_steps, int) or accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be an integer >= 1, got {accumulation_steps!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.schedule, self.clip_norm, self.accumulation_steps = schedule, clip_norm, accumulation_steps
        self.step_count = 0
        self.history: list[dict[str, float]] = []
        ### END SOLUTION

    def _optimizer_step(self) -> None:
        if self.schedule is not None:
            self.optimizer.lr = self.schedule(self.step_count)
        if self.clip_norm is not None:
            clip_grad_norm(self.optimizer.params, self.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step_count += 1

    def train_epoch(self, loader) -> float:
        """One pass over `loader`: forward, backward, and an optimizer step every
        `accumulation_steps` batches (a final partial group also steps).

        Each batch's loss is scaled by 1 / accumulation_steps before backward, so a full group
        of k batches of size B steps like one batch of size k * B. A final partial group keeps
        the same scale: 5 batches with accumulation_steps=2 give 3 steps, the last one from one
        batch's gradient divided by 2.

        Args:
            loader (Iterable[tuple[Tensor, Tensor]]): (inputs, targets) batches.

        Returns:
            float: mean of the batch losses.

        Example:
            >>> trainer.train_epoch(loader)  # doctest: +SKIP
        """
        ### BEGIN SOLUTION
        if hasattr(self.model, "train"):
            self.model.train()
        self.optimizer.zero_grad()
        losses, pending = [], 0
        for inputs, targets in loader:
            loss = self.loss_fn(self.model(inputs), targets)
            (loss * (1.0 / self.accumulation_steps)).backward()
            losses.append(float(loss.item()))
            pending += 1
            if pending == self.accumulation_steps:
                self._optimizer_step()
                pending = 0
        if pending:
            self._optimizer_step()
        return float(np.mean(losses)) if losses else float("nan")
        ### END SOLUTION

    def evaluate(self, loader) -> dict[str, float]:
        """Loss (and accuracy for class-id targets) over `loader`, with no graph and eval mode.

        The model runs in eval mode (dropout off), so the result is deterministic; afterwards the
        model is back in the mode it was in before the call.

        Args:
            loader (Iterable[tuple[Tensor, Tensor]]): (inputs, targets) batches.

        Returns:
            dict[str, float]: {"loss": mean batch loss, "accuracy": fraction correct} (accuracy
            only when targets are integer class ids and predictions are (N, C) scores).

        Example:
            >>> trainer.evaluate(loader)["loss"]  # doctest: +SKIP
        """
        ### BEGIN SOLUTION
        # Dropout must be off while measuring, and the caller's mode must come back afterwards
        # (even after an error): evaluating in the middle of training must not end training mode,
        # and evaluating a model in eval mode must not switch it to training.
        was_training = getattr(self.model, "training", None)
        if hasattr(self.model, "eval"):
            self.model.eval()
        losses, correct, counted = [], 0, 0
        try:
            with no_grad():
                for inputs, targets in loader:
                    predictions = self.model(inputs)
                    losses.append(float(self.loss_fn(predictions, targets).item()))
                    ids = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
                    if ids.dtype.kind in "iu" and predictions.ndim == ids.ndim + 1:
                        correct += int((predictions.data.argmax(axis=-1) == ids).sum())
                        counted += ids.size
        finally:
            if was_training is not None and hasattr(self.model, "train"):
                self.model.train(was_training)
        result = {"loss": float(np.mean(losses)) if losses else float("nan")}
        if counted:
            result["accuracy"] = correct / counted
        return result
        ### END SOLUTION

    def fit(self, train_loader, epochs: int, val_loader=None) -> list[dict[str, float]]:
        """Train for `epochs` epochs, evaluating on val_loader after each when given.

        Args:
            train_loader (Iterable): training batches.
            epochs (int): number of passes, >= 1.
            val_loader (Iterable | None): evaluation batches.

        Returns:
            list[dict[str, float]]: one record per epoch: train_loss (+ val_loss, val_accuracy).

        Example:
            >>> trainer.fit(loader, epochs=3)  # doctest: +SKIP
        """
        ### BEGIN SOLUTION
        for epoch in range(epochs):
            record = {"epoch": epoch, "train_loss": self.train_epoch(train_loader)}
            if val_loader is not None:
                record.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
            self.history.append(record)
        return self.history
        ### END SOLUTION


def save_checkpoint(model: Module, path) -> Path:
    """Save every parameter of `model` to an .npz file, keyed by its dotted name.

    Args:
        model (Module): the model.
        path (str | Path): destination; ".npz" is appended by NumPy if missing.

    Returns:
        Path: the file written.

    Example:
        >>> save_checkpoint(Linear(2, 1), "/tmp/model.npz")  # doctest: +SKIP
    """
    ### BEGIN SOLUTION
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    np.savez(path, **{name: p.data for name, p in model.named_parameters()})
    return path
    ### END SOLUTION


def load_checkpoint(model: Module, path) -> None:
    """Load parameters saved by save_checkpoint into `model`, all or nothing.

    Every name and shape is checked before anything is copied, so a mismatch or a damaged file
    leaves the model exactly as it was.

    Args:
        model (Module): a model with the same architecture.
        path (str | Path): the .npz file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable .npz, or a name is missing/extra, or a shape differs
            (the message names them).

    Example:
        >>> load_checkpoint(Linear(2, 1), "/tmp/model.npz")  # doctest: +SKIP
    """
    ### BEGIN SOLUTION
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            saved = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path} is not a readable .npz checkpoint: {error}") from None
    params = dict(model.named_parameters())
    missing, extra = sorted(set(params) - set(saved)), sorted(set(saved) - set(params))
    if missing or extra:
        raise ValueError(f"checkpoint {path} does not match the model: missing {missing}, unexpected {extra}")
    for name, p in params.items():
        if saved[name].shape != p.shape:
            raise ValueError(f"checkpoint {path}: {name} has shape {saved[name].shape}, the model expects {p.shape}")
    for name, p in params.items():
        p.data = saved[name].astype(p.dtype, copy=True)
    ### END SOLUTION
