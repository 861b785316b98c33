"""Module 07 -- Optimizers: the visible specification.

Run just this module:  pytest spec/test_07_optimizers.py     (or: kata test 07)
Each optimizer is compared, step by step, with its published update equations written here in NumPy.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import assert_tensor, data_object, float_arrays, values
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.layers import Linear
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(7)
STEPS = 4


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def gradient_sequence(shape, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(STEPS)]


def run(optimizer_class, start, grads, **hyper):
    param = Tensor(start.copy(), requires_grad=True)
    optimizer = optimizer_class([param], **hyper)
    trajectory = []
    for grad in grads:
        param.grad = Tensor(grad)
        optimizer.step()
        trajectory.append(values(param).copy())
    return trajectory, optimizer, param


def np_sgd(p, grads, lr, momentum=0.0, weight_decay=0.0):
    v, out = None, []
    for g in grads:
        g = g + weight_decay * p
        v = g if v is None or momentum == 0 else momentum * v + g
        p = p - lr * v
        out.append(p)
    return out


def np_adam(p, grads, lr, b1, b2, eps, weight_decay=0.0, decoupled=False):
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        if not decoupled:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        p = p - step - (lr * weight_decay * p if decoupled else 0)
        out.append(p)
    return out


SHAPES = st.sampled_from([(1,), (3,), (2, 3), (2, 2, 2)])


@pytest.mark.points(3)
@given(shape=SHAPES, seed=st.integers(0, 1000), lr=st.floats(1e-3, 0.5),
       momentum=st.sampled_from([0.0, 0.5, 0.9]), weight_decay=st.sampled_from([0.0, 0.01, 0.1]))
def test_sgd_follows_its_equations(shape, seed, lr, momentum, weight_decay):
    start = np.random.default_rng(seed + 1).normal(size=shape)
    grads = gradient_sequence(shape, seed)
    got, _, _ = run(SGD, start, grads, lr=lr, momentum=momentum, weight_decay=weight_decay)
    for step, (actual, expected) in enumerate(zip(got, np_sgd(start, grads, lr, momentum, weight_decay))):
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12, err_msg=f"after step {step + 1}")


@pytest.mark.points(3)
@given(shape=SHAPES, seed=st.integers(0, 1000), lr=st.floats(1e-4, 0.1), b1=st.sampled_from([0.0, 0.8, 0.9]),
       b2=st.sampled_from([0.9, 0.99, 0.999]), weight_decay=st.sampled_from([0.0, 0.05]))
def test_adam_follows_its_equations_with_bias_correction(shape, seed, lr, b1, b2, weight_decay):
    start = np.random.default_rng(seed + 1).normal(size=shape)
    grads = gradient_sequence(shape, seed)
    got, _, _ = run(Adam, start, grads, lr=lr, betas=(b1, b2), eps=1e-8, weight_decay=weight_decay)
    for step, (actual, expected) in enumerate(zip(got, np_adam(start, grads, lr, b1, b2, 1e-8, weight_decay))):
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12, err_msg=f"after step {step + 1}")


@pytest.mark.points(2)
@given(shape=SHAPES, seed=st.integers(0, 1000), weight_decay=st.sampled_from([0.01, 0.1, 0.5]))
def test_adamw_decays_weights_outside_the_moments(shape, seed, weight_decay):
    start = np.random.default_rng(seed + 1).normal(size=shape)
    grads = gradient_sequence(shape, seed)
    got, _, _ = run(AdamW, start, grads, lr=0.01, weight_decay=weight_decay)
    expected = np_adam(start, grads, 0.01, 0.9, 0.999, 1e-8, weight_decay, decoupled=True)
    for step, (actual, wanted) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(actual, wanted, rtol=1e-9, atol=1e-12, err_msg=f"after step {step + 1}")


@pytest.mark.points(2)
@given(magnitudes=float_arrays((4,), np.float64, magnitude=2.0).map(lambda a: np.abs(a) + 0.5),
       signs=st.lists(st.sampled_from([-1.0, 1.0]), min_size=4, max_size=4),
       weight_decay=st.sampled_from([0.01, 0.1, 0.5]))
def test_adamw_first_step_shrinks_weights_by_exactly_lr_times_decay(magnitudes, signs, weight_decay):
    # A construction where decoupled and coupled decay must differ by a known amount. On step one
    # Adam moves every weight by lr * g / (|g| + eps), about lr against the gradient's sign. With the
    # gradient pointing the same way as the weight (and |p| >= 0.5), coupled decay (g + wd * p) keeps
    # that sign, so it moves by lr too; decoupled decay moves by lr * wd * |p| >= 0.005 * lr further.
    start = magnitudes * np.array(signs)
    grad = np.array(signs)
    lr, eps = 0.01, 1e-8
    got, _, _ = run(AdamW, start, [grad], lr=lr, eps=eps, weight_decay=weight_decay)
    adam_move = lr * grad / (np.abs(grad) + eps)
    np.testing.assert_allclose(got[0], start - adam_move - lr * weight_decay * start, rtol=1e-12, atol=1e-15,
                               err_msg="AdamW: p - lr * g / (|g| + eps) - lr * weight_decay * p after one step")
    coupled = start - lr * (grad + weight_decay * start) / (np.abs(grad + weight_decay * start) + eps)
    assert np.all(np.abs(got[0] - coupled) >= 0.5 * lr * weight_decay * np.abs(start)), (
        "AdamW's decay must not go through the moment estimates")


@pytest.mark.points(2)
@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
@given(frozen_steps=st.integers(1, 4), seed=st.integers(0, 1000))
def test_a_parameter_that_starts_late_counts_its_own_steps(optimizer_class, frozen_steps, seed):
    # PyTorch's rule: bias correction uses each parameter's own step count t, which starts at 1 the
    # first time that parameter has a gradient; steps where its grad is None do not count.
    rng = np.random.default_rng(seed)
    early_start, late_start = rng.normal(size=3), rng.normal(size=2)
    early_grads = [rng.normal(size=3) for _ in range(frozen_steps + STEPS)]
    late_grads = [rng.normal(size=2) for _ in range(STEPS)]
    early, late = Tensor(early_start.copy(), requires_grad=True), Tensor(late_start.copy(), requires_grad=True)
    optimizer = optimizer_class([early, late], lr=0.01)
    decay = optimizer_class is AdamW
    hyper = dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01 if decay else 0.0, decoupled=decay)
    expected_early = np_adam(early_start, early_grads, **hyper)
    expected_late = np_adam(late_start, late_grads, **hyper)
    for step, grad in enumerate(early_grads):
        early.grad = Tensor(grad)
        late.grad = Tensor(late_grads[step - frozen_steps]) if step >= frozen_steps else None
        optimizer.step()
        np.testing.assert_allclose(values(early), expected_early[step], rtol=1e-9, atol=1e-12,
                                   err_msg=f"the parameter trained from the start, after step {step + 1}")
        if step < frozen_steps:
            np.testing.assert_array_equal(values(late), late_start, err_msg="a parameter without gradient must not move")
        else:
            np.testing.assert_allclose(values(late), expected_late[step - frozen_steps], rtol=1e-9, atol=1e-12,
                                       err_msg=f"the late parameter, on its own step {step - frozen_steps + 1}")


def test_state_bytes_count_only_the_parameters_that_have_been_updated():
    trained, frozen = Tensor(np.ones((4, 4)), requires_grad=True), Tensor(np.ones(100), requires_grad=True)
    trained.grad = Tensor(np.ones((4, 4)))
    optimizer = Adam([trained, frozen])
    optimizer.step()
    assert optimizer.state_bytes() == 2 * trained.memory_footprint(), "a frozen parameter has no moment buffers yet"


def test_first_adam_step_moves_each_weight_by_about_lr():
    # With bias correction, step one is lr * g / (|g| + eps): size lr whatever the gradient's scale.
    got, _, _ = run(Adam, np.zeros(3), [np.array([1e-3, 5.0, -200.0])] * 1, lr=0.1)
    np.testing.assert_allclose(got[0], [-0.1, -0.1, 0.1], rtol=1e-5)


def test_state_bytes_show_the_memory_cost_of_each_optimizer():
    params = Linear(64, 32).parameters()
    param_bytes = sum(p.memory_footprint() for p in params)
    for p in params:
        p.grad = Tensor(np.ones(p.shape, dtype=np.float32))
    plain, momentum, adam = SGD(params, lr=0.1), SGD(params, lr=0.1, momentum=0.9), Adam(params)
    for optimizer in (plain, momentum, adam):
        assert optimizer.state_bytes() == 0
        optimizer.step()
    assert plain.state_bytes() == 0
    assert momentum.state_bytes() == param_bytes
    assert adam.state_bytes() == 2 * param_bytes, "Adam keeps two moment buffers per parameter"


def test_updates_are_in_place():
    param = Tensor(np.ones(3), requires_grad=True)
    storage = data_object(param)
    param.grad = Tensor(np.ones(3))
    SGD([param], lr=0.5).step()
    assert data_object(param) is storage, "step() must update param.data in place"
    np.testing.assert_allclose(values(param), 0.5)  # the same array, now holding the new values


def test_parameters_without_gradient_are_skipped():
    touched, untouched = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    touched.grad = Tensor(np.ones(2))
    Adam([touched, untouched], lr=0.1).step()
    np.testing.assert_array_equal(values(untouched), [1.0, 1.0])
    assert not np.allclose(values(touched), 1.0)


def test_zero_grad_clears_every_gradient():
    params = [Tensor(np.ones(2), requires_grad=True) for _ in range(3)]
    for p in params:
        (p * 2).sum().backward()
    SGD(params, lr=0.1).zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.0), lambda p: SGD(p, lr=-1), lambda p: SGD(p, lr=0.1, momentum=1.0),
    lambda p: Adam(p, betas=(0.9, 1.0)), lambda p: Adam(p, eps=0), lambda p: AdamW(p, weight_decay=-0.1),
    lambda p: SGD([], lr=0.1),
])
def test_bad_hyperparameters_are_rejected(make):
    with pytest.raises(ValueError):
        make([Tensor(np.ones(1), requires_grad=True)])


def test_training_a_linear_fit_converges():
    x = np.random.default_rng(0).normal(size=(64, 2))
    y = x @ np.array([[2.0], [-3.0]]) + 0.5
    layer = Linear(2, 1, seed=0)
    optimizer = Adam(layer.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        error = layer(Tensor(x.astype(np.float32))) - Tensor(y.astype(np.float32))
        (error * error).mean().backward()
        optimizer.step()
    assert_tensor(layer.weight, [[2.0], [-3.0]], atol=0.05)
    assert_tensor(layer.bias, [0.5], atol=0.05)
