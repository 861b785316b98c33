"""Module 20 -- Capstone: held-out checks (schema keywords one by one, integer-valued floats,
booleans that are not numbers, non-finite numbers, layer order in identities, batch edges, bad
arguments).

The oracle for schema verdicts is the jsonschema library; other expectations are written here.
"""
import copy
import json

import jsonschema
import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.perf.capstone import (evaluate_accuracy, generate_submission, measure_variant,
                                     model_hash, schema_errors, validate_submission, verify_submission)

pytestmark = pytest.mark.module(20)


def clock():
    now = [0.0]

    def read():
        now[0] += 0.001
        return now[0]
    return read


def document():
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(16, 3)).astype(np.float32)
    labels = rng.integers(0, 2, 16)
    model = Sequential(Linear(3, 2, seed=0))
    return generate_submission("bo", "tiny", model, model, inputs, labels, ["none"], batch_size=4, warmup=0,
                               repeats=3, timer=clock()), model, inputs, labels


@pytest.mark.parametrize("schema, instance, valid", [
    ({"type": "number"}, 3, True),
    ({"type": "number"}, True, False),
    ({"type": "integer"}, 2.0, True),
    ({"type": "integer"}, 2.5, False),
    ({"type": ["integer", "null"]}, None, True),
    ({"const": "1.0.0"}, "1.0.1", False),
    ({"type": "string", "pattern": "^[0-9a-f]{4}$"}, "beef", True),
    ({"type": "string", "pattern": "^[0-9a-f]{4}$"}, "BEEF", False),
    ({"type": "number", "exclusiveMinimum": 0}, 0, False),
    ({"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}, [1, "2"], False),
    ({"type": "object", "required": ["a"], "additionalProperties": False, "properties": {"a": {}}}, {"a": 1}, True),
    ({"type": "object", "required": ["a"], "additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2},
     False),
])
def test_each_keyword_agrees_with_jsonschema(schema, instance, valid):
    assert jsonschema.Draft202012Validator(schema).is_valid(instance) is valid, "the oracle itself"
    assert (schema_errors(instance, schema) == []) is valid


def test_a_null_cpu_count_is_allowed_and_an_infinite_latency_is_not():
    doc, *_ = document()
    doc["system"]["cpu_count"] = None
    assert schema_errors(doc) == []
    doc["baseline"]["latency_ms"] = float("inf")
    assert schema_errors(doc), "Infinity is not a JSON number"


def test_messages_name_the_path_of_the_problem():
    doc, *_ = document()
    del doc["task"]["batch_size"]
    doc["optimized"]["techniques"] = []
    problems = validate_submission(doc)
    assert "$.task: missing required field 'batch_size'" in problems
    assert any(p.startswith("$.optimized.techniques: needs at least 1") for p in problems)
    assert validate_submission("{not json")[0].startswith("$: not valid JSON")


def test_identity_depends_on_where_numbers_are_not_just_which():
    a, b = Linear(2, 2, seed=0), Linear(2, 2, seed=1)
    assert model_hash(Sequential(a, ReLU(), b)) != model_hash(Sequential(b, ReLU(), a))
    with pytest.raises(TypeError):
        model_hash("model")


def test_accuracy_and_measurement_arguments():
    inputs = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError):
        evaluate_accuracy(Linear(3, 3), inputs, np.array([0, 1]))
    with pytest.raises(ValueError):
        evaluate_accuracy(Linear(3, 3), inputs, np.array([0, 1, 2]), batch_size=0)
    with pytest.raises(ValueError):
        measure_variant(Linear(3, 3), inputs, np.array([0, 1, 2]), batch_size=4)
    layer = Linear(3, 3, seed=0)
    layer.weight.data = np.eye(3, dtype=np.float32) * 5
    assert evaluate_accuracy(layer, inputs, np.array([0, 1, 1]), batch_size=1) == pytest.approx(2 / 3)


def test_a_submission_needs_a_technique_and_a_sane_tolerance():
    doc, model, inputs, labels = document()
    with pytest.raises(ValueError):
        generate_submission("bo", "tiny", model, model, inputs, labels, [], batch_size=4, timer=clock())
    with pytest.raises(ValueError):
        verify_submission(doc, model, model, inputs, labels, latency_tolerance=0.5)


def test_verification_stops_at_an_invalid_document():
    doc, model, inputs, labels = document()
    broken = copy.deepcopy(doc)
    broken["improvements"]["speedup"] = -1.0
    result = verify_submission(broken, model, model, inputs, labels, timer=clock(), repeats=3)
    assert result["valid"] is False and result["measured_speedup"] is None


def test_a_document_survives_a_round_trip_through_json():
    doc, model, inputs, labels = document()
    text = json.dumps(doc)
    assert validate_submission(json.loads(text)) == []
    again = verify_submission(json.loads(text), model, model, inputs, labels, timer=clock(), warmup=0, repeats=3)
    assert again["valid"] is True, again["problems"]
