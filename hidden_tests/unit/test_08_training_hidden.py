"""Module 08 -- Training: held-out properties and edge cases."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import values
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Dropout, Linear, Module, Sequential
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import (CosineSchedule, Trainer, check_gradient_flow, clip_grad_norm,
                                     load_checkpoint, save_checkpoint)

pytestmark = pytest.mark.module(8)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def test_missing_and_extra_checkpoint_names_are_listed(tmp_path):
    path = save_checkpoint(Sequential(Linear(2, 2)), tmp_path / "one")
    assert path.suffix == ".npz" and path.exists()
    with pytest.raises(ValueError, match="missing"):
        load_checkpoint(Sequential(Linear(2, 2), Linear(2, 2)), path)


def test_missing_checkpoint_file():
    with pytest.raises(FileNotFoundError):
        load_checkpoint(Linear(2, 2), "/nonexistent/checkpoint.npz")


def test_checkpoint_keeps_dtype(tmp_path):
    model = Linear(2, 3, seed=0)
    load_checkpoint(model, save_checkpoint(model, tmp_path / "m.npz"))
    assert values(model.weight).dtype == np.float32


def test_clip_skips_parameters_without_gradient_and_rejects_bad_norm():
    a, b = Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)
    a.grad = Tensor(np.array([6.0, 8.0]))
    assert clip_grad_norm([a, b], 5.0) == 10.0
    np.testing.assert_allclose(values(a.grad), [3.0, 4.0])
    with pytest.raises(ValueError):
        clip_grad_norm([a], 0)


class RawNumpyLayer(Module):
    """The common failure pattern: computing on .data with NumPy cuts the graph."""

    def __init__(self):
        self.inner = Linear(2, 2, seed=0)

    def forward(self, x):
        return Tensor(np.tanh(self.inner(x).data))


def test_a_raw_numpy_layer_is_caught_with_an_explanation():
    model = Sequential(RawNumpyLayer(), Linear(2, 1, seed=1))
    MSELoss()(model(Tensor(np.ones((3, 2)))), Tensor(np.zeros((3, 1)))).backward()
    with pytest.raises(ValueError) as caught:
        check_gradient_flow(model)
    message = str(caught.value)
    assert "layers.0.inner.weight" in message and "raw NumPy" in message
    assert "layers.1.weight" not in message


def test_gradient_flow_check_passes_for_a_proper_model():
    model = Sequential(Linear(2, 2), Linear(2, 1))
    MSELoss()(model(Tensor(np.ones((3, 2)))), Tensor(np.zeros((3, 1)))).backward()
    check_gradient_flow(model)
    assert all(p.grad is not None for p in model.parameters())


def test_evaluate_restores_training_mode_and_uses_no_graph():
    dropout = Dropout(0.5, seed=0)
    model = Sequential(Linear(2, 1, seed=0), dropout)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    loader = DataLoader(TensorDataset(np.ones((4, 2), dtype=np.float32), np.zeros((4, 1), dtype=np.float32)), batch_size=2)
    result = trainer.evaluate(loader)
    assert "accuracy" not in result and dropout.training


def test_trainer_validates_its_arguments():
    model = Linear(2, 1)
    with pytest.raises(TypeError):
        Trainer(model, "sgd", MSELoss())
    with pytest.raises(ValueError):
        Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss(), accumulation_steps=0)


def test_partial_accumulation_group_still_steps():
    x = np.ones((5, 2), dtype=np.float32)
    model = Linear(2, 1, seed=0)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss(), accumulation_steps=2)
    trainer.train_epoch(DataLoader(TensorDataset(x, np.zeros((5, 1), dtype=np.float32)), batch_size=1))
    assert trainer.step_count == 3
    assert all(p.grad is None for p in model.parameters()), "gradients are cleared after each step"


@given(st.integers(1, 50))
def test_schedule_is_monotone_after_warmup(total):
    schedule = CosineSchedule(1.0, total_steps=total + 1, warmup_steps=1)
    rates = [schedule(s) for s in range(1, total + 2)]
    assert all(a >= b - 1e-12 for a, b in zip(rates, rates[1:]))


def test_clipping_in_the_trainer_bounds_each_update():
    x = np.full((4, 2), 100.0, dtype=np.float32)
    model = Linear(2, 1, seed=0)
    before = values(model.weight).copy()
    trainer = Trainer(model, SGD(model.parameters(), lr=1.0), MSELoss(), clip_norm=0.5)
    trainer.train_epoch(DataLoader(TensorDataset(x, np.zeros((4, 1), dtype=np.float32)), batch_size=4))
    moved = math.sqrt(((values(model.weight) - before) ** 2).sum())
    assert moved <= 0.5 + 1e-6


def test_evaluate_accuracy_counts_argmax_matches():
    model = Linear(2, 2, bias=False, seed=0)
    model.weight.data = np.eye(2, dtype=np.float32)
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]], dtype=np.float32)
    labels = np.array([0, 1, 1, 1])
    from tinytorch.core.losses import CrossEntropyLoss
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    result = trainer.evaluate(DataLoader(TensorDataset(x, labels), batch_size=3))
    assert result["accuracy"] == 0.75


def test_fit_without_validation_records_train_loss_only():
    x = np.ones((4, 2), dtype=np.float32)
    model = Linear(2, 1, seed=0)
    history = Trainer(model, SGD(model.parameters(), lr=0.01), MSELoss()).fit(
        DataLoader(TensorDataset(x, np.zeros((4, 1), dtype=np.float32)), batch_size=2), epochs=2)
    assert [sorted(h) for h in history] == [["epoch", "train_loss"]] * 2
    assert history[1]["train_loss"] < history[0]["train_loss"]


def test_clip_with_no_gradients_returns_zero():
    assert clip_grad_norm([Tensor(np.zeros(2), requires_grad=True)], 1.0) == 0.0
