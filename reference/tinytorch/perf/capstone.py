"""Module 20 -- Capstone: an MLPerf-style submission that can be checked, not just believed.

The optimization modules each produced one number. The capstone puts them together the way
MLPerf does: a baseline model and an optimized variant of it are measured on the same fixed
evaluation split, on a recorded machine, and the results go into a JSON document with a versioned
schema. Three rules make such a document trustworthy:

  1. It has a schema (`SUBMISSION_SCHEMA`, JSON Schema draft 2020-12), so every field has a type,
     a range and a meaning. `schema_errors` checks a document against it (the subset of JSON
     Schema the schema uses, written out so the package needs nothing beyond NumPy).
  2. Its numbers agree with each other: the speedup is the ratio of the two latencies, the
     compression ratio the ratio of the bytes, the throughput the batch over the latency
     (`validate_submission`).
  3. Its claims can be re-derived from the models: `verify_submission` recomputes accuracy,
     bytes, parameter counts and the models' identity hashes from the models themselves and
     re-times them, instead of trusting the file.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import time

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor
from tinytorch.perf.benchmarking import environment, run_benchmark
from tinytorch.perf.profiling import count_parameters
from tinytorch.perf.quantization import model_bytes

SCHEMA_VERSION = "1.0.0"

_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_VARIANT = {
    "type": "object",
    "required": ["model_hash", "parameters", "bytes", "accuracy", "latency_ms", "latency_ci_ms", "throughput",
                 "repeats"],
    "additionalProperties": False,
    "properties": {
        "model_hash": _HASH,
        "parameters": {"type": "integer", "minimum": 0},
        "bytes": {"type": "integer", "minimum": 1},
        "accuracy": {"type": "number", "minimum": 0, "maximum": 1},
        "latency_ms": {"type": "number", "exclusiveMinimum": 0},
        "latency_ci_ms": {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": 2, "maxItems": 2},
        "throughput": {"type": "number", "exclusiveMinimum": 0},
        "repeats": {"type": "integer", "minimum": 2},
    },
}
SUBMISSION_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"urn:tinytorch:capstone-submission:{SCHEMA_VERSION}",
    "title": "TinyTorch capstone submission",
    "description": "A baseline and an optimized model measured on one evaluation split on one machine.",
    "type": "object",
    "required": ["schema_version", "submitter", "system", "task", "baseline", "optimized", "improvements"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "submitter": {"type": "string", "minLength": 1},
        "system": {
            "type": "object",
            "required": ["python", "numpy", "platform", "machine", "cpu_count"],
            "properties": {
                "python": {"type": "string"}, "numpy": {"type": "string"}, "platform": {"type": "string"},
                "machine": {"type": "string"}, "cpu_count": {"type": ["integer", "null"], "minimum": 1},
            },
        },
        "task": {
            "type": "object",
            "required": ["name", "eval_examples", "eval_hash", "batch_size"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "eval_examples": {"type": "integer", "minimum": 1},
                "eval_hash": _HASH,
                "batch_size": {"type": "integer", "minimum": 1},
            },
        },
        "baseline": _VARIANT,
        "optimized": {**_VARIANT, "required": _VARIANT["required"] + ["techniques"],
                      "properties": {**_VARIANT["properties"],
                                     "techniques": {"type": "array", "items": {"type": "string", "minLength": 1},
                                                    "minItems": 1}}},
        "improvements": {
            "type": "object",
            "required": ["speedup", "compression_ratio", "accuracy_delta"],
            "additionalProperties": False,
            "properties": {
                "speedup": {"type": "number", "exclusiveMinimum": 0},
                "compression_ratio": {"type": "number", "exclusiveMinimum": 0},
                "accuracy_delta": {"type": "number", "minimum": -1, "maximum": 1},
            },
        },
    },
}
RELATIVE_TOLERANCE = 1e-6   # how closely derived numbers must match the numbers they come from


# ---------------------------------------------------------------- rule 1: the schema
def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def schema_errors(instance, schema: dict = SUBMISSION_SCHEMA, path: str = "$") -> list[str]:
    """Every way `instance` breaks `schema`, as "path: problem" strings (empty when it conforms).

    Supports the JSON Schema keywords the submission schema uses: type (one or a list; an
    integer is also a number, and 2.0 is an integer), const, enum, required, properties,
    additionalProperties (true/false), minimum, maximum, exclusiveMinimum, minLength, pattern
    (searched, as JSON Schema does), items, minItems, maxItems. Other keywords are ignored.

    Args:
        instance (object): a parsed JSON value (dict, list, str, int, float, bool, None).
        schema (dict): the schema (default SUBMISSION_SCHEMA).
        path (str): where instance sits in the document (for the messages).

    Returns:
        list[str]: one message per violation, e.g. "$.baseline.accuracy: 1.5 is above the maximum 1".

    Example:
        >>> schema_errors({"a": "x"}, {"type": "object", "properties": {"a": {"type": "integer"}}})
        ["$.a: expected type integer, got string"]
    """
    ### BEGIN SOLUTION
    errors = []
    kind = _json_type(instance)
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        fits = kind in allowed or (kind == "integer" and "number" in allowed)
        if not fits:
            return [f"{path}: expected type {' or '.join(allowed)}, got {kind}"]
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}, got {instance!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: must be one of {schema['enum']!r}, got {instance!r}")
    if kind in ("integer", "number"):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path}: {instance!r} is below the minimum {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{path}: {instance!r} is above the maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
            errors.append(f"{path}: {instance!r} must be greater than {schema['exclusiveMinimum']}")
        if isinstance(instance, float) and not math.isfinite(instance):
            errors.append(f"{path}: {instance!r} is not a finite number")
    if kind == "string":
        if len(instance) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']} character(s)")
        if "pattern" in schema and re.search(schema["pattern"], instance) is None:
            errors.append(f"{path}: {instance!r} does not match {schema['pattern']}")
    if kind == "array":
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{path}: needs at least {schema['minItems']} item(s), got {len(instance)}")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            errors.append(f"{path}: allows at most {schema['maxItems']} item(s), got {len(instance)}")
        for index, item in enumerate(instance):
            errors += schema_errors(item, schema.get("items", {}), f"{path}[{index}]")
    if kind == "object":
        properties = schema.get("properties", {})
        errors += [f"{path}: missing required field {name!r}" for name in schema.get("required", [])
                   if name not in instance]
        if schema.get("additionalProperties", True) is False:
            errors += [f"{path}: unexpected field {name!r}" for name in instance if name not in properties]
        for name, value in instance.items():
            if name in properties:
                errors += schema_errors(value, properties[name], f"{path}.{name}")
    return errors
    ### END SOLUTION


def schema_json() -> str:
    """The submission schema as JSON text (what a `submission.schema.json` file holds).

    Returns:
        str: json.dumps(SUBMISSION_SCHEMA, indent=2, sort_keys=True) with a final newline.

    Example:
        >>> json.loads(schema_json())["$id"].endswith(SCHEMA_VERSION)
        True
    """
    ### BEGIN SOLUTION
    return json.dumps(SUBMISSION_SCHEMA, indent=2, sort_keys=True) + "\n"
    ### END SOLUTION


# ---------------------------------------------------------------- identities and measurements
def _arrays(obj, prefix: str, seen: set):
    """(dotted name, array) for every array a model holds, in a fixed order."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Tensor):
        yield prefix, obj.data
    elif isinstance(obj, np.ndarray):
        yield prefix, obj
    elif isinstance(obj, (list, tuple)):
        for index, item in enumerate(obj):
            yield from _arrays(item, f"{prefix}.{index}", seen)
    elif type(obj).__module__.startswith("tinytorch") and hasattr(obj, "__dict__"):
        for name in sorted(vars(obj)):
            yield from _arrays(vars(obj)[name], f"{prefix}.{name}", seen)


def model_hash(model) -> str:
    """SHA-256 identity of a model: its layer types and every array it holds, names, dtypes, shapes and bytes.

    Two models hash alike exactly when they hold the same numbers in the same places, so a
    submission can name the model it measured and a verifier can check it is the same one.

    Args:
        model (Module): any model, float or quantized.

    Returns:
        str: 64 lowercase hexadecimal characters.

    Raises:
        TypeError: model is not a Module.

    Example:
        >>> model_hash(Linear(2, 2, seed=0)) == model_hash(Linear(2, 2, seed=0))
        True
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Module):
        raise TypeError(f"model_hash expects a Module, got {type(model).__name__}")
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, array in _arrays(model, "model", set()):
        array = np.ascontiguousarray(array)
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
    ### END SOLUTION


def dataset_hash(inputs, labels) -> str:
    """SHA-256 of an evaluation split (inputs and labels: dtype, shape and bytes).

    Args:
        inputs (np.ndarray): evaluation inputs.
        labels (np.ndarray int): their classes.

    Returns:
        str: 64 lowercase hexadecimal characters.

    Example:
        >>> len(dataset_hash(np.zeros((2, 3)), np.array([0, 1])))
        64
    """
    ### BEGIN SOLUTION
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(inputs), np.ascontiguousarray(labels)):
        digest.update(f"{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
    ### END SOLUTION


def evaluate_accuracy(model, inputs, labels, batch_size: int = 256) -> float:
    """Fraction of examples whose highest-scoring class is the label (no gradients recorded).

    Args:
        model (Module): a classifier returning (N, classes) scores.
        inputs (np.ndarray, shape (N, ...)): the evaluation split.
        labels (np.ndarray int, shape (N,)): its classes.
        batch_size (int): examples per forward call.

    Returns:
        float: correct / N, in [0, 1].

    Raises:
        ValueError: inputs and labels differ in length, the split is empty, or batch_size < 1.

    Example:
        >>> evaluate_accuracy(Linear(2, 2, seed=0), np.eye(2, dtype=np.float32), np.array([0, 1])) in (0.0, 0.5, 1.0)
        True
    """
    ### BEGIN SOLUTION
    inputs, labels = np.asarray(inputs), np.asarray(labels)
    if len(inputs) != len(labels) or len(inputs) == 0:
        raise ValueError(f"evaluate_accuracy: {len(inputs)} inputs and {len(labels)} labels (need equal, > 0)")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"evaluate_accuracy: batch_size must be a positive integer, got {batch_size!r}")
    correct = 0
    with no_grad():
        for start in range(0, len(inputs), int(batch_size)):
            scores = model(Tensor(inputs[start:start + batch_size])).data
            correct += int((scores.argmax(axis=-1) == labels[start:start + batch_size]).sum())
    return correct / len(inputs)
    ### END SOLUTION


def measure_variant(model, inputs, labels, batch_size: int = 32, warmup: int = 2, repeats: int = 10,
                    timer=time.perf_counter) -> dict:
    """Everything the schema records about one model, measured now.

    Latency is run_benchmark of one forward call on the first batch_size examples (no gradients);
    throughput is batch_size / mean latency; accuracy is over the whole split.

    Args:
        model (Module): the classifier.
        inputs (np.ndarray, shape (N, ...)): evaluation inputs (N >= batch_size).
        labels (np.ndarray int, shape (N,)): their classes.
        batch_size (int): examples per timed call.
        warmup (int): untimed calls.
        repeats (int): timed calls (>= 2).
        timer (callable): clock in seconds.

    Returns:
        dict: {"model_hash", "parameters", "bytes", "accuracy", "latency_ms" (mean),
        "latency_ci_ms" ([low, high], 95%), "throughput" (examples per second), "repeats"}.

    Raises:
        ValueError: fewer than batch_size examples, or bad counts.

    Example:
        >>> sorted(measure_variant(Linear(2, 2), np.eye(2, dtype=np.float32), np.array([0, 1]), batch_size=2))[:2]
        ['accuracy', 'bytes']
    """
    ### BEGIN SOLUTION
    inputs = np.asarray(inputs)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= len(inputs):
        raise ValueError(f"measure_variant: batch_size must be in [1, {len(inputs)}], got {batch_size!r}")
    batch = Tensor(inputs[:batch_size])

    def one_batch():
        with no_grad():
            model(batch)

    timing = run_benchmark(one_batch, warmup=warmup, repeats=repeats, timer=timer)
    return {
        "model_hash": model_hash(model), "parameters": count_parameters(model), "bytes": model_bytes(model),
        "accuracy": evaluate_accuracy(model, inputs, labels), "latency_ms": timing["mean"] * 1e3,
        "latency_ci_ms": [max(0.0, timing["ci_low"] * 1e3), timing["ci_high"] * 1e3],
        "throughput": int(batch_size) / timing["mean"], "repeats": timing["n"],
    }
    ### END SOLUTION


# ---------------------------------------------------------------- writing a submission
def generate_submission(submitter: str, task: str, baseline, optimized, inputs, labels, techniques,
                        batch_size: int = 32, warmup: int = 2, repeats: int = 10, timer=time.perf_counter) -> dict:
    """Measure a baseline and its optimized variant and write the submission document.

    Args:
        submitter (str): who submits.
        task (str): name of the task / evaluation split.
        baseline (Module): the original model.
        optimized (Module): the optimized variant (quantized, pruned, ...).
        inputs (np.ndarray): evaluation inputs (the fixed split).
        labels (np.ndarray int): evaluation labels.
        techniques (list[str]): what was applied, e.g. ["int8 quantization"].
        batch_size (int): examples per timed call.
        warmup (int): untimed calls per model.
        repeats (int): timed calls per model (>= 2).
        timer (callable): clock in seconds.

    Returns:
        dict: a document for which schema_errors(...) and validate_submission(...) are empty.
        improvements: speedup = baseline latency / optimized latency, compression_ratio =
        baseline bytes / optimized bytes, accuracy_delta = optimized - baseline accuracy.

    Raises:
        ValueError: techniques is empty, or the measurement arguments are bad.

    Example:
        >>> doc = generate_submission("me", "toy", Linear(2, 2), Linear(2, 2), np.eye(2, dtype=np.float32),
        ...                           np.array([0, 1]), ["nothing"], batch_size=2)
        >>> doc["schema_version"]
        '1.0.0'
    """
    ### BEGIN SOLUTION
    techniques = [str(t) for t in techniques]
    if not techniques:
        raise ValueError("generate_submission: name at least one optimization technique")
    options = {"batch_size": batch_size, "warmup": warmup, "repeats": repeats, "timer": timer}
    base = measure_variant(baseline, inputs, labels, **options)
    fast = {**measure_variant(optimized, inputs, labels, **options), "techniques": techniques}
    system = environment()
    return {
        "schema_version": SCHEMA_VERSION,
        "submitter": str(submitter),
        "system": {key: system[key] for key in ("python", "numpy", "platform", "machine", "cpu_count")},
        "task": {"name": str(task), "eval_examples": int(len(labels)), "eval_hash": dataset_hash(inputs, labels),
                 "batch_size": int(batch_size)},
        "baseline": base,
        "optimized": fast,
        "improvements": {"speedup": base["latency_ms"] / fast["latency_ms"],
                         "compression_ratio": base["bytes"] / fast["bytes"],
                         "accuracy_delta": fast["accuracy"] - base["accuracy"]},
    }
    ### END SOLUTION


# ---------------------------------------------------------------- rule 2: numbers that agree
def _close(claimed, derived) -> bool:
    return math.isclose(claimed, derived, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def validate_submission(submission) -> list[str]:
    """Schema errors plus every number that disagrees with the numbers it is derived from.

    Semantic checks (each only once the schema holds): speedup = baseline latency / optimized
    latency; compression_ratio = baseline bytes / optimized bytes; accuracy_delta = optimized -
    baseline accuracy; throughput = batch_size / latency (per variant); the latency lies inside its
    confidence interval; accuracy * eval_examples is a whole number of correct examples. Ratios
    agree to RELATIVE_TOLERANCE.

    Args:
        submission (dict | str): the document, or its JSON text.

    Returns:
        list[str]: problems, empty when the submission is valid.

    Example:
        >>> validate_submission({"schema_version": "1.0.0"})[0]
        "$: missing required field 'submitter'"
    """
    ### BEGIN SOLUTION
    if isinstance(submission, str):
        try:
            submission = json.loads(submission)
        except json.JSONDecodeError as error:
            return [f"$: not valid JSON ({error.msg} at line {error.lineno})"]
    problems = schema_errors(submission)
    if problems:
        return problems
    task, improvements = submission["task"], submission["improvements"]
    base, fast = submission["baseline"], submission["optimized"]
    derived = {
        "speedup": base["latency_ms"] / fast["latency_ms"],
        "compression_ratio": base["bytes"] / fast["bytes"],
        "accuracy_delta": fast["accuracy"] - base["accuracy"],
    }
    for name, value in derived.items():
        if not _close(improvements[name], value):
            problems.append(f"$.improvements.{name}: claims {improvements[name]!r} but the measurements give {value!r}")
    for label, variant in (("baseline", base), ("optimized", fast)):
        throughput = task["batch_size"] / (variant["latency_ms"] / 1e3)
        if not _close(variant["throughput"], throughput):
            problems.append(f"$.{label}.throughput: claims {variant['throughput']!r} but batch_size / latency is {throughput!r}")
        low, high = variant["latency_ci_ms"]
        if not low <= variant["latency_ms"] <= high:
            problems.append(f"$.{label}.latency_ms: {variant['latency_ms']!r} lies outside its interval [{low}, {high}]")
        correct = variant["accuracy"] * task["eval_examples"]
        if abs(correct - round(correct)) > 1e-6:
            problems.append(f"$.{label}.accuracy: {variant['accuracy']!r} is not a whole number of correct examples "
                            f"out of {task['eval_examples']}")
    return problems
    ### END SOLUTION


# ---------------------------------------------------------------- rule 3: re-derive from the models
def verify_submission(submission, baseline, optimized, inputs, labels, latency_tolerance: float = 2.0,
                      warmup: int = 2, repeats: int = 10, timer=time.perf_counter) -> dict:
    """Recompute a submission's claims from the models and the evaluation split.

    Exact checks: the split's hash and size, each model's hash, parameter count, bytes and
    accuracy. Timing is re-measured (it can never match exactly): the claimed speedup must lie
    within a factor latency_tolerance of the re-measured one.

    Args:
        submission (dict): the document (validate_submission is run first).
        baseline (Module): the model claimed as baseline.
        optimized (Module): the model claimed as optimized.
        inputs (np.ndarray): the evaluation inputs.
        labels (np.ndarray int): the evaluation labels.
        latency_tolerance (float): allowed factor between claimed and re-measured speedup (>= 1).
        warmup (int): untimed calls per model.
        repeats (int): timed calls per model.
        timer (callable): clock in seconds.

    Returns:
        dict: {"valid" (bool), "problems" (list[str]), "measured_speedup" (float | None)}.

    Raises:
        ValueError: latency_tolerance < 1.

    Example:
        >>> x, y = np.eye(2, dtype=np.float32), np.array([0, 1]); model = Linear(2, 2, seed=0)
        >>> doc = generate_submission("me", "toy", model, model, x, y, ["none"], batch_size=2)
        >>> verify_submission(doc, model, model, x, y, latency_tolerance=100.0)["problems"]
        []
    """
    ### BEGIN SOLUTION
    if isinstance(latency_tolerance, bool) or not isinstance(latency_tolerance, (int, float)) or latency_tolerance < 1:
        raise ValueError(f"verify_submission: latency_tolerance must be a number >= 1, got {latency_tolerance!r}")
    problems = validate_submission(submission)
    if problems:
        return {"valid": False, "problems": problems, "measured_speedup": None}
    task = submission["task"]
    if task["eval_hash"] != dataset_hash(inputs, labels) or task["eval_examples"] != len(labels):
        problems.append("$.task: the evaluation split is not the one the submission was measured on")
    remeasured = {}
    for label, model in (("baseline", baseline), ("optimized", optimized)):
        claimed = submission[label]
        measured = measure_variant(model, inputs, labels, batch_size=min(task["batch_size"], len(labels)),
                                   warmup=warmup, repeats=repeats, timer=timer)
        remeasured[label] = measured
        for field in ("model_hash", "parameters", "bytes", "accuracy"):
            if claimed[field] != measured[field]:
                problems.append(f"$.{label}.{field}: claims {claimed[field]!r}, the model gives {measured[field]!r}")
    speedup = remeasured["baseline"]["latency_ms"] / remeasured["optimized"]["latency_ms"]
    claimed_speedup = submission["improvements"]["speedup"]
    if not 1 / latency_tolerance <= claimed_speedup / speedup <= latency_tolerance:
        problems.append(f"$.improvements.speedup: claims {claimed_speedup:.3g}x, re-measured {speedup:.3g}x "
                        f"(more than a factor {latency_tolerance} apart)")
    return {"valid": not problems, "problems": problems, "measured_speedup": speedup}
    ### END SOLUTION
