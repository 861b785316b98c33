"""Module 06 -- Autograd: the visible specification.

Run just this module:  pytest spec/test_06_autograd.py     (or: kata test 06)
Every differentiable operation is checked against float64 central finite differences over all
elements (spec.support.check_gradients; tolerances rtol=1e-5, atol=1e-6 unless a test says).
"""
import operator

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import (assert_close_in_ulps, assert_tensor, check_gradients, float_arrays, log_uniform_arrays,
                          run_fresh_python, values)
from tinytorch.core.activations import Tanh
from tinytorch.core.autograd import Function, enable_autograd, gradient_bytes, graph_size, is_autograd_enabled, no_grad
from tinytorch.core.layers import Linear, Parameter
from tinytorch.core.losses import BCELoss
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(6)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def away_from_zero(array, margin=0.3):
    """Push values away from 0 (division, log and kinks are checked where they are smooth)."""
    return np.where(np.abs(array) < margin, margin + np.abs(array), array)


BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


@pytest.mark.points(3)
@pytest.mark.parametrize("symbol", sorted(BINARY))
@given(data=st.data())
def test_binary_ops_with_broadcasting(symbol, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    a = data.draw(float_arrays(shapes.input_shapes[0], dtype=np.float64, magnitude=3))
    b = away_from_zero(data.draw(float_arrays(shapes.input_shapes[1], dtype=np.float64, magnitude=3)))
    check_gradients(BINARY[symbol], a, b)


@pytest.mark.points(2)
@pytest.mark.parametrize("symbol", sorted(BINARY))
@given(array=float_arrays(dtype=np.float64, magnitude=3), scalar=st.floats(0.5, 3))
def test_python_scalar_on_either_side(symbol, array, scalar):
    op = BINARY[symbol]
    check_gradients(lambda x: op(x, scalar), array)
    check_gradients(lambda x: op(scalar, x), away_from_zero(array))


@given(array=float_arrays(dtype=np.float64, magnitude=3), exponent=st.sampled_from([2, 3, 0.5, -1.0]))
def test_power_with_constant_exponent(array, exponent):
    base = np.abs(array) + 0.5 if exponent in (0.5, -1.0) else array
    check_gradients(lambda x: x ** exponent, base)


@given(data=st.data())
def test_power_with_tensor_exponent_and_reflected_power(data):
    base = np.abs(data.draw(float_arrays((3,), dtype=np.float64, magnitude=2))) + 0.5
    exponent = data.draw(float_arrays((3,), dtype=np.float64, magnitude=2))
    check_gradients(lambda b, e: b ** e, base, exponent)
    check_gradients(lambda e: 2.0 ** e, exponent)


@pytest.mark.points(2)
@pytest.mark.parametrize("name", ["neg", "exp", "expm1", "log", "log1p", "sqrt"])
@given(array=float_arrays(dtype=np.float64, magnitude=3))
def test_elementwise_functions(name, array):
    fn = {"neg": operator.neg, "exp": Tensor.exp, "expm1": Tensor.expm1, "log": Tensor.log, "log1p": Tensor.log1p,
          "sqrt": Tensor.sqrt}[name]
    check_gradients(fn, np.abs(array) + 0.5 if name in ("log", "log1p", "sqrt") else array)


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_tanh_gradient_keeps_full_precision_at_both_ends(dtype, data):
    # tanh'(x) = 1 - tanh(x)^2 = 4 e^-2|x| / (1 + e^-2|x|)^2. Written as 1 - tanh^2 it is 0 for |x| > 9
    # in float32 while the true slope is 1e-8 or less; each slope must keep its relative precision
    # wherever it is a normal number of the dtype.
    x = data.draw(log_uniform_arrays(dtype, -30, 1.5))  # |x| from 1e-30 to about 30
    leaf = Tensor(x, requires_grad=True)
    Tanh()(leaf).sum().backward()
    z = np.exp(-2 * np.abs(x.astype(np.float64)))
    assert_close_in_ulps(values(leaf.grad), 4 * z / (1 + z) ** 2, dtype, ulps=8)


@pytest.mark.points(2)
@given(data=st.data(), keepdims=st.booleans())
def test_max_splits_the_gradient_equally_between_tied_maxima_along_an_axis(data, keepdims):
    # Small integers make ties common. The documented rule (like torch.amax): each of k tied maxima
    # receives 1/k of the gradient, so every reduced slice still passes back exactly its gradient.
    array = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                                 elements=st.integers(-2, 2).map(float)))
    axis = data.draw(st.integers(-array.ndim, array.ndim - 1))
    weights = data.draw(float_arrays(np.max(array, axis=axis, keepdims=keepdims).shape, dtype=np.float64, magnitude=3))
    leaf = Tensor(array, requires_grad=True)
    (leaf.max(axis=axis, keepdims=keepdims) * Tensor(weights)).sum().backward()
    winners = (array == array.max(axis=axis, keepdims=True)).astype(np.float64)
    expected = winners / winners.sum(axis=axis, keepdims=True) * np.expand_dims(weights, axis) if not keepdims \
        else winners / winners.sum(axis=axis, keepdims=True) * weights
    assert_tensor(leaf.grad, expected, rtol=1e-12, atol=1e-15)


def test_bce_loss_is_flat_outside_its_clamp_band():
    # BCELoss clamps p to [1e-7, 1 - 1e-7] (documented): beyond the band the loss does not change,
    # so the slope there is exactly 0, while inside it is the usual -(y/p - (1-y)/(1-p)) / n.
    p = Tensor(np.array([0.0, 1e-9, 0.3, 1.0 - 1e-9, 1.0]), requires_grad=True)
    y = np.array([1.0, 1.0, 1.0, 0.0, 0.0])
    BCELoss()(p, y).backward()
    inside = -(1.0 / 0.3) / 5
    assert_tensor(p.grad, [0.0, 0.0, inside, 0.0, 0.0], rtol=1e-9)


@pytest.mark.points(3)
@given(m=st.integers(1, 4), k=st.integers(1, 4), n=st.integers(1, 4), data=st.data())
def test_matmul_2d(m, k, n, data):
    a = data.draw(float_arrays((m, k), dtype=np.float64, magnitude=3))
    b = data.draw(float_arrays((k, n), dtype=np.float64, magnitude=3))
    check_gradients(operator.matmul, a, b)


@given(k=st.integers(1, 4), n=st.integers(1, 4), data=st.data())
def test_matmul_with_vectors(k, n, data):
    v = data.draw(float_arrays((k,), dtype=np.float64, magnitude=3))
    w = data.draw(float_arrays((k,), dtype=np.float64, magnitude=3))
    m = data.draw(float_arrays((k, n), dtype=np.float64, magnitude=3))
    check_gradients(operator.matmul, v, m)
    check_gradients(lambda a, b: a.T @ b, m, v)
    check_gradients(operator.matmul, v, w)


@pytest.mark.points(2)
@given(batch=st.integers(1, 3), m=st.integers(1, 3), k=st.integers(1, 3), n=st.integers(1, 3), data=st.data())
def test_batched_matmul_with_broadcast_batch(batch, m, k, n, data):
    a = data.draw(float_arrays((batch, m, k), dtype=np.float64, magnitude=3))
    b = data.draw(float_arrays((k, n), dtype=np.float64, magnitude=3))
    check_gradients(operator.matmul, a, b)
    c = data.draw(float_arrays((1, k, n), dtype=np.float64, magnitude=3))
    check_gradients(operator.matmul, a, c)


@given(array=float_arrays(dtype=np.float64, min_dims=2, max_dims=3, magnitude=3))
def test_shape_operations(array):
    check_gradients(lambda x: x.reshape(-1), array)
    check_gradients(lambda x: x.transpose(), array)
    check_gradients(lambda x: x.transpose(0, -1), array)
    check_gradients(lambda x: x.T, array)


@pytest.mark.points(3)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@given(data=st.data(), keepdims=st.booleans())
def test_reductions(name, data, keepdims):
    # Distinct values at least 0.01 apart, so a finite-difference step never changes which is the max.
    array = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                                 elements=st.integers(-300, 300).map(lambda i: i / 100), unique=True))
    axis = data.draw(st.one_of(st.none(), st.integers(-array.ndim, array.ndim - 1)))
    check_gradients(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), array)


def test_max_splits_the_gradient_between_ties():
    x = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    x.max().backward()
    assert_tensor(x.grad, [0.0, 0.5, 0.5])


@given(data=st.data())
def test_indexing_with_slices_and_integer_arrays(data):
    array = data.draw(float_arrays((5, 3), dtype=np.float64, magnitude=3))
    index = data.draw(hnp.arrays(np.int64, st.integers(1, 6), elements=st.integers(0, 4)))
    check_gradients(lambda x: x[1:4, ::2], array)
    check_gradients(lambda x: x[index], array)
    check_gradients(lambda x: x[index, np.zeros_like(index)], array)


def test_repeated_indices_accumulate():
    x = Tensor(np.zeros(3), requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    assert_tensor(x.grad, [3.0, 0.0, 1.0])


def test_boolean_mask_indexing():
    array = np.array([[1.0, -2.0], [3.0, -4.0]])
    check_gradients(lambda x: x[array > 0], array)


# ---------------------------------------------------------------- graph structure
def test_diamond_gets_the_sum_of_both_paths():
    x = Tensor(np.array([2.0, -1.0]), requires_grad=True)
    shared = x * 3.0
    (shared * shared + shared).sum().backward()  # d/dx (9x^2 + 3x) = 18x + 3
    assert_tensor(x.grad, 18 * np.array([2.0, -1.0]) + 3)


def test_same_tensor_used_twice_in_one_operation():
    x = Tensor(np.array([1.5, -2.0]), requires_grad=True)
    (x * x).sum().backward()
    assert_tensor(x.grad, [3.0, -4.0])


@pytest.mark.points(2)
def test_a_chain_of_ten_thousand_operations_has_no_recursion_limit():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert_tensor(x.grad, [1.0001 ** 10_000], rtol=1e-9)


def test_gradients_accumulate_until_zero_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert_tensor(x.grad, [5.0, 5.0])
    x.zero_grad()
    assert x.grad is None


def test_constants_and_detached_tensors_get_no_gradient():
    x = Tensor(np.array([1.0]), requires_grad=True)
    constant = Tensor(np.array([4.0]))
    (x * constant + x.detach() * 10).sum().backward()
    assert_tensor(x.grad, [4.0])
    assert constant.grad is None and not constant.requires_grad


def test_no_grad_records_nothing():
    x = Tensor(np.array([1.0]), requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad
    assert (x * 2).requires_grad, "recording resumes after the block"


def test_enable_autograd_is_idempotent():
    enable_autograd()
    enable_autograd()
    assert is_autograd_enabled()
    x = Tensor(np.array([3.0]), requires_grad=True)
    y = x * x
    assert graph_size(y) == 2, "calling enable_autograd twice must not wrap operations twice"
    y.backward()
    assert_tensor(x.grad, [6.0])


def test_parameters_require_grad_and_plain_tensors_do_not():
    assert Parameter(np.zeros(2)).requires_grad
    assert not Tensor(np.zeros(2)).requires_grad
    assert Tensor(np.zeros(2), requires_grad=True).requires_grad
    layer = Linear(3, 2)
    assert all(p.requires_grad for p in layer.parameters())


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="float"):
        Tensor(np.array([1, 2]), requires_grad=True)


def test_backward_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="one-element"):
        (Tensor(np.ones(3), requires_grad=True) * 2).backward()
    with pytest.raises(ValueError, match="requires grad"):
        Tensor(np.ones(1)).backward()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        (Tensor(np.ones(3), requires_grad=True) * 2).backward(np.ones(4))


def test_backward_with_an_explicit_gradient():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (x * x).backward(np.array([1.0, 0.0, 2.0]))
    assert_tensor(x.grad, [2.0, 0.0, 12.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_dtype_matches_the_tensor(dtype):
    x = Tensor(np.ones(2, dtype=dtype), requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.dtype == dtype


# ---------------------------------------------------------------- backward compatibility and systems facts
@given(float_arrays(dtype=np.float64, min_dims=2, max_dims=2, magnitude=10))
def test_module_01_behaviour_is_unchanged(array):
    tensor = Tensor(array)
    assert_tensor(tensor + 1, array + 1)
    assert_tensor(tensor @ tensor.T, array @ array.T, rtol=1e-9)
    assert_tensor(tensor.sum(axis=0), array.sum(axis=0))
    assert tensor.memory_footprint() == array.nbytes
    np.testing.assert_array_equal(values(tensor > 0), array > 0)


def test_graph_size_and_gradient_bytes():
    layer = Linear(4, 3)
    loss = (layer(Tensor(np.ones((2, 4)))) * 2).sum()
    assert graph_size(loss) >= 6
    assert gradient_bytes(layer.parameters()) == 0
    loss.backward()
    assert gradient_bytes(layer.parameters()) == layer.parameter_bytes()


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        return (3 * ctx.x ** 2 * grad,)


def test_custom_function_joins_the_graph():
    check_gradients(lambda x: Cube.apply(x) * 2, np.array([[1.0, -2.0], [0.5, 3.0]]))
    with no_grad():
        assert not Cube.apply(Tensor(np.ones(2), requires_grad=True)).requires_grad


def test_a_registered_function_works_as_a_plain_operation_before_enable_autograd():
    # Later modules build their layers as registered Functions: using one before enable_autograd()
    # must simply compute, not fail on a missing requires_grad.
    completed = run_fresh_python(
        "import numpy as np\n"
        "from tinytorch.core.autograd import Function, is_autograd_enabled\n"
        "from tinytorch.core.tensor import Tensor\n"
        "class Double(Function):\n"
        "    @staticmethod\n"
        "    def forward(ctx, x): return 2 * x\n"
        "    @staticmethod\n"
        "    def backward(ctx, grad): return (2 * grad,)\n"
        "assert not is_autograd_enabled()\n"
        "print(Double.apply(Tensor(np.array([1.5, -2.0]))).data.tolist())\n"
    )
    assert completed.returncode == 0, f"Function.apply before enable_autograd() failed:\n{completed.stderr[-1500:]}"
    assert completed.stdout.strip() == "[3.0, -4.0]"
