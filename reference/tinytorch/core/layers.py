"""Module 03 -- Layers: modules that hold trainable parameters and transform Tensors.

A `Module` owns `Parameter`s (Tensors it learns) and sub-modules; `parameters()` finds them all.
`Linear` computes x @ weight + bias with weight stored as (in_features, out_features), so the
input's last dimension meets the weight's first. Systems lesson: parameter memory is fixed by
the architecture, activation memory grows with the number of examples in flight.
"""
from __future__ import annotations

import math

import numpy as np

from tinytorch.core.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a layer learns. `Module.parameters()` collects every Parameter it owns.

    Args:
        data (Tensor | np.ndarray | list | float): initial values (dtype policy of Tensor).
        dtype (np.dtype | None): optional dtype override.

    Example:
        >>> Parameter(np.zeros(3)).shape
        (3,)
    """


class Module:
    """Base class of every layer: finds parameters, switches train/eval mode, calls forward.

    Subclasses define `forward(...)` and assign Parameters and sub-modules as attributes.

    Example:
        >>> Linear(3, 2).num_parameters()
        8
    """

    training: bool = True

    def forward(self, *inputs):
        """Compute the module's output; every subclass overrides this.

        Args:
            *inputs (Tensor): the module's inputs.

        Returns:
            Tensor: the output.

        Raises:
            NotImplementedError: the subclass did not define forward.

        Example:
            >>> ReLULike = type("Id", (Module,), {"forward": lambda self, x: x})
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs, **options):
        return self.forward(*inputs, **options)

    def children(self) -> list[tuple[str, "Module"]]:
        """Direct sub-modules with their attribute names (lists/tuples of modules are numbered).

        Returns:
            list[tuple[str, Module]]: ("encoder", module) or ("layers.0", module) pairs, in
            attribute order.

        Example:
            >>> [name for name, _ in Sequential(Linear(2, 2)).children()]
            ['0']
        """
        ### BEGIN SOLUTION
        found: list[tuple[str, Module]] = []
        for name, value in vars(self).items():
            if isinstance(value, Module):
                found.append((name, value))
            elif isinstance(value, (list, tuple)):
                found.extend((f"{name}.{i}", item) for i, item in enumerate(value) if isinstance(item, Module))
        return found
        ### END SOLUTION

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """Every Parameter of this module and its sub-modules, each once, with a dotted name.

        Returns:
            list[tuple[str, Parameter]]: e.g. [("weight", W), ("bias", b)] for a Linear, or
            [("0.weight", W0), ...] inside a Sequential; own parameters first, then children's.

        Example:
            >>> [name for name, _ in Linear(2, 3).named_parameters()]
            ['weight', 'bias']
        """
        ### BEGIN SOLUTION
        found: list[tuple[str, Parameter]] = []
        seen: set[int] = set()
        for name, value in vars(self).items():
            if isinstance(value, Parameter) and id(value) not in seen:
                seen.add(id(value))
                found.append((name, value))
        for prefix, child in self.children():
            for name, parameter in child.named_parameters():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    found.append((f"{prefix}.{name}", parameter))
        return found
        ### END SOLUTION

    def parameters(self) -> list[Parameter]:
        """Every Parameter of this module and its sub-modules, each once (see named_parameters).

        Returns:
            list[Parameter]: in a stable order.

        Example:
            >>> len(Linear(2, 3).parameters())
            2
        """
        return [parameter for _, parameter in self.named_parameters()]

    def num_parameters(self) -> int:
        """Total number of learnable numbers.

        Returns:
            int: the sum of every parameter's size.

        Example:
            >>> Linear(784, 10).num_parameters()
            7850
        """
        ### BEGIN SOLUTION
        return sum(parameter.size for parameter in self.parameters())
        ### END SOLUTION

    def parameter_bytes(self) -> int:
        """Memory held by the parameters (fixed by the architecture, independent of batch size).

        Returns:
            int: the sum of every parameter's memory_footprint().

        Example:
            >>> Linear(784, 10).parameter_bytes()
            31400
        """
        ### BEGIN SOLUTION
        return sum(parameter.memory_footprint() for parameter in self.parameters())
        ### END SOLUTION

    def train(self, mode: bool = True) -> "Module":
        """Put this module and every sub-module in training mode (or eval mode with mode=False).

        Args:
            mode (bool): True for training, False for evaluation.

        Returns:
            Module: self, so calls can be chained.

        Example:
            >>> Dropout(0.5).train().training
            True
        """
        ### BEGIN SOLUTION
        self.training = bool(mode)
        for _, child in self.children():
            child.train(mode)
        return self
        ### END SOLUTION

    def eval(self) -> "Module":
        """Put this module and every sub-module in evaluation mode; same as train(False).

        Returns:
            Module: self.

        Example:
            >>> Dropout(0.5).eval().training
            False
        """
        return self.train(False)


class Linear(Module):
    """Fully connected layer: y = x @ weight + bias.

    weight has shape (in_features, out_features) and starts Xavier/Glorot uniform:
    U(-a, a) with a = sqrt(6 / (in_features + out_features)); bias starts at zero.

    Args:
        in_features (int): size of each input's last dimension.
        out_features (int): size of each output's last dimension.
        bias (bool): add a learnable bias (default True).
        seed (int | None): seed for the initial weights (None: fresh randomness).

    Raises:
        ValueError: a feature count is not a positive integer.

    Example:
        >>> Linear(3, 2, seed=0)(Tensor(np.ones((4, 3)))).shape
        (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, seed: int | None = None):
        ### BEGIN SOLUTION
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = math.sqrt(6.0 / (self.in_features + self.out_features))
        rng = np.random.default_rng(seed)
        self.weight = Parameter(rng.uniform(-bound, bound, (self.in_features, self.out_features)).astype(np.float32))
        self.bias = Parameter(np.zeros(self.out_features, dtype=np.float32)) if bias else None
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer to the last dimension of x.

        Args:
            x (Tensor, shape (..., in_features)): inputs; leading dimensions are kept.

        Returns:
            Tensor: shape (..., out_features).

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x's last dimension is not in_features (both sizes are named).

        Example:
            >>> Linear(3, 5)(Tensor(np.zeros((2, 3)))).shape
            (2, 5)
        """
        ### BEGIN SOLUTION
        if not isinstance(x, Tensor):
            raise TypeError(f"Linear expects a Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear expects inputs whose last dimension is in_features={self.in_features}, got shape {x.shape}"
            )
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"


class Sequential(Module):
    """Modules applied one after another: Sequential(a, b)(x) == b(a(x)).

    Args:
        *modules (Module | object with forward): the steps, in order (activations of module 02
            are accepted too).

    Raises:
        TypeError: a step has no forward method.

    Example:
        >>> Sequential(Linear(2, 4), Linear(4, 1))(Tensor(np.zeros((3, 2)))).shape
        (3, 1)
    """

    def __init__(self, *modules):
        for index, module in enumerate(modules):
            if not callable(getattr(module, "forward", None)):
                raise TypeError(f"Sequential step {index} must have a forward() method, got {type(module).__name__}")
        self.layers = list(modules)

    def forward(self, x: Tensor) -> Tensor:
        """Feed x through every step in order.

        Args:
            x (Tensor): input of the first step.

        Returns:
            Tensor: output of the last step.

        Example:
            >>> Sequential()(Tensor([1.0])).data
            array([1.], dtype=float32)
        """
        ### BEGIN SOLUTION
        for layer in self.layers:
            x = layer.forward(x)
        return x
        ### END SOLUTION

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int):
        return self.layers[index]


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale the
    survivors by 1 / (1 - p), so the expected value is unchanged; in eval mode, the identity.

    Args:
        p (float): probability of zeroing an element, 0 <= p < 1.
        seed (int | None): seed of the dropout masks (None: fresh randomness).

    Raises:
        ValueError: p is outside [0, 1).

    Example:
        >>> Dropout(0.5).eval()(Tensor([1.0, 2.0])).data
        array([1., 2.], dtype=float32)
    """

    def __init__(self, p: float = 0.5, seed: int | None = None):
        ### BEGIN SOLUTION
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Apply dropout (training) or pass x through unchanged (eval).

        Args:
            x (Tensor, any shape): input values.

        Returns:
            Tensor: same shape and dtype.

        Example:
            >>> Dropout(0.0)(Tensor([3.0])).data
            array([3.], dtype=float32)
        """
        ### BEGIN SOLUTION
        if not self.training or self.p == 0.0:
            return x
        keep = self.rng.random(x.shape) >= self.p
        # The mask is a constant: scaling it (not x) keeps x's dtype and its role in the computation.
        mask = Tensor((keep / (1.0 - self.p)).astype(x.dtype if x.dtype.kind == "f" else np.float32))
        return x * mask
        ### END SOLUTION


def activation_bytes(shape: tuple, dtype=np.float32) -> int:
    """Bytes needed to hold one activation tensor of `shape` (it grows with the batch size).

    Args:
        shape (tuple[int, ...]): the activation's shape, e.g. (batch, features).
        dtype (np.dtype | type): its element type.

    Returns:
        int: product(shape) * itemsize.

    Example:
        >>> activation_bytes((32, 128))
        16384
    """
    ### BEGIN SOLUTION
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    ### END SOLUTION


def memory_report(model: Module, input_shape: tuple) -> dict[str, int]:
    """Parameter memory vs activation memory of a Sequential stack for one input batch.

    Runs the model once on zeros of `input_shape` and adds up the bytes of every intermediate
    output (what a training step must keep around), next to the parameter bytes.

    Args:
        model (Sequential): the stack to measure.
        input_shape (tuple[int, ...]): shape of one input batch, e.g. (batch, features).

    Returns:
        dict[str, int]: {"parameter_bytes": ..., "activation_bytes": ..., "num_parameters": ...}.

    Raises:
        TypeError: model is not a Sequential.

    Example:
        >>> memory_report(Sequential(Linear(4, 8)), (2, 4))["activation_bytes"]
        64
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Sequential):
        raise TypeError(f"memory_report expects a Sequential, got {type(model).__name__}")
    x = Tensor(np.zeros(input_shape, dtype=np.float32))
    total = 0
    for layer in model.layers:
        x = layer.forward(x)
        total += x.memory_footprint()
    return {"parameter_bytes": model.parameter_bytes(), "activation_bytes": total,
            "num_parameters": model.num_parameters()}
    ### END SOLUTION
