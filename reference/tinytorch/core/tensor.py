"""Module 01 -- Tensor: an n-dimensional array of numbers that knows its own memory cost.

A Tensor wraps a NumPy array (`.data`) and offers the arithmetic, matrix multiplication,
shape manipulation and reductions that every later module is built from.

Dtype policy (the same everywhere in tinytorch):
  * Python numbers and (nested) lists become float32.
  * NumPy floating arrays keep their dtype (float16/float32/float64).
  * NumPy integer and boolean arrays keep their dtype (token ids, labels, masks).
  * Anything else (strings, objects, complex numbers) is a TypeError.

Operations follow NumPy's broadcasting rules; when two shapes cannot be broadcast the error
names both shapes.
"""
from __future__ import annotations

import numbers

import numpy as np


def _to_array(data, dtype=None) -> np.ndarray:
    """Convert user data to a NumPy array following the dtype policy.

    Args:
        data: a Tensor, NumPy array or scalar, Python number, or nested list of numbers.
        dtype: optional NumPy dtype that overrides the policy.

    Returns:
        np.ndarray: the array to store (NumPy inputs of an accepted dtype are not copied).

    Raises:
        TypeError: data is not numeric (strings, None, objects, complex numbers).
        ValueError: a nested list is ragged (rows of different lengths).

    Example:
        >>> _to_array([1, 2]).dtype
        dtype('float32')
    """
    ### BEGIN SOLUTION
    if type(data) is np.ndarray and dtype is None and data.dtype.kind in "biuf":
        return data  # fast path: every operation's result arrives here
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
    elif isinstance(data, (numbers.Number, list, tuple)) and not isinstance(data, complex):
        try:
            array = np.array(data, dtype=np.float32)
        except (ValueError, TypeError) as error:
            kind = "ragged (rows of different lengths)" if "inhomogeneous" in str(error) else "not numeric"
            if kind == "not numeric":
                raise TypeError(
                    f"Tensor expects numbers or nested lists of numbers, got a list whose items are not numbers: {error}"
                ) from None
            raise ValueError(f"Tensor expects a rectangular nested list, got one that is {kind}") from None
    else:
        raise TypeError(
            f"Tensor expects a Tensor, NumPy array, Python number or list of numbers, got {type(data).__name__}"
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Tensor expects a numeric (bool, int or float) dtype, got dtype {array.dtype}")
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return array
    ### END SOLUTION


@np.errstate(divide="ignore", invalid="ignore", over="ignore")
def _ieee(compute, *arrays) -> np.ndarray:
    """Apply a NumPy function with IEEE results and no warnings: x/0 is inf, log(-1) is nan.

    Used as a decorator, np.errstate is built once, here, instead of on every call as a `with`
    block inside each operation would be; every arithmetic operation runs through this function.

    Args:
        compute (callable): a NumPy function, e.g. np.add or np.exp.
        *arrays (np.ndarray | float): its arguments.

    Returns:
        np.ndarray: compute(*arrays).

    Example:
        >>> _ieee(np.divide, np.array([1.0]), 0.0)
        array([inf])
    """
    return compute(*arrays)


def _broadcast_shape(a: tuple, b: tuple, op: str) -> tuple:
    """The broadcast result shape of `a` and `b`, or a ValueError naming both.

    Args:
        a (tuple[int, ...]): left operand shape.
        b (tuple[int, ...]): right operand shape.
        op (str): the operator symbol, used in the error message.

    Returns:
        tuple[int, ...]: the shape of `a op b`.

    Raises:
        ValueError: the shapes cannot be broadcast together.

    Example:
        >>> _broadcast_shape((3, 1), (4,), "+")
        (3, 4)
    """
    ### BEGIN SOLUTION
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(
            f"cannot broadcast shapes {a} {op} {b}: trailing dimensions must be equal or 1"
        ) from None
    ### END SOLUTION


class Tensor:
    """An n-dimensional array with NumPy-style arithmetic and explicit memory accounting.

    Args:
        data (Tensor | np.ndarray | list | float | int): the values (see the dtype policy above).
        dtype (np.dtype | type | None): optional dtype that overrides the policy.

    Attributes:
        data (np.ndarray): the stored values.

    Raises:
        TypeError: data is not numeric.
        ValueError: data is a ragged nested list.

    Example:
        >>> t = Tensor([[1, 2], [3, 4]])
        >>> t.shape, t.dtype
        ((2, 2), dtype('float32'))
    """

    # Let our reflected operators win over NumPy's when an ndarray is on the left.
    __array_priority__ = 1000

    def __init__(self, data, dtype=None):
        ### BEGIN SOLUTION
        self.data = _to_array(data, dtype)
        ### END SOLUTION

    # ------------------------------------------------------------------ facts
    @property
    def shape(self) -> tuple:
        """tuple[int, ...]: the size of each dimension, e.g. (2, 3)."""
        return self.data.shape

    @property
    def size(self) -> int:
        """int: the total number of elements (the product of the shape)."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        """np.dtype: the element type, e.g. float32."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """int: the number of dimensions (0 for a scalar tensor)."""
        return self.data.ndim

    def memory_footprint(self) -> int:
        """The bytes used by this tensor's elements.

        Returns:
            int: size * bytes per element (a float32 element takes 4 bytes).

        Example:
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).memory_footprint()
            16
        """
        ### BEGIN SOLUTION
        return int(self.data.size * self.data.itemsize)
        ### END SOLUTION

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (the stored array itself, not a copy).

        Returns:
            np.ndarray: shape self.shape, dtype self.dtype.

        Example:
            >>> Tensor([1, 2]).numpy()
            array([1., 2.], dtype=float32)
        """
        return self.data

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number.

        Returns:
            float | int | bool: the value.

        Raises:
            ValueError: the tensor holds more or fewer than one element.

        Example:
            >>> Tensor(3.5).item()
            3.5
        """
        ### BEGIN SOLUTION
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with exactly one element, got shape {self.shape}")
        return self.data.reshape(()).item()
        ### END SOLUTION

    def __bool__(self) -> bool:
        """Truth value of a one-element tensor; ambiguous (ValueError) for more elements, as in NumPy."""
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; use .sum() or .max() first"
            )
        return bool(self.data.reshape(()))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor: it has no first dimension")
        return self.shape[0]

    def __repr__(self) -> str:
        values = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"Tensor({values}, shape={self.shape}, dtype={self.dtype})"

    # Tensors compare element-wise, so they hash by identity (like NumPy arrays they are mutable).
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ element-wise arithmetic
    def _binary(self, other, op: str, compute) -> "Tensor":
        """Apply `compute(a, b)` to the two operands' arrays after checking they broadcast.

        Args:
            other (Tensor | np.ndarray | float | int | bool): the other operand.
            op (str): the operator symbol, for error messages.
            compute (callable): a NumPy function of two arrays.

        Returns:
            Tensor: the element-wise result with the broadcast shape.

        Raises:
            TypeError: `other` is not a Tensor, NumPy array or number.
            ValueError: the shapes cannot be broadcast together.

        Example:
            >>> Tensor([1, 2])._binary(3, "+", np.add).data
            array([4., 5.], dtype=float32)
        """
        ### BEGIN SOLUTION
        if isinstance(other, Tensor):
            right = other.data
        elif isinstance(other, (np.ndarray, np.generic, numbers.Number)) and not isinstance(other, complex):
            right = other
        else:
            raise TypeError(
                f"unsupported operand for {op}: expected a Tensor, NumPy array or number, got {type(other).__name__}"
            )
        try:
            result = _ieee(compute, self.data, right)
        except ValueError:
            # NumPy refuses shapes that do not broadcast; explain it with both shapes named.
            # (Checking only on failure keeps the common case free of a second shape check.)
            _broadcast_shape(self.shape, np.shape(right), op)
            raise
        return Tensor(result)
        ### END SOLUTION

    def __add__(self, other) -> "Tensor":
        """Element-wise `self + other` with broadcasting.

        Args:
            other (Tensor | np.ndarray | float | int): the right operand.

        Returns:
            Tensor: shape broadcast(self.shape, other.shape).

        Raises:
            ValueError: the shapes cannot be broadcast together (both shapes are named).

        Example:
            >>> (Tensor([1, 2]) + 1).data
            array([2., 3.], dtype=float32)
        """
        return self._binary(other, "+", np.add)

    def __radd__(self, other) -> "Tensor":
        """`other + self` for a number or array on the left (see __add__)."""
        return self._binary(other, "+", lambda a, b: np.add(b, a))

    def __sub__(self, other) -> "Tensor":
        """Element-wise `self - other` with broadcasting (see __add__ for Args/Raises).

        Returns:
            Tensor: shape broadcast(self.shape, other.shape).

        Example:
            >>> (Tensor([3, 4]) - 1).data
            array([2., 3.], dtype=float32)
        """
        return self._binary(other, "-", np.subtract)

    def __rsub__(self, other) -> "Tensor":
        """`other - self` for a number or array on the left."""
        return self._binary(other, "-", lambda a, b: np.subtract(b, a))

    def __mul__(self, other) -> "Tensor":
        """Element-wise `self * other` with broadcasting (see __add__ for Args/Raises).

        Returns:
            Tensor: shape broadcast(self.shape, other.shape).

        Example:
            >>> (Tensor([1, 2]) * 3).data
            array([3., 6.], dtype=float32)
        """
        return self._binary(other, "*", np.multiply)

    def __rmul__(self, other) -> "Tensor":
        """`other * self` for a number or array on the left."""
        return self._binary(other, "*", lambda a, b: np.multiply(b, a))

    def __truediv__(self, other) -> "Tensor":
        """Element-wise `self / other` (IEEE rules: x/0 is inf or nan, never an exception).

        Args:
            other (Tensor | np.ndarray | float | int): the divisor.

        Returns:
            Tensor: shape broadcast(self.shape, other.shape).

        Raises:
            ValueError: the shapes cannot be broadcast together.

        Example:
            >>> (Tensor([1, 2]) / 2).data
            array([0.5, 1. ], dtype=float32)
        """
        return self._binary(other, "/", np.true_divide)

    def __rtruediv__(self, other) -> "Tensor":
        """`other / self` for a number or array on the left."""
        return self._binary(other, "/", lambda a, b: np.true_divide(b, a))

    def __pow__(self, exponent) -> "Tensor":
        """Element-wise `self ** exponent` with broadcasting.

        Args:
            exponent (Tensor | np.ndarray | float | int): the power.

        Returns:
            Tensor: shape broadcast(self.shape, exponent.shape).

        Raises:
            ValueError: the shapes cannot be broadcast together.

        Example:
            >>> (Tensor([2, 3]) ** 2).data
            array([4., 9.], dtype=float32)
        """
        return self._binary(exponent, "**", np.power)

    def __rpow__(self, base) -> "Tensor":
        """`base ** self` for a number or array on the left."""
        return self._binary(base, "**", lambda a, b: np.power(b, a))

    def __neg__(self) -> "Tensor":
        """Element-wise negation `-self`.

        Returns:
            Tensor: same shape and dtype.

        Example:
            >>> (-Tensor([1, -2])).data
            array([-1.,  2.], dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(np.negative(self.data))
        ### END SOLUTION

    # ------------------------------------------------------------------ comparisons (boolean results)
    def __eq__(self, other) -> "Tensor":  # type: ignore[override]
        """Element-wise `self == other`; see __lt__."""
        return self._binary(other, "==", np.equal)

    def __ne__(self, other) -> "Tensor":  # type: ignore[override]
        """Element-wise `self != other`; see __lt__."""
        return self._binary(other, "!=", np.not_equal)

    def __lt__(self, other) -> "Tensor":
        """Element-wise `self < other` with broadcasting.

        Args:
            other (Tensor | np.ndarray | float | int): the right operand.

        Returns:
            Tensor: dtype bool, shape broadcast(self.shape, other.shape).

        Raises:
            ValueError: the shapes cannot be broadcast together.

        Example:
            >>> (Tensor([1, 5]) < 3).data
            array([ True, False])
        """
        return self._binary(other, "<", np.less)

    def __le__(self, other) -> "Tensor":
        """Element-wise `self <= other`; see __lt__."""
        return self._binary(other, "<=", np.less_equal)

    def __gt__(self, other) -> "Tensor":
        """Element-wise `self > other`; see __lt__."""
        return self._binary(other, ">", np.greater)

    def __ge__(self, other) -> "Tensor":
        """Element-wise `self >= other`; see __lt__."""
        return self._binary(other, ">=", np.greater_equal)

    # ------------------------------------------------------------------ matrix multiplication
    def matmul(self, other) -> "Tensor":
        """Matrix product `self @ other` (1-D, 2-D and batched, like NumPy's matmul).

        A 1-D left operand is a row vector and a 1-D right operand a column vector; leading
        (batch) dimensions broadcast.

        Args:
            other (Tensor | np.ndarray): right operand, shape (..., k, n) or (k,).

        Returns:
            Tensor: shape (..., m, n) for (..., m, k) @ (..., k, n).

        Raises:
            TypeError: `other` is not a Tensor or NumPy array.
            ValueError: an operand is 0-d, the inner dimensions differ, or the batch dimensions
                cannot be broadcast; the message names both shapes.

        Example:
            >>> (Tensor([[1, 2], [3, 4]]) @ Tensor([[1], [1]])).data
            array([[3.],
                   [7.]], dtype=float32)
        """
        ### BEGIN SOLUTION
        if isinstance(other, Tensor):
            right = other.data
        elif isinstance(other, np.ndarray):
            right = other
        else:
            raise TypeError(f"matmul expects a Tensor or NumPy array, got {type(other).__name__}")
        a_shape, b_shape = self.shape, right.shape
        if len(a_shape) == 0 or len(b_shape) == 0:
            raise ValueError(f"matmul needs at least 1-D operands, got shapes {a_shape} @ {b_shape}")
        inner_left = a_shape[-1]
        inner_right = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
        if inner_left != inner_right:
            raise ValueError(
                f"matmul shape mismatch: {a_shape} @ {b_shape} -- the last dimension of the left "
                f"({inner_left}) must equal the {'first' if len(b_shape) == 1 else 'second-to-last'} "
                f"dimension of the right ({inner_right})"
            )
        if len(a_shape) > 2 or len(b_shape) > 2:
            try:
                np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
            except ValueError:
                raise ValueError(
                    f"matmul batch dimensions do not broadcast: {a_shape} @ {b_shape}"
                ) from None
        return Tensor(np.matmul(self.data, right))
        ### END SOLUTION

    def __matmul__(self, other) -> "Tensor":
        """`self @ other`; see matmul."""
        return self.matmul(other)

    def __rmatmul__(self, other) -> "Tensor":
        """`array @ self` with a NumPy array on the left; see matmul."""
        return Tensor(other).matmul(self)

    # ------------------------------------------------------------------ shape manipulation
    def reshape(self, *shape) -> "Tensor":
        """The same elements viewed with a new shape (row-major order is preserved).

        Args:
            *shape (int | tuple[int, ...]): the new shape, as separate ints or one tuple; at most
                one entry may be -1, meaning "whatever size makes the element count match".

        Returns:
            Tensor: the new shape, same dtype and element order.

        Raises:
            ValueError: more than one -1, a negative size, or a shape whose element count differs
                from self.size (both shapes are named).

        Example:
            >>> Tensor([1, 2, 3, 4, 5, 6]).reshape(2, -1).shape
            (2, 3)
        """
        ### BEGIN SOLUTION
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = tuple(int(s) for s in shape)
        if shape.count(-1) > 1:
            raise ValueError(f"reshape accepts at most one -1, got shape {shape}")
        if any(s < -1 for s in shape):
            raise ValueError(f"reshape sizes must be non-negative (or a single -1), got shape {shape}")
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if -1 in shape:
            if known == 0 or self.size % known != 0:
                raise ValueError(f"cannot reshape tensor of shape {self.shape} ({self.size} elements) into {shape}")
            shape = tuple(self.size // known if s == -1 else s for s in shape)
        elif known != self.size:
            raise ValueError(
                f"cannot reshape tensor of shape {self.shape} ({self.size} elements) into {shape} ({known} elements)"
            )
        return Tensor(self.data.reshape(shape))
        ### END SOLUTION

    def transpose(self, dim0: int = -2, dim1: int = -1) -> "Tensor":
        """Swap two dimensions (by default the last two: a matrix transpose, batch-aware).

        Args:
            dim0 (int): first dimension to swap (negative counts from the end).
            dim1 (int): second dimension to swap.

        Returns:
            Tensor: shape with dim0 and dim1 exchanged. A tensor with fewer than two dimensions
            is returned unchanged when the default dimensions are used.

        Raises:
            ValueError: a dimension is out of range for self.ndim.

        Example:
            >>> Tensor([[1, 2, 3]]).transpose().shape
            (3, 1)
        """
        ### BEGIN SOLUTION
        if self.ndim < 2 and (dim0, dim1) == (-2, -1):
            return Tensor(self.data)
        for dim in (dim0, dim1):
            if not -self.ndim <= dim < self.ndim:
                raise ValueError(f"transpose dimension {dim} is out of range for a {self.ndim}-d tensor")
        return Tensor(np.swapaxes(self.data, dim0, dim1))
        ### END SOLUTION

    @property
    def T(self) -> "Tensor":
        """Tensor: all dimensions reversed (the matrix transpose for 2-D tensors), like NumPy's `.T`."""
        return Tensor(self.data.T)

    # ------------------------------------------------------------------ reductions
    def _check_axis(self, axis, op: str) -> None:
        """Raise ValueError naming `op` if `axis` (None, int or tuple of ints) is out of range."""
        ### BEGIN SOLUTION
        axes = () if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        for a in axes:
            # A 0-d tensor has no axes at all: only axis=None reduces it.
            if not isinstance(a, (int, np.integer)) or not -self.ndim <= a < self.ndim:
                raise ValueError(f"{op}: axis {axis} is out of range for a tensor of shape {self.shape}")
        ### END SOLUTION

    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Sum of elements over `axis` (all elements when axis is None).

        Args:
            axis (int | tuple[int, ...] | None): dimension(s) to reduce.
            keepdims (bool): keep reduced dimensions with size 1 (useful for broadcasting back).

        Returns:
            Tensor: the reduced tensor; integer and boolean inputs sum in int64.

        Raises:
            ValueError: an axis is out of range.

        Example:
            >>> Tensor([[1, 2], [3, 4]]).sum(axis=0).data
            array([4., 6.], dtype=float32)
        """
        ### BEGIN SOLUTION
        self._check_axis(axis, "sum")
        return Tensor(self.data.sum(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Arithmetic mean over `axis` (all elements when axis is None).

        Args:
            axis (int | tuple[int, ...] | None): dimension(s) to reduce.
            keepdims (bool): keep reduced dimensions with size 1.

        Returns:
            Tensor: the reduced tensor; float inputs keep their dtype, integer inputs give float64.

        Raises:
            ValueError: an axis is out of range, or the reduction is over zero elements.

        Example:
            >>> Tensor([[1, 2], [3, 4]]).mean(axis=1).data
            array([1.5, 3.5], dtype=float32)
        """
        ### BEGIN SOLUTION
        self._check_axis(axis, "mean")
        counted = self.size if axis is None else int(np.prod(np.array(self.shape)[list(np.atleast_1d(axis))]))
        if counted == 0:
            raise ValueError(f"mean over zero elements is undefined (tensor of shape {self.shape}, axis {axis})")
        return Tensor(self.data.mean(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Largest element over `axis` (all elements when axis is None).

        Args:
            axis (int | tuple[int, ...] | None): dimension(s) to reduce.
            keepdims (bool): keep reduced dimensions with size 1.

        Returns:
            Tensor: the reduced tensor, same dtype.

        Raises:
            ValueError: an axis is out of range, or the reduction is over zero elements.

        Example:
            >>> Tensor([[1, 5], [3, 2]]).max(axis=1).data
            array([5., 3.], dtype=float32)
        """
        ### BEGIN SOLUTION
        self._check_axis(axis, "max")
        if self.size == 0:
            raise ValueError(f"max of an empty tensor (shape {self.shape}) is undefined")
        return Tensor(self.data.max(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    # ------------------------------------------------------------------ element-wise math
    def exp(self) -> "Tensor":
        """Element-wise e**x (overflows to inf like NumPy, without a warning).

        Returns:
            Tensor: same shape; float dtype (integer inputs give float64).

        Example:
            >>> Tensor([0.0]).exp().data
            array([1.], dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(_ieee(np.exp, self.data))
        ### END SOLUTION

    def log(self) -> "Tensor":
        """Element-wise natural logarithm: log(0) = -inf, log(negative) = nan, no warning.

        Returns:
            Tensor: same shape; float dtype.

        Example:
            >>> Tensor([1.0]).log().data
            array([0.], dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(_ieee(np.log, self.data))
        ### END SOLUTION

    def expm1(self) -> "Tensor":
        """Element-wise e**x - 1, accurate for tiny x where exp(x) - 1 would round to 0.

        exp(1e-8) is 1.0 in float32, so exp(x) - 1 loses every digit near zero; expm1 keeps
        the full relative precision there (expm1(1e-8) = 1e-8).

        Returns:
            Tensor: same shape; float dtype (integer inputs give float64).

        Example:
            >>> Tensor([1e-8]).expm1().data
            array([1.e-08], dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(_ieee(np.expm1, self.data))
        ### END SOLUTION

    def log1p(self) -> "Tensor":
        """Element-wise log(1 + x), accurate for tiny x: log1p(-1) = -inf, below -1 nan, no warning.

        1 + 1e-9 is 1.0 in float32, so log(1 + x) returns 0 where the answer is 1e-9; log1p
        never forms 1 + x.

        Returns:
            Tensor: same shape; float dtype.

        Example:
            >>> Tensor([1e-9]).log1p().data
            array([1.e-09], dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(_ieee(np.log1p, self.data))
        ### END SOLUTION

    def sqrt(self) -> "Tensor":
        """Element-wise square root: sqrt(negative) = nan, no warning.

        Returns:
            Tensor: same shape; float dtype.

        Example:
            >>> Tensor([4.0]).sqrt().data
            array([2.], dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(_ieee(np.sqrt, self.data))
        ### END SOLUTION

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, index) -> "Tensor":
        """Index or slice like NumPy: ints, slices, None, Ellipsis, integer or boolean arrays/Tensors.

        Args:
            index (int | slice | tuple | np.ndarray | Tensor): the selection.

        Returns:
            Tensor: the selected elements (a 0-d tensor for a single element).

        Raises:
            IndexError: an index is out of range (the message names the dimension and its size).

        Example:
            >>> Tensor([[1, 2], [3, 4]])[1].data
            array([3., 4.], dtype=float32)
        """
        ### BEGIN SOLUTION
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return Tensor(self.data[index])
        ### END SOLUTION
