"""Milestone 6 (2018): the MLPerf-style round on the package's own modules 14-20.

Only what does not depend on the machine's speed is checked: sizes, accuracies, identical tokens,
and a submission whose every exact claim survives re-measurement (its timing is re-measured too, but
with a tolerance so wide that only the exact fields decide)."""
import json

import pytest

from hidden_tests.milestones.bounded import program, quiet_run

pytestmark = pytest.mark.module(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)

# Bounded: 3 baseline epochs, 1 fine-tuning epoch, 24 generated tokens, 3 timed repeats.
EPOCHS, TUNE_EPOCHS, NEW_TOKENS, REPEATS = 3, 1, 24, 3
BASELINE_TARGET = 0.90


@pytest.fixture
def round_parts(tmp_path):
    from tinytorch import enable_autograd

    milestone, run = program(6), quiet_run(6, tmp_path)
    enable_autograd()
    _, *data = program(3).load()  # TinyDigits, flat
    baseline = milestone.mlp(0)
    accuracy = program(3).fit(run, baseline, *data, EPOCHS, "baseline")
    baseline.eval()
    assert accuracy >= BASELINE_TARGET, f"the baseline MLP should reach {BASELINE_TARGET:.0%} in {EPOCHS} epochs, got {accuracy:.1%}"
    return milestone, run, baseline, data


@pytest.mark.points(2)
def test_int8_and_pruned_variants_keep_accuracy_at_a_fraction_of_the_size(round_parts):
    from tinytorch.perf.capstone import evaluate_accuracy
    from tinytorch.perf.quantization import model_bytes

    milestone, run, baseline, (x, y, tx, ty) = round_parts
    base = evaluate_accuracy(baseline, tx, ty)
    int8 = milestone.quantized(baseline, x[:milestone.CALIBRATION_EXAMPLES])
    assert model_bytes(baseline) / model_bytes(int8) >= milestone.INT8_MIN_RATIO, "int8 storage is 4x smaller"
    assert evaluate_accuracy(int8, tx, ty) >= base - milestone.INT8_BUDGET
    sparse = milestone.magnitude_pruned(run, baseline, (x, y, tx, ty), TUNE_EPOCHS)
    weights = [p.data for p in sparse.parameters() if p.data.ndim == 2]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
    assert abs(zeros - milestone.SPARSITY) < 1e-3, f"fine-tuning must keep {milestone.SPARSITY:.0%} of weights at 0, has {zeros:.1%}"
    assert evaluate_accuracy(sparse, tx, ty) >= base - milestone.PRUNED_BUDGET


@pytest.mark.points(1)
def test_cached_generation_gives_the_uncached_tokens(tmp_path):
    from tinytorch import enable_autograd
    from tinytorch.perf.memoization import enable_kv_cache

    enable_autograd()
    enable_kv_cache()
    result = program(6).kv_cache_check(quiet_run(6, tmp_path), seed=3, new_tokens=NEW_TOKENS)
    assert result["identical_tokens"] is True, "greedy generation with the KV cache must give the uncached tokens"


@pytest.mark.points(2)
def test_the_submission_validates_against_the_schema_and_survives_remeasurement(round_parts, tmp_path):
    import jsonschema
    from tinytorch.perf.capstone import generate_submission, validate_submission, verify_submission

    milestone, _, baseline, (x, _, tx, ty) = round_parts
    int8 = milestone.quantized(baseline, x[:milestone.CALIBRATION_EXAMPLES])
    document = generate_submission("hidden check", "TinyDigits test split", baseline, int8, tx, ty,
                                   ["int8 quantization"], batch_size=len(tx), repeats=REPEATS)
    document = json.loads(json.dumps(document))  # what lands on disk
    schema = json.loads(milestone.SCHEMA_FILE.read_text(encoding="utf-8"))
    errors = [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(document)]
    assert errors == [], f"the submission breaks the published schema: {errors[:3]}"
    assert validate_submission(document) == []
    assert document["improvements"]["compression_ratio"] >= milestone.INT8_MIN_RATIO
    assert document["task"]["eval_examples"] == len(ty) == 200
    verdict = verify_submission(document, baseline, int8, tx, ty, latency_tolerance=1e9, repeats=REPEATS)
    assert verdict["valid"] and verdict["problems"] == [], verdict["problems"][:3]
