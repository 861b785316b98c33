"""Oracles and strategies shared by spec/ and hidden_tests/.

Nothing here calls the code under test to decide equality: values are read out of a
Tensor's `.data` array and compared with numpy.testing against NumPy computations.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# ---------------------------------------------------------------- reading values out
def values(tensor) -> np.ndarray:
    """The NumPy array inside a Tensor, checked to really be an ndarray."""
    data = getattr(tensor, "data", None)
    assert isinstance(data, np.ndarray), (
        f"expected a Tensor whose .data is a NumPy array, got {type(tensor).__name__} with .data of type {type(data).__name__}"
    )
    return data


def assert_tensor(tensor, expected, *, rtol: float = 1e-6, atol: float = 0.0, dtype=None) -> None:
    """Assert a Tensor holds `expected` (shape, optional dtype, values within tolerance)."""
    got = values(tensor)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape: expected {expected.shape}, got {got.shape}"
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), f"dtype: expected {np.dtype(dtype)}, got {got.dtype}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


# ---------------------------------------------------------------- strategies
def finite_floats(dtype=np.float32, magnitude: float = 1e3):
    """Finite floats of `dtype` within +-magnitude (no nan/inf, no subnormal surprises)."""
    return st.floats(-magnitude, magnitude, allow_nan=False, allow_infinity=False,
                     width=np.dtype(dtype).itemsize * 8)


def float_arrays(shape=None, dtype=np.float32, magnitude: float = 1e3, min_dims: int = 0, max_dims: int = 3,
                 max_side: int = 5):
    """Arrays of finite floats; `shape` may be a fixed shape or a shape strategy."""
    if shape is None:
        shape = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)
    return hnp.arrays(dtype, shape, elements=finite_floats(dtype, magnitude))


# ---------------------------------------------------------------- finite differences
def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function f at x, one element at a time (float64).

    f receives a float64 array shaped like x and returns a float; x itself is not modified.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + eps
        upper = float(f(x))
        flat_x[i] = original - eps
        lower = float(f(x))
        flat_x[i] = original
        flat_grad[i] = (upper - lower) / (2 * eps)
    return grad


def assert_gradients_close(analytic, numeric: np.ndarray, *, rtol: float = 1e-5, atol: float = 1e-6,
                           name: str = "input") -> None:
    """Compare an analytic gradient (array or Tensor) with a finite-difference one, every element."""
    analytic = values(analytic) if hasattr(analytic, "data") else analytic
    assert analytic is not None, f"no gradient was computed for {name}"
    analytic = np.asarray(analytic, dtype=np.float64)
    assert analytic.shape == numeric.shape, (
        f"gradient of {name}: expected shape {numeric.shape} (the operand's shape), got {analytic.shape}"
    )
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol,
                               err_msg=f"gradient of {name} disagrees with finite differences")


def check_gradients(fn, *arrays, rtol: float = 1e-5, atol: float = 1e-6, seed: int = 0, differentiable=None) -> None:
    """Check backward() of fn against float64 finite differences for every element of every input.

    fn maps Tensors to a Tensor. The scalar checked is sum(fn(inputs) * W) for a fixed random W,
    so every output element sends a different upstream gradient. `differentiable` lists the
    input positions to check (default: all).
    """
    from tinytorch.core.tensor import Tensor

    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    inputs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    weights = np.random.default_rng(seed).normal(size=values(out).shape)
    (out * Tensor(weights)).sum().backward()
    for position in differentiable if differentiable is not None else range(len(arrays)):
        def scalar(x, position=position):
            operands = [Tensor(x if j == position else arrays[j]) for j in range(len(arrays))]
            return float((values(fn(*operands)).astype(np.float64) * weights).sum())

        numeric = numerical_gradient(scalar, arrays[position])
        assert_gradients_close(inputs[position].grad, numeric, rtol=rtol, atol=atol, name=f"input {position}")


# ---------------------------------------------------------------- a fresh interpreter
def run_fresh_python(code: str, timeout: float = 60):
    """Run `code` in a new Python process that imports the tinytorch under test (the one this test
    session imported), for behaviour a long-lived test process cannot show, such as using a
    module before enable_autograd(). Returns the CompletedProcess (text stdout/stderr)."""
    import subprocess
    import sys
    from pathlib import Path

    import tinytorch

    root = Path(tinytorch.__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"})
