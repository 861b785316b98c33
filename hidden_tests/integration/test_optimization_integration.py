"""Optimization-tier integration: profiling (14), quantization (15), compression (16), acceleration
(17), caching (18), benchmarking (19) and the capstone submission (20) applied to models trained
with modules 01-13 in the student's whole package.

The data are TinyDigits-shaped (64 features = an 8 x 8 image, 10 classes) but synthetic, generated
here with a fixed seed: every class is a fixed random 8 x 8 template, each example the template plus
noise, so an MLP learns them to high accuracy in a few hundred fast full-batch steps.
"""
import copy
import itertools

import numpy as np
import pytest

from spec.support import values
from tinytorch import Adam, CrossEntropyLoss, Linear, ReLU, Sequential, Tensor, enable_autograd
from tinytorch.core.transformer import GPT
from tinytorch.perf.capstone import generate_submission, validate_submission, verify_submission
from tinytorch.perf.compression import MaskedOptimizer, compression_report, magnitude_prune
from tinytorch.perf.memoization import enable_kv_cache, forward_step, cache_for
from tinytorch.perf.profiling import count_flops, profile_model
from tinytorch.perf.quantization import model_bytes, quantize_model

pytestmark = pytest.mark.module(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)

CLASSES = 10


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    templates = np.random.default_rng(1234).uniform(0, 1, size=(CLASSES, 64))
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % CLASSES
    rng.shuffle(labels)
    images = np.clip(templates[labels] + rng.normal(scale=0.35, size=(count, 64)), 0, 1)
    return images.astype(np.float32), labels


def accuracy(model, images, labels) -> float:
    return float((values(model(Tensor(images))).argmax(axis=1) == labels).mean())


def train(model, images, labels, steps, optimizer=None):
    optimizer = optimizer or Adam(model.parameters(), lr=0.01)
    loss_fn, batch = CrossEntropyLoss(), Tensor(images)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(batch), labels).backward()
        optimizer.step()
    return model


@pytest.fixture
def trained():
    """A freshly trained MLP for each test (the same one every time: fixed seeds, full batches)."""
    train_x, train_y = synthetic_digits(1000, seed=0)
    test_x, test_y = synthetic_digits(200, seed=1)
    model = train(Sequential(Linear(64, 128, seed=0), ReLU(), Linear(128, CLASSES, seed=1)), train_x, train_y, 60)
    return model, train_x, train_y, test_x, test_y


@pytest.mark.points(3)
def test_int8_keeps_accuracy_within_two_points_and_shrinks_bytes_four_times(trained):
    model, train_x, _, test_x, test_y = trained
    float_accuracy = accuracy(model, test_x, test_y)
    assert float_accuracy >= 0.9, f"the float MLP should learn the synthetic digits, got {float_accuracy:.3f}"
    quantized = quantize_model(model, [train_x[:200]])
    quantized_accuracy = accuracy(quantized, test_x, test_y)
    assert quantized_accuracy >= float_accuracy - 0.02, (float_accuracy, quantized_accuracy)
    float_bytes = 4 * (64 * 128 + 128 + 128 * CLASSES + CLASSES)
    assert model_bytes(model) == float_bytes
    assert float_bytes / model_bytes(quantized) >= 3.9, f"int8 storage is {model_bytes(quantized)} bytes"


@pytest.mark.points(3)
def test_pruning_to_eighty_percent_with_a_short_fine_tune(trained):
    model, train_x, train_y, test_x, test_y = trained
    pruned = model
    before = accuracy(pruned, test_x, test_y)
    mask = magnitude_prune(pruned, 0.8)
    train(pruned, train_x, train_y, 20, MaskedOptimizer(Adam(pruned.parameters(), lr=0.005), mask))
    weights = [values(layer.weight) for layer in (pruned.layers[0], pruned.layers[2])]
    total = sum(w.size for w in weights)
    assert sum(int((w == 0).sum()) for w in weights) == round(0.8 * total), "exactly 80% of the weights are zero"
    assert accuracy(pruned, test_x, test_y) >= before - 0.02
    report = compression_report(pruned)
    assert report["ratio"] > 2, f"CSR storage of an 80%-sparse model should be well under half: {report}"


@pytest.mark.points(2)
def test_the_profile_of_the_trained_model_counts_its_work(trained):
    model, _, _, test_x, _ = trained
    rows = profile_model(model, Tensor(test_x), warmup=0, repeats=2)
    assert [row["flops"] for row in rows] == [200 * 128 * (2 * 64 + 1), 0, 200 * CLASSES * (2 * 128 + 1)]
    assert sum(row["flops"] for row in rows) == count_flops(model, (200, 64))


@pytest.mark.points(3)
def test_cached_generation_equals_uncached_on_a_trained_gpt():
    sequence = np.random.default_rng(0).integers(0, 12, size=(1, 20))
    model = GPT(vocab_size=12, embed_dim=32, num_heads=2, num_layers=2, max_seq_len=24, seed=0)
    optimizer = Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        model(sequence[:, :-1], sequence[:, 1:])[1].backward()
        optimizer.step()
    enable_kv_cache()
    prompt = sequence[:, :3]
    for options in ({"temperature": 0}, {"temperature": 0.9, "seed": 5}):
        np.testing.assert_array_equal(model.generate(prompt, 21, use_cache=True, **options),
                                      model.generate(prompt, 21, **options))
    model.eval()
    cache = cache_for(model, 1)
    steps = [values(forward_step(model, sequence[:, :5], cache))]
    steps += [values(forward_step(model, sequence[:, t:t + 1], cache)) for t in range(5, 20)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), values(model(sequence)), atol=1e-4, rtol=0)


@pytest.mark.points(3)
def ticking_clock(step: float = 1e-3):
    """A timer that moves one step per reading. Latencies measured on the wall clock move with the
    grading machine's load (a quarter of one CPU, throttled, made one of these checks fail), and a
    verdict must not: the accuracy and the bytes decide this test."""
    readings = itertools.count()
    return lambda: next(readings) * step


def test_a_submission_from_a_real_run_validates_and_a_tampered_one_does_not(trained):
    model, train_x, _, test_x, test_y = trained
    quantized = quantize_model(model, [train_x[:200]])
    document = generate_submission("integration", "synthetic-digits-test", model, quantized, test_x, test_y,
                                   ["int8 quantization"], batch_size=50, warmup=1, repeats=3, timer=ticking_clock())
    assert validate_submission(document) == []
    assert document["improvements"]["compression_ratio"] >= 3.9
    assert abs(document["improvements"]["accuracy_delta"]) <= 0.02
    checked = verify_submission(document, model, quantized, test_x, test_y, latency_tolerance=50.0, repeats=3,
                                timer=ticking_clock())
    assert checked["valid"], checked["problems"]
    tampered = copy.deepcopy(document)
    tampered["optimized"]["accuracy"] = document["optimized"]["accuracy"] - 0.05
    assert validate_submission(tampered) != [], "the accuracy delta no longer matches"
    tampered["improvements"]["accuracy_delta"] = tampered["optimized"]["accuracy"] - tampered["baseline"]["accuracy"]
    assert validate_submission(tampered) == [], "now self-consistent..."
    assert not verify_submission(tampered, model, quantized, test_x, test_y, latency_tolerance=50.0,
                                 repeats=3, timer=ticking_clock())["valid"], "...but the models say otherwise"
