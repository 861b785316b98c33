"""Oracles and strategies shared by spec/ and hidden_tests/.

Nothing here calls the code under test to decide equality: values are read out of a
Tensor's `.data` array and compared with numpy.testing against NumPy computations.
"""
from __future__ import annotations

import os

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# ---------------------------------------------------------------- reading values out
def values(tensor) -> np.ndarray:
    """The NumPy array inside a Tensor, checked to be exactly an ndarray.

    A subclass of ndarray (or any object with its own __eq__ or __array_function__) could claim to
    equal whatever it is compared with, so only the plain ndarray type is accepted: every oracle
    comparison then runs NumPy's own code on NumPy's own type.
    """
    return checked_data(getattr(tensor, "data", None), type(tensor).__name__)


def checked_data(data, owner: str = "Tensor") -> np.ndarray:
    """`data` (the `.data` of an `owner`), checked as values() checks it."""
    assert type(data) is np.ndarray, (
        f"expected a Tensor whose .data is a numpy.ndarray (exactly that type, not a subclass), got "
        f"{owner} with .data of type {type(data).__module__}.{type(data).__qualname__}"
    )
    assert data.dtype.kind in "biuf", (
        f"expected .data to hold numbers (a bool, integer or float dtype), got dtype {data.dtype}")
    return data


def data_object(tensor):
    """The object behind `tensor.data`, for identity checks (`data_object(t) is before`): the array
    itself, or in a judged grade a reference to the array in the submission's process (reading
    `.data` there gives a copy, which is never the same object twice)."""
    import tinytorch

    if getattr(tinytorch, "__kata_judged__", False):
        from grading.judged.proxy import reference_to

        return reference_to(tensor, "data")
    return values(tensor)


def assert_tensor(tensor, expected, *, rtol: float = 1e-6, atol: float = 0.0, dtype=None) -> None:
    """Assert a Tensor holds `expected` (shape, optional dtype, values within tolerance)."""
    got = values(tensor)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape: expected {expected.shape}, got {got.shape}"
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), f"dtype: expected {np.dtype(dtype)}, got {got.dtype}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


# ---------------------------------------------------------------- example counts
def examples(count: int) -> int:
    """The example count for a test too slow for the profile's default: `count`, except under the
    maintainers' soak profile (`make soak`), which asks every test for TINYTORCH_SOAK_EXAMPLES."""
    if os.environ.get("TINYTORCH_HYPOTHESIS_PROFILE") == "soak":
        return max(count, int(os.environ.get("TINYTORCH_SOAK_EXAMPLES", "400")))
    return count


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


@st.composite
def log_uniform_arrays(draw, dtype, low_exponent: float, high_exponent: float, max_size: int = 12) -> np.ndarray:
    """1-D arrays of either sign whose magnitudes spread evenly over the decades from
    10**low_exponent to 10**high_exponent: tiny, ordinary and large values are all drawn often."""
    exponents = draw(st.lists(st.floats(low_exponent, high_exponent), min_size=1, max_size=max_size))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=len(exponents), max_size=len(exponents)))
    return (np.array(signs) * 10.0 ** np.array(exponents)).astype(dtype)


# ---------------------------------------------------------------- float dtypes and their tolerances
# Every float-valued operation keeps float32 as float32 and float64 as float64: draw the dtype from
# here instead of fixing one, so an operation that silently changes it cannot pass.
float_dtypes = st.sampled_from([np.float32, np.float64])


def any_float_arrays(shape=None, **kwargs):
    """float_arrays whose dtype is drawn from float_dtypes (same keyword arguments, except dtype)."""
    return float_dtypes.flatmap(lambda dtype: float_arrays(shape, dtype=dtype, **kwargs))


def elementwise_tolerance(dtype) -> dict:
    """assert_allclose tolerances for ONE element-wise float operation computed in `dtype`.

    rtol allows a few ulps with room to spare (float32 eps is 1.2e-7, float64 eps 2.2e-16), so a
    correct implementation that evaluates the function differently (x*x*x for x**3, or in float64
    and then rounded) always passes. atol is the smallest normal number: results in the subnormal
    range keep only absolute, not relative, precision.
    """
    dtype = np.dtype(dtype)
    return dict(rtol=1e-5 if dtype.itemsize <= 4 else 1e-12, atol=float(np.finfo(dtype).tiny))


def summation_error_bound(array: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    """How far a correct sum of `array` over `axis`, computed in array.dtype, may be from the exact sum.

    Summing n numbers in ANY order (left to right, pairwise as NumPy does, blocked, ...) errs by at
    most (n - 1) * u * sum(|x|) to first order, with u = eps / 2 (Higham, "Accuracy and Stability
    of Numerical Algorithms", chapter 4). The bound returned, 2 * n * eps * sum(|x|) plus the
    smallest normal number, covers that, a float64 oracle's own error, a final rounding or
    division by n, and subnormals.
    Heavy cancellation can make the sum tiny while sum(|x|) is large: that is why no rtol relative
    to the result is used. Returns float64, shaped like the reduction's result.
    """
    absolute = np.abs(np.asarray(array, dtype=np.float64))
    total = absolute.sum(axis=axis, keepdims=keepdims)
    count = array.size // max(np.size(total), 1)
    finfo = np.finfo(array.dtype)
    return 2.0 * count * float(finfo.eps) * total + float(finfo.tiny)


def matmul_error_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Like summation_error_bound for a @ b in the operands' dtype: each entry is a sum of k products.

    Returns 2 * k * eps * (|a| @ |b|) + k * (smallest normal number), float64, shaped like a @ b.
    """
    k = a.shape[-1]
    finfo = np.finfo(np.result_type(a, b))
    magnitude = np.abs(np.asarray(a, dtype=np.float64)) @ np.abs(np.asarray(b, dtype=np.float64))
    return 2.0 * k * float(finfo.eps) * magnitude + k * float(finfo.tiny)


def assert_tensor_within(tensor, expected, bound, *, dtype) -> None:
    """Assert a Tensor has `dtype`, the shape of `expected`, and |value - expected| <= bound everywhere.

    `expected` is an exact (float64) oracle and `bound` an error bound such as summation_error_bound.
    """
    got = values(tensor)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.dtype == np.dtype(dtype), f"dtype: expected {np.dtype(dtype)}, got {got.dtype}"
    assert got.shape == expected.shape, f"shape: expected {expected.shape}, got {got.shape}"
    error = np.abs(got.astype(np.float64) - expected)
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), expected.shape)
    outside = ~(error <= bound)  # also catches nan
    assert not outside.any(), (
        f"{int(outside.sum())} of {outside.size} values are further from the exact result than rounding in "
        f"{got.dtype} allows; first at index {tuple(int(i) for i in np.argwhere(outside)[0])}: got "
        f"{got[outside][0]!r}, expected {expected[outside][0]!r} +- {bound[outside][0]:.3g}"
    )


def assert_close_in_ulps(got: np.ndarray, expected: np.ndarray, dtype, *, ulps: float) -> None:
    """Assert every element of `got` lies within `ulps` units in the last place of `dtype` from a
    float64 `expected`: relative precision at every magnitude, down to the subnormals.

    A unit in the last place is the gap between `expected` rounded to `dtype` and the next
    representable number, so tiny and huge values are held to the same standard.
    """
    got = np.asarray(got)
    assert type(got) is np.ndarray and got.shape == np.shape(expected), (
        f"expected an array of shape {np.shape(expected)}, got {type(got).__name__} of shape {np.shape(got)}")
    expected = np.asarray(expected, dtype=np.float64)
    unit = np.spacing(np.abs(expected).astype(dtype)).astype(np.float64)
    error = np.abs(got.astype(np.float64) - expected)
    worst = int(np.argmax(error / unit))
    assert (error <= ulps * unit).all(), (
        f"expected values within {ulps} units in the last place of {np.dtype(dtype)}; element {worst} is "
        f"{got.reshape(-1)[worst]!r} where {expected.reshape(-1)[worst]!r} is right "
        f"({error.reshape(-1)[worst] / unit.reshape(-1)[worst]:.3g} units off)")


# ---------------------------------------------------------------- finite differences
def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function f at x, one element at a time (float64).

    f receives a float64 array shaped like x and returns a float; x itself is not modified.
    """
    x = np.array(x, dtype=np.float64)
    return central_differences([float(f(point)) for point in shifted_points(x, eps)], x, eps)


def shifted_points(x: np.ndarray, eps: float) -> list[np.ndarray]:
    """x with one element moved by +eps, then the same element by -eps, for every element in order."""
    points = []
    for i in range(x.size):
        for shift in (eps, -eps):
            point = x.copy()
            point.reshape(-1)[i] = x.reshape(-1)[i] + shift
            points.append(point)
    return points


def central_differences(values_at_points: list[float], x: np.ndarray, eps: float) -> np.ndarray:
    """The gradient from f at shifted_points(x, eps): (f(x + eps) - f(x - eps)) / 2 eps per element."""
    grad = np.zeros_like(x)
    flat = grad.reshape(-1)
    for i in range(flat.size):
        flat[i] = (values_at_points[2 * i] - values_at_points[2 * i + 1]) / (2 * eps)
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
    constants = [Tensor(a) for a in arrays]  # the operands not being varied, made once

    def weighted_sum(data: np.ndarray) -> float:
        return float((data.astype(np.float64) * weights).sum())

    for position in differentiable if differentiable is not None else range(len(arrays)):
        def output(x, position=position):
            return fn(*[Tensor(x) if j == position else constants[j] for j in range(len(arrays))])

        numeric = numerical_gradient_of(output, weighted_sum, arrays[position])
        assert_gradients_close(inputs[position].grad, numeric, rtol=rtol, atol=atol, name=f"input {position}")


def _judged() -> bool:
    import tinytorch

    return bool(getattr(tinytorch, "__kata_judged__", False))


def numerical_gradient_of(output, scalar, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """numerical_gradient(lambda x: scalar(values(output(x))), x): the gradient of a scalar of a Tensor's
    values, where output(x) makes the Tensor. In a judged grade every evaluation would be a round trip to
    the submission's process, so the evaluations after the first go in one request: the same numbers."""
    if not _judged():
        return numerical_gradient(lambda point: scalar(values(output(point))), x, eps)
    from grading.judged.proxy import evaluate_all

    x = np.array(x, dtype=np.float64)
    points = shifted_points(x, eps)
    sums = [scalar(checked_data(data)) for data in evaluate_all(output, points)] if points else []
    return central_differences(sums, x, eps)


# ---------------------------------------------------------------- a fresh interpreter
def run_fresh_python(code: str, timeout: float = 60):
    """Run `code` in a new Python process that imports the tinytorch under test (the one this test
    session imported), for behaviour a long-lived test process cannot show, such as using a
    module before enable_autograd(). Returns the CompletedProcess (text stdout/stderr)."""
    import subprocess
    import sys
    from pathlib import Path

    import tinytorch

    if _judged():  # a judged grade: start it beside the submission's process
        from grading.judged.proxy import run_fresh_python as beside_the_submission

        return beside_the_submission(code, timeout)
    root = Path(tinytorch.__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"})
