"""Module 20 -- Capstone: the visible specification.

Run just this module:  pytest spec/test_20_capstone.py     (or: kata test 20)
The schema is checked with the `jsonschema` library (draft 2020-12), which is also the oracle for
schema_errors; hashes are recomputed here with hashlib; accuracies and bytes are worked out here with
NumPy from the models' own weights; latencies come from a fake clock the tests own.
"""
import copy
import hashlib
import json

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spec.support import examples, values
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.perf.capstone import (SCHEMA_VERSION, SUBMISSION_SCHEMA, dataset_hash, evaluate_accuracy,
                                     generate_submission, model_hash, schema_errors, schema_json,
                                     validate_submission, verify_submission)

pytestmark = pytest.mark.module(20)

VALIDATOR = jsonschema.Draft202012Validator(SUBMISSION_SCHEMA)


class FakeClock:
    """Each timed call takes the next of `durations` seconds (cycled)."""

    def __init__(self, durations):
        self.durations, self.now, self.reads = list(durations), 0.0, 0

    def __call__(self):
        self.reads += 1
        if self.reads % 2 == 0:  # the reading after a call
            self.now += self.durations[(self.reads // 2 - 1) % len(self.durations)]
        return self.now


def split(count=40, seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(count, 4)).astype(np.float32)
    return inputs, inputs[:, :3].argmax(axis=1)


def two_models():
    big = Sequential(Linear(4, 16, seed=0), ReLU(), Linear(16, 3, seed=1))
    small = Sequential(Linear(4, 3, seed=2))
    return big, small


def submission(clock=None):
    inputs, labels = split()
    big, small = two_models()
    clock = clock or FakeClock([0.010, 0.012] * 3 + [0.004, 0.005] * 3)
    return generate_submission("ada", "toy-split", big, small, inputs, labels, ["smaller model"], batch_size=8,
                               warmup=1, repeats=6, timer=clock)


# ---------------------------------------------------------------- the schema
def test_the_schema_is_a_valid_versioned_json_schema():
    jsonschema.Draft202012Validator.check_schema(SUBMISSION_SCHEMA)
    assert SUBMISSION_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SUBMISSION_SCHEMA["$id"].endswith(SCHEMA_VERSION)
    assert SUBMISSION_SCHEMA["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert json.loads(schema_json()) == SUBMISSION_SCHEMA


def test_a_generated_submission_satisfies_the_schema():
    document = submission()
    assert VALIDATOR.is_valid(document), [e.message for e in VALIDATOR.iter_errors(document)]
    assert schema_errors(document) == []
    assert validate_submission(document) == []
    assert validate_submission(json.dumps(document)) == [], "JSON text is accepted too"


BAD_VALUES = [None, True, -1, 0, 0.5, 1.5, 7, "", "x", "f" * 64, [], [1.0], [1.0, 2.0, 3.0], {}, {"x": 1}]


@pytest.mark.points(3)
@settings(max_examples=examples(60))
@given(data=st.data())
def test_schema_errors_agree_with_jsonschema_on_every_broken_field(data):
    document = submission()
    paths = [(key,) for key in document] + [(key, inner) for key, value in document.items()
                                            if isinstance(value, dict) for inner in value]
    path = data.draw(st.sampled_from(paths))
    broken = copy.deepcopy(document)
    target = broken
    for key in path[:-1]:
        target = target[key]
    if data.draw(st.booleans()):
        del target[path[-1]]
    else:
        target[path[-1]] = data.draw(st.sampled_from(BAD_VALUES))
    expected_valid = VALIDATOR.is_valid(broken)
    errors = schema_errors(broken)
    assert (errors == []) == expected_valid, f"jsonschema says valid={expected_valid} for {path}, got {errors}"


# ---------------------------------------------------------------- identities
def test_model_hash_names_exactly_the_numbers_a_model_holds():
    first, _ = two_models()
    again, _ = two_models()
    assert model_hash(first) == model_hash(again) and len(model_hash(first)) == 64
    int(model_hash(first), 16)
    again.layers[2].bias.data = values(again.layers[2].bias) + np.float32(1e-3)
    assert model_hash(again) != model_hash(first), "changing one number changes the identity"


def test_dataset_hash_covers_dtype_shape_and_bytes():
    inputs, labels = split(5)
    digest = hashlib.sha256()
    for array in (inputs, labels):
        digest.update(f"{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    assert dataset_hash(inputs, labels) == digest.hexdigest()
    assert dataset_hash(inputs.astype(np.float64), labels) != dataset_hash(inputs, labels)


def test_accuracy_is_the_fraction_of_correct_argmaxes():
    inputs, labels = split(50, seed=3)
    layer = Linear(4, 3, seed=5)
    predicted = (inputs @ values(layer.weight) + values(layer.bias)).argmax(axis=1)
    assert evaluate_accuracy(layer, inputs, labels, batch_size=7) == pytest.approx(np.mean(predicted == labels))


# ---------------------------------------------------------------- generating
@pytest.mark.points(3)
def test_submission_numbers_come_from_the_measurements():
    inputs, labels = split()
    big, small = two_models()
    document = submission()
    base, fast = document["baseline"], document["optimized"]
    assert base["latency_ms"] == pytest.approx(11.0) and fast["latency_ms"] == pytest.approx(4.5)
    assert base["repeats"] == 6 and fast["techniques"] == ["smaller model"]
    assert base["throughput"] == pytest.approx(8 / 0.011) and fast["throughput"] == pytest.approx(8 / 0.0045)
    assert base["latency_ci_ms"][0] < 11.0 < base["latency_ci_ms"][1]
    assert base["parameters"] == 4 * 16 + 16 + 16 * 3 + 3 and fast["parameters"] == 4 * 3 + 3
    assert base["bytes"] == 4 * base["parameters"] and fast["bytes"] == 4 * fast["parameters"]
    hidden = np.maximum(inputs @ values(big.layers[0].weight) + values(big.layers[0].bias), 0)
    big_pred = (hidden @ values(big.layers[2].weight) + values(big.layers[2].bias)).argmax(axis=1)
    assert base["accuracy"] == pytest.approx(np.mean(big_pred == labels))
    improvements = document["improvements"]
    assert improvements["speedup"] == pytest.approx(11.0 / 4.5)
    assert improvements["compression_ratio"] == pytest.approx(base["bytes"] / fast["bytes"])
    assert improvements["accuracy_delta"] == pytest.approx(fast["accuracy"] - base["accuracy"])
    assert document["task"] == {"name": "toy-split", "eval_examples": 40, "eval_hash": dataset_hash(inputs, labels),
                                "batch_size": 8}
    assert document["system"]["numpy"] == np.__version__


# ---------------------------------------------------------------- validating
def _tamper(document, path, value):
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value(target[path[-1]]) if callable(value) else value
    return document


@pytest.mark.points(3)
@pytest.mark.parametrize("path, value, says", [
    (("improvements", "speedup"), lambda v: v * 2, "improvements.speedup"),
    (("improvements", "compression_ratio"), lambda v: v + 1, "improvements.compression_ratio"),
    (("improvements", "accuracy_delta"), lambda v: v + 0.125, "improvements.accuracy_delta"),
    (("optimized", "bytes"), lambda v: v // 2, "improvements.compression_ratio"),
    (("baseline", "throughput"), lambda v: v * 1.5, "baseline.throughput"),
    (("optimized", "latency_ci_ms"), [100.0, 200.0], "optimized.latency_ms"),
    (("baseline", "accuracy"), 1.5, "baseline.accuracy"),
    (("baseline", "accuracy"), 0.123456, "baseline.accuracy"),
    (("optimized", "model_hash"), "not-a-hash", "optimized.model_hash"),
], ids=["speedup", "compression", "accuracy-delta", "bytes", "throughput", "interval", "accuracy-range",
        "accuracy-count", "hash-format"])
def test_a_tampered_submission_is_caught(path, value, says):
    problems = validate_submission(_tamper(submission(), path, value))
    assert problems, "the tampered document was accepted"
    assert any(says in problem for problem in problems), problems


@pytest.mark.points(3)
def test_the_verifier_recomputes_instead_of_trusting_the_file():
    inputs, labels = split()
    big, small = two_models()
    document = submission()
    timing = {"timer": FakeClock([0.010, 0.012] * 3 + [0.004, 0.005] * 3), "warmup": 1, "repeats": 6}
    honest = verify_submission(document, big, small, inputs, labels, **timing)
    assert honest == {"valid": True, "problems": [], "measured_speedup": pytest.approx(11.0 / 4.5)}
    swapped = verify_submission(document, small, big, inputs, labels, **timing)
    assert swapped["valid"] is False and any("baseline.model_hash" in p for p in swapped["problems"])
    other_split = verify_submission(document, big, small, *split(seed=9), **timing)
    assert other_split["valid"] is False and any("$.task" in p for p in other_split["problems"])
    # A consistent lie: every latency number of the optimized model rewritten to claim 20x.
    liar = copy.deepcopy(document)
    liar["optimized"]["latency_ms"] = liar["baseline"]["latency_ms"] / 20
    liar["optimized"]["latency_ci_ms"] = [liar["optimized"]["latency_ms"]] * 2
    liar["optimized"]["throughput"] = 8 / (liar["optimized"]["latency_ms"] / 1e3)
    liar["improvements"]["speedup"] = 20.0
    assert validate_submission(liar) == [], "the lie is self-consistent"
    caught = verify_submission(liar, big, small, inputs, labels, **timing)
    assert caught["valid"] is False and any("speedup" in p for p in caught["problems"])
