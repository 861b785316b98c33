"""Module 07 -- Optimizers: turn gradients into parameter updates.

Each optimizer updates `param.data` in place from `param.grad.data`. Systems lesson (paper §5.1):
optimizer state is memory. Plain SGD keeps nothing, SGD with momentum keeps one buffer per
parameter, Adam keeps two (first and second moments), so with the gradients themselves Adam
needs three extra copies of every parameter.
"""
from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor


def _check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    """Validate a hyperparameter that must be a non-negative (or positive) number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (value == 0 and not allow_zero):
        expected = "a non-negative number" if allow_zero else "a positive number"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: holds the parameters and per-parameter state buffers.

    Args:
        params (Iterable[Tensor]): the tensors to update (e.g. model.parameters()).

    Raises:
        ValueError: params is empty.
        TypeError: an entry is not a Tensor.

    Example:
        >>> SGD([Tensor([1.0], requires_grad=True)], lr=0.1).state_bytes()
        0
    """

    def __init__(self, params):
        ### BEGIN SOLUTION
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for index, param in enumerate(self.params):
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer parameter {index} must be a Tensor, got {type(param).__name__}")
        # One state dict per parameter: its buffers and its own step count ("step"), created the
        # first time that parameter has a gradient.
        self.state: list[dict] = [{} for _ in self.params]
        ### END SOLUTION

    def zero_grad(self) -> None:
        """Clear every parameter's gradient before the next backward pass.

        Example:
            >>> SGD([Tensor([1.0], requires_grad=True)], lr=0.1).zero_grad()
        """
        ### BEGIN SOLUTION
        for param in self.params:
            param.grad = None
        ### END SOLUTION

    def step(self) -> None:
        """Update every parameter that has a gradient; subclasses define `_update`.

        A parameter without a gradient (grad is None) is skipped entirely: its value, its buffers
        and its step count stay as they are. Each parameter counts its own steps in
        state["step"] (1 on its first update), so one that starts training late is bias-corrected
        as a newcomer (Adam's t = 1), not with the optimizer's age.

        Example:
            >>> opt = SGD([Tensor([1.0], requires_grad=True)], lr=0.1); opt.step()
        """
        ### BEGIN SOLUTION
        for param, state in zip(self.params, self.state):
            if getattr(param, "grad", None) is None:
                continue
            state["step"] = state.get("step", 0) + 1
            grad = param.grad.data.astype(param.data.dtype, copy=False)
            param.data -= self._update(param.data, grad, state)
        ### END SOLUTION

    def _update(self, value: np.ndarray, grad: np.ndarray, state: dict) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define _update")

    def state_bytes(self) -> int:
        """Memory held by the optimizer's state buffers (not counting parameters or gradients).

        Returns:
            int: bytes of every state array (the integer step counts are not buffers); buffers
            are created on a parameter's first update, so this is 0 before then.

        Example:
            >>> SGD([Tensor([1.0], requires_grad=True)], lr=0.1).state_bytes()
            0
        """
        ### BEGIN SOLUTION
        return sum(value.nbytes for state in self.state for value in state.values() if isinstance(value, np.ndarray))
        ### END SOLUTION


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and (coupled) weight decay:

        g = grad + weight_decay * p;  v = momentum * v + g;  p = p - lr * v   (v = g when momentum is 0)

    Args:
        params (Iterable[Tensor]): tensors to update.
        lr (float): learning rate, > 0.
        momentum (float): 0 <= momentum < 1.
        weight_decay (float): L2 penalty coefficient, >= 0.

    Raises:
        ValueError: a hyperparameter is out of range, or params is empty.

    Example:
        >>> p = Tensor([1.0], requires_grad=True); (p * 2).sum().backward(); SGD([p], lr=0.1).step(); p.data
        array([0.8], dtype=float32)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params)
        ### BEGIN SOLUTION
        self.lr = _check_positive("lr", lr)
        self.momentum = _check_positive("momentum", momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be below 1, got {momentum!r}")
        self.weight_decay = _check_positive("weight_decay", weight_decay, allow_zero=True)
        ### END SOLUTION

    def _update(self, value, grad, state):
        ### BEGIN SOLUTION
        if self.weight_decay:
            grad = grad + self.weight_decay * value
        if self.momentum:
            velocity = state.get("velocity")
            state["velocity"] = grad.copy() if velocity is None else self.momentum * velocity + grad
            grad = state["velocity"]
        return self.lr * grad
        ### END SOLUTION


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015), with optional coupled L2 weight decay:

        g = grad + weight_decay * p
        m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g^2
        p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    t is the parameter's own step count: 1 on the first step in which it has a gradient.

    Args:
        params (Iterable[Tensor]): tensors to update.
        lr (float): learning rate, > 0.
        betas (tuple[float, float]): decay rates of the two moment estimates, each in [0, 1).
        eps (float): added to the denominator, > 0.
        weight_decay (float): L2 penalty added to the gradient, >= 0.

    Raises:
        ValueError: a hyperparameter is out of range, or params is empty.

    Example:
        >>> Adam([Tensor([1.0], requires_grad=True)]).lr
        0.001
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params)
        ### BEGIN SOLUTION
        self.lr = _check_positive("lr", lr)
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = _check_positive("eps", eps)
        self.weight_decay = _check_positive("weight_decay", weight_decay, allow_zero=True)
        ### END SOLUTION

    def _update(self, value, grad, state):
        ### BEGIN SOLUTION
        beta1, beta2 = self.betas
        if self.weight_decay and not self.decoupled:
            grad = grad + self.weight_decay * value
        if "m" not in state:
            state["m"], state["v"] = np.zeros_like(value), np.zeros_like(value)
        m, v = state["m"], state["v"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        # The formula's temporaries, updated in place (same arithmetic, fewer new arrays):
        # update = lr * m_hat / (sqrt(v_hat) + eps).
        t = state["step"]
        update = m / (1 - beta1 ** t)
        update *= self.lr
        denominator = v / (1 - beta2 ** t)
        np.sqrt(denominator, out=denominator)
        denominator += self.eps
        update /= denominator
        if self.weight_decay and self.decoupled:
            update = update + self.lr * self.weight_decay * value
        return update.astype(value.dtype, copy=False)
        ### END SOLUTION


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): the decay shrinks the
    parameter directly, p = p - lr * weight_decay * p, instead of entering the moment estimates.

    Args:
        params (Iterable[Tensor]): tensors to update.
        lr (float): learning rate, > 0.
        betas (tuple[float, float]): moment decay rates, each in [0, 1).
        eps (float): denominator term, > 0.
        weight_decay (float): decoupled decay coefficient, >= 0 (default 0.01).

    Raises:
        ValueError: a hyperparameter is out of range, or params is empty.

    Example:
        >>> AdamW([Tensor([1.0], requires_grad=True)]).weight_decay
        0.01
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
