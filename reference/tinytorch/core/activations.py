"""Module 02 -- Activations: the non-linear functions between layers.

Every activation here is composed only of Tensor operations from module 01 (arithmetic,
comparisons, exp, log, sum, max), so any machinery that later learns to follow Tensor
operations follows these functions too, with no extra code.

Numerical stability is the systems lesson: exp(1000) overflows float32, so each function is
arranged so that no intermediate value can overflow for inputs up to |x| = 1e4.
"""
from __future__ import annotations

import math

import numpy as np

from tinytorch.core.tensor import Tensor

# GELU's tanh approximation: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3))).
GELU_SCALE = math.sqrt(2.0 / math.pi)
GELU_CUBIC = 0.044715


def _as_tensor(x, name: str) -> Tensor:
    """Check that an activation received a Tensor; integer/bool values become float32."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        return Tensor(x.data.astype(np.float32))
    return x


def stable_sigmoid(x: Tensor) -> Tensor:
    """The logistic function 1 / (1 + e^-x), computed without overflow.

    For x >= 0 it uses 1 / (1 + z) and for x < 0 it uses z / (1 + z), where z = e^-|x| lies in
    (0, 1], so the exponential never overflows.

    Args:
        x (Tensor, any shape): input values.

    Returns:
        Tensor: same shape and dtype, every value in [0, 1].

    Example:
        >>> stable_sigmoid(Tensor([0.0])).data
        array([0.5], dtype=float32)
    """
    ### BEGIN SOLUTION
    # Constant masks in x's own dtype, so float32 stays float32 and float64 stays float64.
    positive = Tensor((x.data >= 0).astype(x.dtype))
    negative = Tensor((x.data < 0).astype(x.dtype))
    z = (-(x * (positive - negative))).exp()  # e^-|x|, in (0, 1]
    one_plus_z = z + 1.0
    return positive / one_plus_z + negative * z / one_plus_z
    ### END SOLUTION


class Activation:
    """Base class of the activations: calling one applies its forward().

    Example:
        >>> ReLU()(Tensor([-1.0])).data
        array([-0.], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        """Apply the activation; every subclass overrides this.

        Args:
            x (Tensor): input values.

        Returns:
            Tensor: the activation of x.

        Raises:
            NotImplementedError: the subclass did not define forward.

        Example:
            >>> Sigmoid().forward(Tensor([0.0])).data
            array([0.5], dtype=float32)
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)


class ReLU(Activation):
    """Rectified linear unit: max(0, x), element-wise.

    Example:
        >>> ReLU()(Tensor([-1.0, 2.0])).data
        array([0., 2.], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        """Apply max(0, x) element-wise (the value at exactly 0 is 0).

        Args:
            x (Tensor, any shape): input values.

        Returns:
            Tensor: same shape and dtype, negative entries replaced by 0.

        Raises:
            TypeError: x is not a Tensor.

        Example:
            >>> ReLU().forward(Tensor([-3.0, 0.5])).data
            array([0. , 0.5], dtype=float32)
        """
        ### BEGIN SOLUTION
        x = _as_tensor(x, "ReLU")
        return x * (x.data > 0)  # a constant mask, a plain boolean array: True/False multiply as 1/0
        ### END SOLUTION


class Sigmoid(Activation):
    """Logistic sigmoid 1 / (1 + e^-x), stable for any finite input.

    Example:
        >>> Sigmoid()(Tensor([0.0])).data
        array([0.5], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        """Apply the sigmoid element-wise without overflow (see `stable_sigmoid`).

        Args:
            x (Tensor, any shape): input values.

        Returns:
            Tensor: same shape and dtype, values in [0, 1].

        Raises:
            TypeError: x is not a Tensor.

        Example:
            >>> Sigmoid().forward(Tensor([1e4, -1e4])).data
            array([1., 0.], dtype=float32)
        """
        ### BEGIN SOLUTION
        return stable_sigmoid(_as_tensor(x, "Sigmoid"))
        ### END SOLUTION


class Tanh(Activation):
    """Hyperbolic tangent, accurate to the last bits at both ends of its range.

    With a = |x| and t = e^(-2a) - 1 (Tensor.expm1), tanh(a) = -t / (2 + t) and tanh(-a) = -tanh(a).
    Nothing overflows (t lies in [-1, 0]) and, unlike 2 * sigmoid(2x) - 1 or (1 - e^-2a) / (1 + e^-2a),
    nothing cancels near 0: expm1 keeps tanh(1e-8) = 1e-8 where those formulas return 0.

    Example:
        >>> Tanh()(Tensor([0.0])).data
        array([0.], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        """Apply tanh element-wise.

        Args:
            x (Tensor, any shape): input values.

        Returns:
            Tensor: same shape and dtype, values in [-1, 1].

        Raises:
            TypeError: x is not a Tensor.

        Example:
            >>> Tanh().forward(Tensor([1e4])).data
            array([1.], dtype=float32)
        """
        ### BEGIN SOLUTION
        x = _as_tensor(x, "Tanh")
        # A constant sign (+1 at both zeros) so that tanh(+0) = +0 and tanh(-0) = -0.
        sign = np.where(x.data < 0, -1.0, 1.0).astype(x.dtype)
        t = (x * sign * -2.0).expm1()  # e^(-2|x|) - 1, in [-1, 0]
        return -t / (t + 2.0) * sign
        ### END SOLUTION


class GELU(Activation):
    """Gaussian error linear unit, tanh approximation (one formula, used everywhere in tinytorch):

        GELU(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))

    Example:
        >>> GELU()(Tensor([0.0])).data
        array([0.], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        """Apply the GELU formula above element-wise.

        Args:
            x (Tensor, any shape): input values.

        Returns:
            Tensor: same shape and dtype.

        Raises:
            TypeError: x is not a Tensor.

        Example:
            >>> round(float(GELU().forward(Tensor([1.0])).data[0]), 4)
            0.8412
        """
        ### BEGIN SOLUTION
        x = _as_tensor(x, "GELU")
        # 1 + tanh(u) == 2 * sigmoid(2u): reuse the overflow-free sigmoid.
        inner = (x + x * x * x * GELU_CUBIC) * GELU_SCALE
        return x * stable_sigmoid(inner * 2.0)
        ### END SOLUTION


def _check_dim(x: Tensor, dim: int, name: str) -> None:
    """Raise ValueError if `dim` is not a valid dimension of x."""
    if x.ndim == 0 or not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{name}: dim {dim} is out of range for a tensor of shape {x.shape}")


def _shifted(x: Tensor, dim: int) -> Tensor:
    """x minus its maximum along `dim`; the shift is a constant, so every exp() is at most 1."""
    return x - x.data.max(axis=dim, keepdims=True)  # a plain array: constants need no Tensor


class Softmax(Activation):
    """Softmax along one dimension: exp(x_i) / sum_j exp(x_j).

    Args:
        dim (int): the dimension that sums to 1 (default: the last).

    Example:
        >>> Softmax()(Tensor([[0.0, 0.0]])).data
        array([[0.5, 0.5]], dtype=float32)
    """

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Normalise exponentials along `self.dim`, shifting by the maximum first for stability.

        Args:
            x (Tensor, at least 1-D): scores.

        Returns:
            Tensor: same shape and dtype; non-negative, summing to 1 along dim; unchanged when a
            constant is added along dim.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: dim is out of range for x.

        Example:
            >>> Softmax(dim=0)(Tensor([1000.0, 1000.0])).data
            array([0.5, 0.5], dtype=float32)
        """
        ### BEGIN SOLUTION
        x = _as_tensor(x, "Softmax")
        _check_dim(x, self.dim, "Softmax")
        exps = _shifted(x, self.dim).exp()
        return exps / exps.sum(axis=self.dim, keepdims=True)
        ### END SOLUTION


class LogSoftmax(Activation):
    """log(softmax(x)) along one dimension, computed as x - max - log(sum(exp(x - max))).

    Args:
        dim (int): the dimension to normalise over (default: the last).

    Example:
        >>> LogSoftmax()(Tensor([[0.0, 0.0]])).data
        array([[-0.6931472, -0.6931472]], dtype=float32)
    """

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Log-probabilities along `self.dim`, finite even when softmax would round to 0.

        Args:
            x (Tensor, at least 1-D): scores.

        Returns:
            Tensor: same shape and dtype; every value <= 0; exp() of it sums to 1 along dim.

        Raises:
            TypeError: x is not a Tensor.
            ValueError: dim is out of range for x.

        Example:
            >>> LogSoftmax(dim=0)(Tensor([0.0, 1e4])).data
            array([-10000.,      0.], dtype=float32)
        """
        ### BEGIN SOLUTION
        x = _as_tensor(x, "LogSoftmax")
        _check_dim(x, self.dim, "LogSoftmax")
        shifted = _shifted(x, self.dim)
        return shifted - shifted.exp().sum(axis=self.dim, keepdims=True).log()
        ### END SOLUTION
