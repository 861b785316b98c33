"""Module 06 -- Autograd: held-out checks, including every activation (02), loss (04) and Linear (03).

All gradients are compared with float64 central finite differences over every element.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import assert_tensor, check_gradients, float_arrays, values
from tinytorch.core.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(6)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


@pytest.mark.points(2)
@pytest.mark.parametrize("activation_class", [Sigmoid, Tanh, GELU], ids=["sigmoid", "tanh", "gelu"])
@given(array=float_arrays(dtype=np.float64, magnitude=6, max_dims=2))
def test_smooth_activations(activation_class, array):
    check_gradients(activation_class(), array)


@given(array=float_arrays(dtype=np.float64, magnitude=5, max_dims=2))
def test_relu_away_from_its_kink(array):
    check_gradients(ReLU(), np.where(np.abs(array) < 0.1, 0.5, array))


@pytest.mark.points(2)
@pytest.mark.parametrize("activation_class", [Softmax, LogSoftmax])
@given(data=st.data())
def test_softmax_family_over_any_dim(activation_class, data):
    array = data.draw(float_arrays(dtype=np.float64, magnitude=5, min_dims=1, max_dims=3, max_side=4))
    dim = data.draw(st.integers(-array.ndim, array.ndim - 1))
    check_gradients(activation_class(dim=dim), array)


def test_sigmoid_gradient_is_finite_at_extremes():
    x = Tensor(np.array([-1e4, 0.0, 1e4]), requires_grad=True)
    Sigmoid()(x).sum().backward()
    assert np.isfinite(values(x.grad)).all()
    np.testing.assert_allclose(values(x.grad), [0.0, 0.25, 0.0], atol=1e-12)


@pytest.mark.points(2)
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_mse_loss(data, reduction):
    predictions = data.draw(float_arrays(dtype=np.float64, magnitude=5, min_dims=1))
    targets = data.draw(float_arrays(predictions.shape, dtype=np.float64, magnitude=5))
    check_gradients(lambda p, t: MSELoss(reduction)(p, t), predictions, targets)


@st.composite
def classification(draw, sequence):
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    shape = (n, draw(st.integers(1, 3)), c) if sequence else (n, c)
    logits = draw(float_arrays(shape, dtype=np.float64, magnitude=5))
    targets = draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, c - 1)))
    return logits, targets


@pytest.mark.points(3)
@pytest.mark.parametrize("sequence", [False, True], ids=["NC", "NTC"])
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy(sequence, data, reduction):
    logits, targets = data.draw(classification(sequence))
    check_gradients(lambda z: CrossEntropyLoss(reduction)(z, targets), logits)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    targets = np.array([2, 0])
    z = Tensor(logits, requires_grad=True)
    CrossEntropyLoss()(z, targets).backward()
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert_tensor(z.grad, (probabilities - np.eye(3)[targets]) / 2, rtol=1e-9)


@given(data=st.data())
def test_binary_cross_entropy_losses(data):
    logits = data.draw(float_arrays(dtype=np.float64, magnitude=5, min_dims=1))
    targets = data.draw(hnp.arrays(np.float64, logits.shape, elements=st.sampled_from([0.0, 1.0])))
    check_gradients(lambda z: BCEWithLogitsLoss()(z, targets), logits)
    probabilities = 1 / (1 + np.exp(-logits))
    check_gradients(lambda p: BCELoss()(p, targets), np.clip(probabilities, 0.05, 0.95))


@pytest.mark.points(2)
@given(batch=st.integers(1, 4), data=st.data())
def test_linear_layer_weight_bias_and_input(batch, data):
    layer = Linear(3, 2, seed=0)
    x = data.draw(float_arrays((batch, 3), dtype=np.float64, magnitude=3))
    weight, bias = values(layer.weight).astype(np.float64), values(layer.bias).astype(np.float64)
    check_gradients(lambda inp, w, b: inp @ w + b, x, weight, bias)
    inputs = Tensor(x, requires_grad=True)
    layer.weight.data = weight
    layer.bias.data = bias
    upstream = np.arange(batch * 2, dtype=np.float64).reshape(batch, 2)
    (layer(inputs) * Tensor(upstream)).sum().backward()
    assert_tensor(layer.weight.grad, x.T @ upstream, rtol=1e-9)
    assert_tensor(layer.bias.grad, upstream.sum(axis=0), rtol=1e-9)
    assert_tensor(inputs.grad, upstream @ weight.T, rtol=1e-9)


def test_mlp_gradients_reach_every_parameter():
    model = Sequential(Linear(4, 8, seed=1), Tanh(), Linear(8, 3, seed=2))
    loss = CrossEntropyLoss()(model(Tensor(np.random.default_rng(0).normal(size=(5, 4)))), np.array([0, 1, 2, 1, 0]))
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.shape == parameter.shape, name
        assert np.abs(values(parameter.grad)).sum() > 0, f"{name} received an all-zero gradient"


def test_dropout_gradient_follows_its_mask():
    dropout = Dropout(0.5, seed=3)
    x = Tensor(np.ones(200), requires_grad=True)
    out = dropout(x)
    out.sum().backward()
    np.testing.assert_array_equal(values(x.grad), values(out))


def test_evaluation_under_no_grad_builds_no_graph():
    layer = Linear(2, 2)
    with no_grad():
        out = layer(Tensor(np.ones((1, 2))))
    assert not out.requires_grad


def test_gradients_of_a_reused_layer_add_up():
    layer = Linear(2, 2, bias=False, seed=0)
    x = Tensor(np.array([[1.0, 2.0]]))
    (layer(x) + layer(x)).sum().backward()
    assert_tensor(layer.weight.grad, 2 * values(x).T @ np.ones((1, 2)), rtol=1e-6)


def test_division_by_tensor_and_reflected_subtraction():
    check_gradients(lambda a, b: (1.0 - a) / b, np.array([0.5, 2.0]), np.array([1.5, -0.7]))


def test_chained_reshape_transpose_and_indexing():
    array = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    check_gradients(lambda x: x.reshape(4, 3).transpose()[1:, :2].exp(), array)


def test_mean_over_several_axes():
    array = np.random.default_rng(1).normal(size=(2, 3, 4))
    check_gradients(lambda x: x.mean(axis=(0, 2), keepdims=True), array)
    check_gradients(lambda x: x.sum(axis=(-1, 0)), array)
