"""Module 06 -- Autograd: Tensors that remember how they were made, and compute gradients.

`enable_autograd()` upgrades the module-01 Tensor in place (progressive disclosure, paper §4):
every operation now also records, on its result, the operands it came from and how to send a
gradient back to them. `loss.backward()` walks that computational graph from the loss to the
leaves in reverse topological order (an explicit stack, no recursion) applying the chain rule,
and accumulates `.grad` on every leaf that requires it.

Because activations, layers and losses of modules 02-04 are built from Tensor operations, they
become differentiable without any change. Systems lesson: the graph keeps every intermediate
result alive until backward runs, so memory grows with the number of operations.
"""
from __future__ import annotations

import math

import numpy as np

from tinytorch.core.layers import Parameter
from tinytorch.core.tensor import Tensor

_STATE = {"enabled": False, "recording": True}


# ---------------------------------------------------------------- graph bookkeeping
def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient over the dimensions that broadcasting added or stretched, back to `shape`.

    Args:
        grad (np.ndarray): gradient with the broadcast result's shape.
        shape (tuple[int, ...]): the operand's original shape.

    Returns:
        np.ndarray: gradient with exactly `shape`.

    Example:
        >>> _unbroadcast(np.ones((2, 3)), (3,))
        array([2., 2., 2.])
    """
    ### BEGIN SOLUTION
    if grad.shape == shape:  # the common case: nothing was broadcast
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:  # leading dimensions that broadcasting added, e.g. the batch of a bias
        grad = grad.sum(axis=tuple(range(extra)))
        if grad.shape == shape:
            return grad
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
    ### END SOLUTION


def _record(result: Tensor, parents: tuple, backward_fn) -> Tensor:
    """Attach graph information to `result` when recording is on and a parent requires grad.

    Args:
        result (Tensor): the freshly computed output.
        parents (tuple): the operands (Tensors or constants) in the order backward_fn answers.
        backward_fn (callable): maps the output's gradient (np.ndarray) to one gradient per parent.

    Returns:
        Tensor: result itself.

    Example:
        >>> out = _record(Tensor([1.0]), (), lambda g: ())
    """
    ### BEGIN SOLUTION
    if not _STATE["recording"]:
        return result
    for parent in parents:
        if isinstance(parent, Tensor) and parent.requires_grad:
            result.requires_grad = True
            result._parents = tuple(p if isinstance(p, Tensor) else None for p in parents)
            result._backward = backward_fn
            break
    return result
    ### END SOLUTION


def _array(value) -> np.ndarray:
    """The NumPy value of a Tensor or constant operand."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _requires_grad(value) -> bool:
    """Whether an operand wants a gradient (constants and plain tensors do not)."""
    return isinstance(value, Tensor) and value.requires_grad


# ---------------------------------------------------------------- local derivatives of each operation
# Each takes (a, b, out, grad) as arrays in "a OP b" order and returns (grad_a, grad_b) before unbroadcasting.
def _add_grads(a, b, out, grad):
    ### BEGIN SOLUTION
    return grad, grad
    ### END SOLUTION


def _sub_grads(a, b, out, grad):
    ### BEGIN SOLUTION
    return grad, -grad
    ### END SOLUTION


def _mul_grads(a, b, out, grad):
    ### BEGIN SOLUTION
    return grad * b, grad * a
    ### END SOLUTION


def _div_grads(a, b, out, grad):
    ### BEGIN SOLUTION
    return grad / b, -grad * a / (b * b)
    ### END SOLUTION


def _pow_grads(a, b, out, grad):
    ### BEGIN SOLUTION
    with np.errstate(divide="ignore", invalid="ignore"):
        grad_a = grad * b * np.power(a, b - 1)
        # d(a^b)/db = a^b log(a): only defined for a > 0; elsewhere the exponent gets no gradient.
        grad_b = np.where(a > 0, grad * out * np.log(np.where(a > 0, a, 1)), 0)
    return grad_a, grad_b
    ### END SOLUTION


BINARY_OPS = {
    "__add__": (_add_grads, False), "__radd__": (_add_grads, True),
    "__sub__": (_sub_grads, False), "__rsub__": (_sub_grads, True),
    "__mul__": (_mul_grads, False), "__rmul__": (_mul_grads, True),
    "__truediv__": (_div_grads, False), "__rtruediv__": (_div_grads, True),
    "__pow__": (_pow_grads, False), "__rpow__": (_pow_grads, True),
}


def _differentiable_binary(original, local_grads, reflected: bool):
    """Wrap a binary operator so its result records how to send gradients to both operands.

    Args:
        original (callable): the module-01 method, e.g. Tensor.__mul__.
        local_grads (callable): (a, b, out, grad) -> (grad_a, grad_b) in "a OP b" order.
        reflected (bool): True for __radd__-style methods, where self is the right operand.

    Returns:
        callable: the replacement method.

    Example:
        >>> method = _differentiable_binary(Tensor.__add__, _add_grads, False)
    """
    ### BEGIN SOLUTION
    def method(self, other):
        out = original(self, other)
        left, right = (other, self) if reflected else (self, other)
        # Keep the output's array, not the output: a closure stored on `out` that refers back to
        # `out` is a reference cycle, and the whole graph would wait for Python's cycle collector.
        out_data = out.data

        def backward(grad):
            a, b = _array(left), _array(right)
            grad_a, grad_b = local_grads(a, b, out_data, grad)
            # A constant operand (a mask, a shift) gets None: summing its gradient would be wasted work.
            return (_unbroadcast(np.asarray(grad_a), a.shape) if _requires_grad(left) else None,
                    _unbroadcast(np.asarray(grad_b), b.shape) if _requires_grad(right) else None)

        return _record(out, (left, right), backward)

    method.__name__ = original.__name__
    method.__doc__ = original.__doc__
    return method
    ### END SOLUTION


def _matmul_grads(a: np.ndarray, b: np.ndarray, grad: np.ndarray, needs: tuple = (True, True)) -> tuple:
    """Gradients of a @ b for 1-D, 2-D and batched operands (vectors are promoted, then restored).

    Each gradient is a matrix product as costly as the forward one, so only the ones asked
    for are computed (a network's input, for instance, needs no gradient).

    Args:
        a (np.ndarray): left operand, shape (..., m, k) or (k,).
        b (np.ndarray): right operand, shape (..., k, n) or (k,).
        grad (np.ndarray): gradient of the product.
        needs (tuple[bool, bool]): whether a's and b's gradients are wanted.

    Returns:
        tuple[np.ndarray | None, np.ndarray | None]: gradients shaped like a and b (None where
        not wanted).

    Example:
        >>> [g.shape for g in _matmul_grads(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4)))]
        [(2, 3), (3, 4)]
    """
    ### BEGIN SOLUTION
    need_a, need_b = needs
    if a.ndim == 1 and b.ndim == 1:  # dot product: the output is a scalar
        return (grad * b if need_a else None), (grad * a if need_b else None)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.asarray(grad)
    if a.ndim == 1:
        g2 = g2[..., None, :]  # the row that a vector on the left became
    if b.ndim == 1:
        g2 = g2[..., None]  # the column that a vector on the right became
    grad_a = _unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape) if need_a else None
    grad_b = _unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape) if need_b else None
    return grad_a, grad_b
    ### END SOLUTION


def _expand_reduced(grad: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Spread the gradient of a reduction back over the reduced dimensions (a new array of `shape`)."""
    grad = np.asarray(grad)
    if axis is not None and not keepdims:  # put the reduced dimensions back, with size 1
        kept = list(shape)
        for a in axis if isinstance(axis, tuple) else (axis,):
            kept[a] = 1
        grad = grad.reshape(kept)
    full = np.empty(shape, dtype=grad.dtype)
    full[...] = grad  # NumPy broadcasts the size-1 dimensions over the full shape
    return full


def _reduction_count(shape: tuple, axis) -> int:
    if axis is None:
        return math.prod(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return math.prod(shape[a] for a in axes)


def _unary_backward(name: str, tensor: Tensor, out: Tensor, args: tuple, kwargs: dict):
    """The backward function of a single-input operation, given how it was called.

    Args:
        name (str): the Tensor method, e.g. "exp" or "sum".
        tensor (Tensor): its input.
        out (Tensor): its output.
        args (tuple): positional arguments of the call.
        kwargs (dict): keyword arguments of the call.

    Returns:
        callable: maps the output's gradient to a 1-tuple with the input's gradient.

    Example:
        >>> fn = _unary_backward("exp", Tensor([0.0]), Tensor([1.0]), (), {})
    """
    ### BEGIN SOLUTION
    a, shape = tensor.data, tensor.shape
    out_data = out.data  # the array only: referring to `out` itself would make a reference cycle
    axis = kwargs.get("axis", args[0] if args else None)
    keepdims = kwargs.get("keepdims", args[1] if len(args) > 1 else False)

    def backward(grad):
        if name == "__neg__":
            return (-grad,)
        if name == "exp":
            return (grad * out_data,)
        if name == "expm1":  # d/dx (e^x - 1) = e^x, from x itself: out + 1 would cancel for x << 0
            return (grad * np.exp(a),)
        if name == "log":
            return (grad / a,)
        if name == "log1p":
            return (grad / (a + 1.0),)
        if name == "sqrt":
            return (grad * 0.5 / out_data,)
        if name in ("reshape", "T"):
            return ((grad.reshape(shape) if name == "reshape" else grad.T),)
        if name == "transpose":
            dims = (list(args) + [kwargs.get("dim0", -2), kwargs.get("dim1", -1)][len(args):])[:2]
            return (grad if tensor.ndim < 2 and dims == [-2, -1] else np.swapaxes(grad, dims[0], dims[1]),)
        if name == "sum":
            return (_expand_reduced(grad, shape, axis, keepdims),)
        if name == "mean":  # divide the few reduced values first, then spread them
            return (_expand_reduced(np.asarray(grad) / _reduction_count(shape, axis), shape, axis, keepdims),)
        if name == "max":
            # Ties share the gradient equally, so the total flowing back equals the incoming gradient.
            peak = _expand_reduced(out_data, shape, axis, keepdims)
            winners = (a == peak).astype(grad.dtype)
            winners = winners / (winners.sum(axis=axis, keepdims=True) if axis is not None else winners.sum())
            return (_expand_reduced(grad, shape, axis, keepdims) * winners,)
        if name == "__getitem__":
            index = args[0]
            index = index.data if isinstance(index, Tensor) else (
                tuple(i.data if isinstance(i, Tensor) else i for i in index) if isinstance(index, tuple) else index)
            full = np.zeros(shape, dtype=np.result_type(grad.dtype, a.dtype))
            np.add.at(full, index, grad)  # repeated indices accumulate
            return (full,)
        raise ValueError(f"no derivative is defined for Tensor.{name}")

    return backward
    ### END SOLUTION


UNARY_OPS = ("__neg__", "exp", "expm1", "log", "log1p", "sqrt", "reshape", "transpose", "sum", "mean", "max", "__getitem__")


def _differentiable_unary(name: str, original):
    """Wrap a single-input Tensor method so its result records its backward function.

    Args:
        name (str): the method name (a key of UNARY_OPS).
        original (callable): the module-01 method.

    Returns:
        callable: the replacement method.

    Example:
        >>> method = _differentiable_unary("exp", Tensor.exp)
    """
    ### BEGIN SOLUTION
    def method(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        return _record(out, (self,), _unary_backward(name, self, out, args, kwargs))

    method.__name__ = original.__name__
    method.__doc__ = original.__doc__
    return method
    ### END SOLUTION


# ---------------------------------------------------------------- the methods Tensor gains
def _gradient_aware_init(original_init):
    """Build the new Tensor.__init__: original behaviour plus requires_grad, grad and graph slots."""
    ### BEGIN SOLUTION
    def __init__(self, data, dtype=None, requires_grad=None):
        original_init(self, data, dtype)
        if requires_grad is None:
            requires_grad = isinstance(self, Parameter)
        if requires_grad:
            if self.dtype.kind != "f":
                raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
            self.requires_grad = True
        # Otherwise the class defaults set by enable_autograd() apply (requires_grad False,
        # grad None, no parents): every operation creates a tensor, so its setup stays minimal.

    return __init__
    ### END SOLUTION


def _topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that `root` depends on, each after all of its parents (iterative DFS).

    Args:
        root (Tensor): where the walk starts (usually the loss).

    Returns:
        list[Tensor]: parents before children; root last.

    Example:
        >>> len(_topological_order(Tensor([1.0])))
        1
    """
    ### BEGIN SOLUTION
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in getattr(node, "_parents", ()):
            if parent is not None and id(parent) not in visited:
                stack.append((parent, False))
    return order
    ### END SOLUTION


def backward(self: Tensor, gradient=None) -> None:
    """Compute d(self)/d(leaf) for every leaf tensor that requires grad, adding into leaf.grad.

    Args:
        gradient (Tensor | np.ndarray | None): d(final)/d(self); may be omitted for a
            one-element tensor (it is then 1).

    Raises:
        ValueError: self does not require grad, or a gradient is needed (self has more than one
            element) and missing, or its shape differs from self.shape.

    Example:
        >>> x = Tensor([3.0], requires_grad=True); (x * x).backward(); x.grad.data
        array([6.], dtype=float32)
    """
    ### BEGIN SOLUTION
    if not self.requires_grad:
        raise ValueError("backward() needs a tensor that requires grad (did an input have requires_grad=True?)")
    if gradient is None:
        if self.size != 1:
            raise ValueError(f"backward() without a gradient needs a one-element tensor, got shape {self.shape}")
        seed = np.ones(self.shape, dtype=self.dtype)
    else:
        seed = np.asarray(_array(gradient), dtype=self.dtype)
        if seed.shape != self.shape:
            raise ValueError(f"backward() gradient must have shape {self.shape}, got {seed.shape}")
    pending = {id(self): seed}
    for node in reversed(_topological_order(self)):
        grad = pending.pop(id(node), None)
        if grad is None:
            continue
        if node._backward is None:  # a leaf: keep the gradient
            if node.requires_grad:
                # np.array copies: the same gradient array may also have flowed to another leaf.
                grad = np.array(grad, dtype=node.dtype).reshape(node.shape)
                node.grad = Tensor(grad) if node.grad is None else Tensor(node.grad.data + grad)
            continue
        for parent, parent_grad in zip(node._parents, node._backward(grad)):
            if parent is not None and parent.requires_grad and parent_grad is not None:
                key = id(parent)
                pending[key] = pending[key] + parent_grad if key in pending else parent_grad
    ### END SOLUTION


def zero_grad(self: Tensor) -> None:
    """Forget the accumulated gradient (set .grad to None).

    Example:
        >>> x = Tensor([1.0], requires_grad=True); x.zero_grad(); x.grad is None
        True
    """
    ### BEGIN SOLUTION
    self.grad = None
    ### END SOLUTION


def detach(self: Tensor) -> Tensor:
    """The same values as a new tensor outside the graph (requires_grad False, shares memory).

    Returns:
        Tensor: same data, no history.

    Example:
        >>> Tensor([1.0], requires_grad=True).detach().requires_grad
        False
    """
    ### BEGIN SOLUTION
    return Tensor(self.data, requires_grad=False)
    ### END SOLUTION


# ---------------------------------------------------------------- public switches
def enable_autograd() -> None:
    """Upgrade Tensor with gradient tracking. Calling it again does nothing (idempotent).

    Adds `requires_grad` (constructor keyword; Parameters default to True), `grad`,
    `backward()`, `zero_grad()`, `detach()`, and makes every arithmetic, matrix, shape,
    reduction and indexing operation record the graph. Code written for modules 01-05 keeps
    working unchanged.

    Where a derivative is a choice, the choice is PyTorch's: `max` with tied maxima splits the
    gradient equally between them (like torch.amax), so x = [1, 3, 3] gives x.max() the gradient
    [0, 0.5, 0.5] and the total flowing back still equals the incoming gradient.

    Example:
        >>> enable_autograd(); x = Tensor([3.0], requires_grad=True); (x * x).backward()
    """
    ### BEGIN SOLUTION
    if _STATE["enabled"]:
        return
    Tensor.__init__ = _gradient_aware_init(Tensor.__init__)
    for name, (local_grads, reflected) in BINARY_OPS.items():
        setattr(Tensor, name, _differentiable_binary(getattr(Tensor, name), local_grads, reflected))
    for name in UNARY_OPS:
        setattr(Tensor, name, _differentiable_unary(name, getattr(Tensor, name)))
    original_matmul = Tensor.matmul

    def matmul(self, other):
        out = original_matmul(self, other)
        return _record(out, (self, other), lambda grad: _matmul_grads(
            self.data, _array(other), grad, needs=(self.requires_grad, _requires_grad(other))))

    matmul.__doc__ = original_matmul.__doc__
    Tensor.matmul = matmul
    Tensor.T = property(_differentiable_unary("T", Tensor.T.fget))
    Tensor.backward = backward
    Tensor.zero_grad = zero_grad
    Tensor.detach = detach
    # Class defaults: tensors made before enabling, and every tensor that needs no gradient,
    # read these instead of storing their own copies.
    Tensor.requires_grad = False
    Tensor.grad = None
    Tensor._parents = ()
    Tensor._backward = None
    _STATE["enabled"] = True
    ### END SOLUTION


def is_autograd_enabled() -> bool:
    """Whether enable_autograd() has run.

    Returns:
        bool: True once Tensor has been upgraded.

    Example:
        >>> isinstance(is_autograd_enabled(), bool)
        True
    """
    return _STATE["enabled"]


class no_grad:
    """Context manager that stops graph recording (for evaluation and parameter updates).

    Example:
        >>> with no_grad():
        ...     y = Tensor([1.0], requires_grad=True) * 2
        >>> y.requires_grad
        False
    """

    def __enter__(self):
        self.previous = _STATE["recording"]
        _STATE["recording"] = False
        return self

    def __exit__(self, *exc_info):
        _STATE["recording"] = self.previous
        return False


class Function:
    """Base class for a custom differentiable operation on arrays.

    Subclasses define `forward(ctx, *arrays) -> np.ndarray` and `backward(ctx, grad) -> tuple`
    (one gradient array, or None, per input) as static methods; `ctx` is a plain object for
    saving what backward needs. `Subclass.apply(*tensors)` runs forward and records backward.

    Example:
        >>> class Double(Function):
        ...     @staticmethod
        ...     def forward(ctx, x): return 2 * x
        ...     @staticmethod
        ...     def backward(ctx, grad): return (2 * grad,)
    """

    @staticmethod
    def forward(ctx, *arrays):
        """Compute the output array; every subclass overrides this.

        Args:
            ctx (object): a namespace to save values for backward.
            *arrays (np.ndarray): the inputs' values.

        Returns:
            np.ndarray: the output.

        Raises:
            NotImplementedError: the subclass did not define forward.

        Example:
            >>> Function  # see the class example
        """
        raise NotImplementedError("Function subclasses define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx, grad):
        """Map the output's gradient to one gradient per input; every subclass overrides this.

        Args:
            ctx (object): what forward saved.
            grad (np.ndarray): gradient of the output.

        Returns:
            tuple: one np.ndarray (or None) per input.

        Raises:
            NotImplementedError: the subclass did not define backward.

        Example:
            >>> Function  # see the class example
        """
        raise NotImplementedError("Function subclasses define backward(ctx, grad)")

    @classmethod
    def apply(cls, *inputs) -> Tensor:
        """Run forward on the inputs' arrays and record backward on the result.

        Args:
            *inputs (Tensor | np.ndarray | float): the operands.

        Returns:
            Tensor: the output, connected to the graph when an input requires grad.

        Example:
            >>> Function  # see the class example
        """
        ### BEGIN SOLUTION
        ctx = type("Context", (), {})()
        out = Tensor(cls.forward(ctx, *(_array(i) for i in inputs)))

        def backward_fn(grad):
            grads = cls.backward(ctx, grad)
            return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)

        # Before enable_autograd() tensors have no requires_grad and nothing is recorded: a
        # registered Function is then a plain array operation.
        return _record(out, inputs, backward_fn) if _STATE["enabled"] else out
        ### END SOLUTION


def graph_size(root: Tensor) -> int:
    """Number of tensors the graph behind `root` keeps alive (including root).

    Args:
        root (Tensor): usually the loss.

    Returns:
        int: node count.

    Example:
        >>> graph_size(Tensor([1.0]))
        1
    """
    ### BEGIN SOLUTION
    return len(_topological_order(root))
    ### END SOLUTION


def gradient_bytes(tensors) -> int:
    """Memory held by the gradients of `tensors` (each .grad is as large as its tensor).

    Args:
        tensors (Iterable[Tensor]): e.g. model.parameters().

    Returns:
        int: sum of grad.memory_footprint() over tensors that have a gradient.

    Example:
        >>> gradient_bytes([])
        0
    """
    ### BEGIN SOLUTION
    return sum(t.grad.memory_footprint() for t in tensors if getattr(t, "grad", None) is not None)
    ### END SOLUTION
