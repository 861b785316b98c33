"""Foundation tier integration: modules 01-08 working together in the student's whole package."""
import numpy as np
import pytest

from spec.support import values
from tinytorch import (SGD, Adam, CrossEntropyLoss, DataLoader, Linear, MSELoss, ReLU, Sequential, Sigmoid, Tanh,
                       Tensor, TensorDataset, Trainer, enable_autograd)
from tinytorch.core.training import check_gradient_flow

pytestmark = pytest.mark.module(1, 2, 3, 4, 5, 6, 7, 8)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


@pytest.mark.points(3)
def test_mlp_learns_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    model = Sequential(Linear(2, 8, seed=0), Tanh(), Linear(8, 1, seed=1), Sigmoid())
    optimizer = Adam(model.parameters(), lr=0.05)
    for _ in range(500):
        optimizer.zero_grad()
        loss = MSELoss()(model(Tensor(x)), Tensor(y))
        loss.backward()
        optimizer.step()
    predictions = values(model(Tensor(x)))
    np.testing.assert_array_equal(predictions > 0.5, y > 0.5)


@pytest.mark.points(2)
def test_gradients_flow_through_linear_activations_and_losses():
    model = Sequential(Linear(5, 6, seed=0), ReLU(), Linear(6, 4, seed=1), Tanh(), Linear(4, 3, seed=2))
    x = Tensor(np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32))
    CrossEntropyLoss()(model(x), np.array([0, 1, 2, 0, 1, 2, 0])).backward()
    check_gradient_flow(model)
    assert all(np.abs(values(p.grad)).sum() > 0 for p in model.parameters())


@pytest.mark.points(2)
def test_short_training_run_on_synthetic_classes_lowers_the_loss():
    rng = np.random.default_rng(3)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, size=300)
    x = (centers[labels] + rng.normal(scale=0.6, size=(300, 2))).astype(np.float32)
    model = Sequential(Linear(2, 16, seed=4), ReLU(), Linear(16, 3, seed=5))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1, momentum=0.9), CrossEntropyLoss())
    loader = DataLoader(TensorDataset(x, labels), batch_size=32, shuffle=True, seed=1)
    start = trainer.evaluate(loader)["loss"]
    history = trainer.fit(loader, epochs=8, val_loader=loader)
    assert history[-1]["val_loss"] < 0.5 * start
    assert history[-1]["val_accuracy"] > 0.9


def test_layers_of_modules_01_to_05_still_work_after_enabling_gradients():
    loader = DataLoader(TensorDataset(np.arange(12, dtype=np.float32).reshape(6, 2)), batch_size=4)
    (batch,) = next(iter(loader))
    out = Sequential(Linear(2, 3, seed=0), ReLU())(batch)
    assert out.shape == (4, 3) and out.requires_grad, "a layer output depends on parameters, so it joins the graph"
