"""Module 07 -- Optimizers: held-out properties and edge cases."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import values
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(7)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def param_with_grad(value, grad):
    p = Tensor(np.array(value, dtype=np.float64), requires_grad=True)
    p.grad = Tensor(np.array(grad, dtype=np.float64))
    return p


def test_momentum_accumulates_velocity():
    p = param_with_grad([0.0], [1.0])
    opt = SGD([p], lr=1.0, momentum=0.5)
    opt.step()
    opt.step()
    np.testing.assert_allclose(values(p), [-(1.0 + 1.5)])


def test_sgd_weight_decay_shrinks_weights_with_zero_gradient():
    p = param_with_grad([2.0], [0.0])
    SGD([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(values(p), [2.0 - 0.1 * 0.5 * 2.0])


def test_adamw_with_zero_gradient_still_decays():
    p = param_with_grad([1.0], [0.0])
    AdamW([p], lr=0.1, weight_decay=0.1).step()
    np.testing.assert_allclose(values(p), [1.0 - 0.1 * 0.1], rtol=1e-9)


@given(st.floats(1e-4, 1.0), st.integers(1, 6))
def test_adam_step_size_is_bounded_by_lr_for_constant_gradients(lr, steps):
    p = param_with_grad([0.0, 0.0], [3.0, -0.01])
    opt = Adam([p], lr=lr)
    for _ in range(steps):
        opt.step()
    assert (np.abs(values(p)) <= steps * lr * (1 + 1e-6)).all()


def test_float32_parameters_stay_float32():
    p = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    p.grad = Tensor(np.ones(2, dtype=np.float32))
    for opt in (SGD([p], lr=0.1, momentum=0.9), Adam([p]), AdamW([p])):
        opt.step()
        assert values(p).dtype == np.float32


def test_non_tensor_parameter_is_a_type_error():
    with pytest.raises(TypeError):
        SGD([np.ones(2)], lr=0.1)


def test_each_parameter_has_its_own_state():
    a, b = param_with_grad([0.0], [1.0]), param_with_grad([0.0], [-2.0])
    opt = Adam([a, b], lr=0.1)
    opt.step()
    np.testing.assert_allclose(values(a), [-0.1], rtol=1e-6)
    np.testing.assert_allclose(values(b), [0.1], rtol=1e-6)


def test_state_bytes_of_adamw_match_adam_and_scale_with_dtype():
    p32 = Tensor(np.ones(10, dtype=np.float32), requires_grad=True)
    p32.grad = Tensor(np.ones(10, dtype=np.float32))
    opt = AdamW([p32])
    opt.step()
    assert opt.state_bytes() == 2 * 10 * 4


def test_bad_betas_shape_is_rejected():
    with pytest.raises(ValueError):
        Adam([Tensor(np.ones(1), requires_grad=True)], betas=(0.9,))
