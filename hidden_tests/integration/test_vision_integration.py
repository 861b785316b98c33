"""Vision integration: a small CNN (module 09) trained with modules 01-08 in the student's whole package.

The data are TinyDigits-shaped (1 x 8 x 8 images) but synthetic, generated here with a fixed
seed: each class is a stroke pattern (bar, diagonal, ring, ...) drawn at a random position, plus
noise, so a model must recognise a shape wherever it appears.
"""
import numpy as np
import pytest

from spec.support import run_fresh_python, values
from tinytorch import (SGD, Adam, CosineSchedule, CrossEntropyLoss, DataLoader, Linear, ReLU, Sequential, Tensor,
                       TensorDataset, Trainer, enable_autograd, load_checkpoint, save_checkpoint)
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d

pytestmark = pytest.mark.module(1, 2, 3, 4, 5, 6, 7, 8, 9)

NUM_CLASSES = 6


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def stroke(label: int, rng) -> np.ndarray:
    """One 8x8 image of class `label` at a random position."""
    image = np.zeros((8, 8))
    r, c = rng.integers(0, 4, size=2)
    span = np.arange(5)
    if label == 0:  # horizontal bar
        image[rng.integers(1, 7), c:c + 5] = 1
    elif label == 1:  # vertical bar
        image[r:r + 5, rng.integers(1, 7)] = 1
    elif label == 2:  # diagonal
        image[r + span, c + span] = 1
    elif label == 3:  # anti-diagonal
        image[r + span, c + 4 - span] = 1
    elif label == 4:  # ring
        image[r:r + 4, c:c + 4] = 1
        image[r + 1:r + 3, c + 1:c + 3] = 0
    else:  # plus
        image[r + 2, c:c + 5] = 1
        image[r:r + 5, c + 2] = 1
    return image


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % NUM_CLASSES
    rng.shuffle(labels)
    images = np.stack([stroke(int(label), rng) for label in labels])
    images += rng.normal(scale=0.3, size=images.shape)
    return images[:, None].astype(np.float32), labels


def small_cnn(seed: int = 0) -> Sequential:
    # (N, 1, 8, 8) -> conv 5x5, padding 2 -> (N, 16, 8, 8) -> max pool 4 -> (N, 16, 2, 2) -> (N, 64) -> (N, 6)
    return Sequential(Conv2d(1, 16, 5, padding=2, seed=seed), ReLU(), MaxPool2d(4), Flatten(),
                      Linear(16 * 2 * 2, NUM_CLASSES, seed=seed + 1))


def accuracy(model, images, labels) -> float:
    return float((values(model(Tensor(images))).argmax(axis=1) == labels).mean())


@pytest.mark.points(3)
def test_small_cnn_learns_synthetic_digits():
    train_x, train_y = synthetic_digits(800, seed=0)
    test_x, test_y = synthetic_digits(300, seed=1)
    model, loss_fn = small_cnn(), CrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(train_x, train_y), batch_size=32, shuffle=True, seed=2)
    start = float(loss_fn(model(Tensor(train_x)), train_y).item())
    for _ in range(8):
        for images, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
    end = float(loss_fn(model(Tensor(train_x)), train_y).item())
    assert end < 0.2 * start, f"training loss went from {start:.3f} to {end:.3f}"
    assert accuracy(model, test_x, test_y) > 0.9


@pytest.mark.points(2)
def test_cnn_with_trainer_schedule_clipping_and_checkpoint(tmp_path):
    train_x, train_y = synthetic_digits(360, seed=3)
    model = small_cnn(seed=5)
    loader = DataLoader(TensorDataset(train_x, train_y), batch_size=30, shuffle=True, seed=4)
    epochs = 6
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1, momentum=0.9), CrossEntropyLoss(),
                      schedule=CosineSchedule(0.1, total_steps=epochs * len(loader), warmup_steps=5), clip_norm=5.0)
    start = trainer.evaluate(loader)["loss"]
    history = trainer.fit(loader, epochs=epochs, val_loader=loader)
    assert history[-1]["val_loss"] < 0.2 * start
    assert history[-1]["val_accuracy"] > 0.9
    path = save_checkpoint(model, tmp_path / "cnn")
    restored = small_cnn(seed=99)
    load_checkpoint(restored, path)
    probe = Tensor(train_x[:7])
    np.testing.assert_array_equal(values(restored(probe)), values(model(probe)))


def test_cnn_needs_far_fewer_parameters_than_a_dense_layer_on_the_same_images():
    conv, dense = Conv2d(1, 8, 3, padding=1), Linear(64, 8 * 8 * 8)
    # Both map a 1x8x8 image to 8 feature maps of 8x8; the convolution shares one 3x3 kernel per map.
    assert conv(Tensor(np.zeros((2, 1, 8, 8), dtype=np.float32))).shape == (2, 8, 8, 8)
    assert conv.num_parameters() == 80 and dense.num_parameters() == 33_280


def test_cnn_layers_compute_before_autograd_is_enabled():
    completed = run_fresh_python(
        "import numpy as np\n"
        "from tinytorch import AvgPool2d, Conv2d, Flatten, MaxPool2d, Tensor, is_autograd_enabled\n"
        "assert not is_autograd_enabled()\n"
        "x = Tensor(np.ones((2, 1, 8, 8), dtype=np.float32))\n"
        "out = Flatten()(AvgPool2d(2)(MaxPool2d(2)(Conv2d(1, 3, 3, padding=1, seed=0)(x))))\n"
        "print(out.shape)\n"
    )
    assert completed.returncode == 0, f"the CNN layers fail before enable_autograd():\n{completed.stderr[-1500:]}"
    assert completed.stdout.strip() == "(2, 12)"
