"""Module 08 -- Training: the visible specification.

Run just this module:  pytest spec/test_08_training.py     (or: kata test 08)
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import values
from tinytorch.core.activations import Tanh
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm, load_checkpoint, save_checkpoint

pytestmark = pytest.mark.module(8)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def regression_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    return x, y


@pytest.mark.points(2)
@given(max_lr=st.floats(1e-3, 1.0), total=st.integers(5, 200), warmup=st.integers(0, 4), data=st.data())
def test_cosine_schedule_formula(max_lr, total, warmup, data):
    min_lr = data.draw(st.floats(0, max_lr))
    schedule = CosineSchedule(max_lr, total_steps=total, min_lr=min_lr, warmup_steps=warmup)
    step = data.draw(st.integers(0, total + 10))
    if step < warmup:
        expected = max_lr * (step + 1) / warmup
    else:
        progress = min(1.0, (step - warmup) / (total - warmup))
        expected = min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2
    assert math.isclose(schedule(step), expected, rel_tol=1e-12, abs_tol=1e-15)
    # Warmup climbs from zero, so only the rates after warmup are bounded below by min_lr.
    lowest = min_lr if step >= warmup else 0.0
    assert lowest - 1e-12 <= schedule(step) <= max_lr + 1e-12


@pytest.mark.parametrize("min_lr", [0.0, 0.0009, 0.001])
def test_cosine_warmup_starts_from_zero_even_above_min_lr(min_lr):
    # The case that once made a correct schedule fail: a warmup rate (0.0005) below min_lr.
    schedule = CosineSchedule(0.001, total_steps=5, min_lr=min_lr, warmup_steps=2)
    assert [schedule(0), schedule(1)] == [0.0005, 0.001]
    assert schedule(5) == schedule(50) == min_lr


def test_cosine_schedule_landmarks():
    schedule = CosineSchedule(1.0, total_steps=110, min_lr=0.1, warmup_steps=10)
    assert [schedule(s) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert math.isclose(schedule(60), 0.55) and math.isclose(schedule(110), 0.1) and math.isclose(schedule(500), 0.1)


@pytest.mark.parametrize("kwargs", [dict(max_lr=0, total_steps=10), dict(max_lr=1, total_steps=5, warmup_steps=5),
                                    dict(max_lr=1, total_steps=10, min_lr=2)],
                         ids=["max-lr-zero", "warmup-as-long-as-training", "min-lr-above-max-lr"])
def test_cosine_schedule_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        CosineSchedule(**kwargs)


@pytest.mark.points(2)
@given(st.lists(st.floats(-10, 10), min_size=1, max_size=6), st.floats(0.1, 20))
def test_clip_grad_norm_scales_to_the_limit_and_returns_the_old_norm(grad_values, max_norm):
    grads = np.array(grad_values)
    first, second = Tensor(np.zeros(len(grads)), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)
    first.grad, second.grad = Tensor(grads.copy()), Tensor(np.array([1.0, -1.0]))
    norm = math.sqrt((grads ** 2).sum() + 2)
    assert math.isclose(clip_grad_norm([first, second], max_norm), norm, rel_tol=1e-9)
    new_norm = math.sqrt((values(first.grad) ** 2).sum() + (values(second.grad) ** 2).sum())
    assert new_norm <= max_norm * (1 + 1e-9)
    if norm <= max_norm:
        np.testing.assert_array_equal(values(first.grad), grads)
    else:
        np.testing.assert_allclose(values(first.grad), grads * max_norm / norm, rtol=1e-9)


@pytest.mark.points(3)
@given(micro=st.sampled_from([1, 2, 4]), seed=st.integers(0, 100))
def test_gradient_accumulation_equals_one_large_batch(micro, seed):
    x, y = regression_data(16, seed)
    small = Linear(3, 1, seed=seed)
    large = Linear(3, 1, seed=seed)
    Trainer(small, SGD(small.parameters(), lr=0.1), MSELoss(), accumulation_steps=micro).train_epoch(
        DataLoader(TensorDataset(x, y), batch_size=16 // micro))
    Trainer(large, SGD(large.parameters(), lr=0.1), MSELoss()).train_epoch(DataLoader(TensorDataset(x, y), batch_size=16))
    np.testing.assert_allclose(values(small.weight), values(large.weight), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values(small.bias), values(large.bias), rtol=1e-5, atol=1e-6)


def test_training_lowers_the_loss_and_evaluate_reports_accuracy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 2)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = Sequential(Linear(2, 16, seed=0), Tanh(), Linear(16, 2, seed=1))
    trainer = Trainer(model, Adam(model.parameters(), lr=0.05), CrossEntropyLoss())
    loader = DataLoader(TensorDataset(x, labels), batch_size=20, shuffle=True, seed=0)
    before = trainer.evaluate(loader)
    history = trainer.fit(loader, epochs=15, val_loader=loader)
    assert history[-1]["train_loss"] < before["loss"] / 3
    assert history[-1]["val_accuracy"] > 0.9 and len(history) == 15


def test_schedule_sets_the_learning_rate_each_step():
    x, y = regression_data(8)
    model = Linear(3, 1, seed=0)
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = CosineSchedule(0.2, total_steps=8, warmup_steps=2)
    trainer = Trainer(model, optimizer, MSELoss(), schedule=schedule)
    trainer.train_epoch(DataLoader(TensorDataset(x, y), batch_size=2))
    assert trainer.step_count == 4 and math.isclose(optimizer.lr, schedule(3))


@pytest.mark.points(2)
def test_checkpoint_round_trip_is_exact(tmp_path):
    model = Sequential(Linear(3, 4, seed=0), Tanh(), Linear(4, 2, seed=1))
    path = save_checkpoint(model, tmp_path / "model.npz")
    fresh = Sequential(Linear(3, 4, seed=5), Tanh(), Linear(4, 2, seed=6))
    load_checkpoint(fresh, path)
    for (name, a), (_, b) in zip(model.named_parameters(), fresh.named_parameters()):
        np.testing.assert_array_equal(values(a), values(b), err_msg=name)


def test_mismatched_checkpoint_is_rejected_and_changes_nothing(tmp_path):
    path = save_checkpoint(Linear(3, 4, seed=0), tmp_path / "small.npz")
    model = Linear(3, 5, seed=1)
    before = values(model.weight).copy()
    with pytest.raises(ValueError, match="shape"):
        load_checkpoint(model, path)
    np.testing.assert_array_equal(values(model.weight), before)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"this is not a zip archive")
    model = Linear(2, 2, seed=0)
    before = values(model.weight).copy()
    with pytest.raises(ValueError, match="not a readable"):
        load_checkpoint(model, path)
    np.testing.assert_array_equal(values(model.weight), before)


def numpy_sgd_epoch(weight, bias, batches, lr, accumulation_steps=1):
    """The Trainer's epoch written out in NumPy for Linear + MSELoss + SGD: the gradient of
    mean((x W + b - y)^2) is 2/n x^T r and 2/n sum(r) with r = x W + b - y (n = elements)."""
    weight, bias = weight.astype(np.float64), bias.astype(np.float64)
    grad_w, grad_b, pending = np.zeros_like(weight), np.zeros_like(bias), 0
    for x, y in batches:
        residual = x @ weight + bias - y
        grad_w += 2 / residual.size * x.T @ residual / accumulation_steps
        grad_b += 2 / residual.size * residual.sum(axis=0) / accumulation_steps
        pending += 1
        if pending == accumulation_steps:
            weight, bias = weight - lr * grad_w, bias - lr * grad_b
            grad_w, grad_b, pending = np.zeros_like(weight), np.zeros_like(bias), 0
    if pending:  # a final partial group still steps, with the same 1/accumulation_steps scale
        weight, bias = weight - lr * grad_w, bias - lr * grad_b
    return weight, bias


@pytest.mark.points(2)
@given(batches=st.integers(1, 5), batch_size=st.integers(1, 4), accumulation=st.integers(1, 3),
       seed=st.integers(0, 100))
def test_an_epoch_matches_the_update_rule_batch_by_batch(batches, batch_size, accumulation, seed):
    # Covers both the plain loop (zero_grad, forward, backward, step per batch) and accumulation,
    # including a final group with fewer than `accumulation` batches.
    x, y = regression_data(batches * batch_size, seed)
    model = Linear(3, 1, seed=seed)
    start_w, start_b = values(model.weight).copy(), values(model.bias).copy()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.05), MSELoss(), accumulation_steps=accumulation)
    trainer.train_epoch(DataLoader(TensorDataset(x, y), batch_size=batch_size))
    chunks = [(x[i:i + batch_size].astype(np.float64), y[i:i + batch_size].astype(np.float64))
              for i in range(0, len(x), batch_size)]
    weight, bias = numpy_sgd_epoch(start_w, start_b, chunks, lr=0.05, accumulation_steps=accumulation)
    assert trainer.step_count == -(-batches // accumulation), "one step per group, a partial group included"
    np.testing.assert_allclose(values(model.weight), weight, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(values(model.bias), bias, rtol=1e-4, atol=1e-5)


@pytest.mark.points(2)
@pytest.mark.parametrize("start_in_training_mode", [True, False])
def test_evaluate_uses_eval_mode_and_restores_the_callers_mode(start_in_training_mode):
    x, y = regression_data(16, seed=3)
    model = Sequential(Linear(3, 8, seed=0), Dropout(0.5), Linear(8, 1, seed=1))
    model.train(start_in_training_mode)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    first, second = trainer.evaluate(loader)["loss"], trainer.evaluate(loader)["loss"]
    # Eval mode switches dropout off: the loss is the plain two-layer network's, every time.
    first_layer, last_layer = model[0], model[2]
    hidden = x.astype(np.float64) @ values(first_layer.weight) + values(first_layer.bias)
    prediction = hidden @ values(last_layer.weight) + values(last_layer.bias)
    by_hand = np.mean([np.mean((prediction[i:i + 8] - y[i:i + 8]) ** 2) for i in (0, 8)])
    assert first == second, "evaluate() must be deterministic: dropout belongs to training only"
    assert math.isclose(first, by_hand, rel_tol=1e-5)
    assert model.training is start_in_training_mode and model[1].training is start_in_training_mode, (
        "evaluate() must leave the model (and its dropout) in the mode it was in before the call")
