"""The milestone programs: each meets its criterion on the reference, writes its JSON result, and
turns an unfinished module into advice instead of a traceback; `kata milestone` runs them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from grading import REPO_ROOT
from grading.cli import kata
from milestones import MILESTONES
from milestones._common import text_plot
from tests.support.dataset_files import make_batch, mnist_arrays, py2_batch_pickle, write_mnist


def run_milestone(number: int, tmp_path, *options: str) -> tuple[subprocess.CompletedProcess, dict | None]:
    out = tmp_path / f"m{number:02d}.json"
    done = subprocess.run([sys.executable, "-m", f"milestones.{MILESTONES[number]}", "--out", str(out), *options],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    return done, (json.loads(out.read_text()) if out.is_file() else None)


# Milestones whose --quick run still meets the full criterion (5 needs its full 4-minute training).
QUICK_PASS = (1, 2, 3, 4)


@pytest.mark.parametrize("number", QUICK_PASS)
def test_each_milestone_meets_its_criterion_on_the_reference(number, tmp_path):
    done, result = run_milestone(number, tmp_path, "--quick", "--seed", "1")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert result["passed"] is True and result["milestone"] == number and result["quick"] is True
    assert result["seed"] == 1 and result["wall_seconds"] > 0 and result["machine"]["cpu_count"] >= 1
    assert "PASSED" in done.stdout.splitlines()[-1] and result["criterion"] in done.stdout
    plot = tmp_path / f"m{number:02d}.png"  # matplotlib is in the maintainers' extra
    assert result["plot"] == str(plot) and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_digit_milestones_report_their_accuracy(tmp_path):
    _, mlp = run_milestone(3, tmp_path, "--epochs", "6")
    assert mlp["metrics"]["dataset"] == "TinyDigits" and mlp["metrics"]["test_accuracy"] >= 0.95
    assert len(mlp["curves"]["MLP test accuracy"]) == 6
    _, cnn = run_milestone(4, tmp_path, "--quick")
    assert cnn["metrics"]["cnn_parameters"] < cnn["metrics"]["mlp_parameters"], "weight sharing: fewer parameters"


def test_with_data_dir_the_digit_milestones_train_on_mnist_and_cifar10(tmp_path):
    """Tiny files in the official formats (random pixels, so no criterion is met): the milestones read
    them, build the networks for their shapes and say which dataset they judged."""
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    write_mnist(mnist, "train", *mnist_arrays(48, seed=1))
    write_mnist(mnist, "test", *mnist_arrays(16, seed=2))
    done, result = run_milestone(3, tmp_path, "--data-dir", str(mnist), "--epochs", "1")
    assert done.returncode == 1 and result["passed"] is False, done.stdout[-2000:] + done.stderr[-2000:]
    assert "MNIST: 48 training and 16 test images of 784 pixels" in done.stdout
    assert result["criterion"] == ">= 95% test accuracy on MNIST"
    assert result["metrics"]["parameters"] == 784 * 128 + 128 + 128 * 10 + 10

    cifar = tmp_path / "cifar" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for i in range(1, 6):
        (cifar / f"data_batch_{i}").write_bytes(py2_batch_pickle(make_batch(8, seed=i)))
    (cifar / "test_batch").write_bytes(py2_batch_pickle(make_batch(8, seed=9, label="testing batch")))
    done, result = run_milestone(4, tmp_path, "--data-dir", str(cifar.parent), "--epochs", "1")
    assert done.returncode == 1 and result["passed"] is False, done.stdout[-2000:] + done.stderr[-2000:]
    assert "CIFAR-10: 40 training and 8 test images of 3x32x32" in done.stdout
    assert result["criterion"] == "CNN >= 65% test accuracy on CIFAR-10"
    conv = (3 * 9 + 1) * 16 + (16 * 9 + 1) * 32 + (32 * 8 * 8 + 1) * 10
    assert result["metrics"]["cnn_parameters"] == conv
    assert result["metrics"]["mlp_parameters"] == 3072 * 128 + 128 + 128 * 10 + 10


def test_xor_shows_the_single_layer_failing(tmp_path):
    done, result = run_milestone(2, tmp_path)
    assert result["metrics"]["single_layer_accuracy"] <= 0.75 and result["metrics"]["mlp_accuracy"] == 1.0
    assert "not linearly separable" in done.stdout


def test_a_milestone_on_the_stubs_names_the_module_to_finish(tmp_path):
    done, result = run_milestone(1, tmp_path, "--submission", str(REPO_ROOT / "stubs"))
    assert done.returncode == 2 and result is None
    assert "needs a module you have not finished: Module 03 (layers): implement Linear.__init__" in done.stdout \
        or "Module 01 (tensor)" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_submission_without_a_package_is_refused(tmp_path):
    done, _ = run_milestone(1, tmp_path, "--submission", str(tmp_path))
    assert done.returncode != 0 and "expected a directory containing tinytorch/__init__.py" in done.stderr


def test_kata_milestone_runs_one_and_refuses_unknown_or_unbuilt_ones(tmp_path, capsys, monkeypatch):
    from grading.cli import milestone as cli_milestone

    assert kata.main(["milestone", "1", "--quick", "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["passed"] is True
    assert kata.main(["milestone", "9"]) == 2
    assert "unknown milestone 9: expected one of 1, 2, 3, 4, 5, 6" in capsys.readouterr().err
    assert sorted(MILESTONES) == [1, 2, 3, 4, 5, 6], "every milestone of the manifest is built"
    monkeypatch.setattr(cli_milestone, "built_milestones", lambda: {1: "m01_perceptron"})  # a tree part-way there
    assert kata.main(["milestone", "6"]) == 2
    assert "Milestone 6 (2018 MLPerf Benchmarks) is not built yet; built: 1" in capsys.readouterr().err


def test_without_matplotlib_there_is_no_png_and_no_error(tmp_path, monkeypatch):
    from milestones._common import png_plot

    curves = {"loss": [3.0, 2.0, 1.0]}
    assert png_plot(curves, "title", tmp_path / "a.png") == tmp_path / "a.png" and (tmp_path / "a.png").is_file()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an environment without it looks like
    assert png_plot(curves, "title", tmp_path / "b.png") is None and not (tmp_path / "b.png").exists()
    assert png_plot({"single point": [1.0]}, "title", tmp_path / "c.png") is None


def test_text_plot_puts_the_highest_value_on_top():
    rows = text_plot(np.array([0.0, 1.0, 2.0]), width=3, height=3).splitlines()
    assert rows[0].endswith("|  *") and rows[2].endswith("|*  ") and rows[1].endswith("| * ")


def test_a_tree_without_milestones_says_so(tmp_path, monkeypatch, capsys):
    from grading.cli import milestone as cli_milestone

    monkeypatch.setattr(cli_milestone, "REPO_ROOT", tmp_path)
    assert kata.main(["milestone", "1"]) == 2
    assert f"this tree has no milestones/ folder ({tmp_path})" in capsys.readouterr().err


@pytest.mark.parametrize("number", sorted(MILESTONES))
def test_each_milestone_declares_the_modules_the_manifest_gives_it(number):
    import importlib

    from grading.authoring import curriculum as curriculum_module

    declared = importlib.import_module(f"milestones.{MILESTONES[number]}").REQUIRES
    manifest = next(m for m in curriculum_module.load().milestones if m.number == number)
    assert declared == manifest.requires


@pytest.mark.parametrize("number", sorted(MILESTONES))
def test_each_milestone_has_a_hidden_bounded_test_marked_with_its_modules(number):
    import ast
    import importlib

    (test_file,) = (REPO_ROOT / "hidden_tests" / "milestones").glob(f"test_m{number:02d}_*.py")
    tree = ast.parse(test_file.read_text(encoding="utf-8"))
    marks = [node.value for node in tree.body if isinstance(node, ast.Assign)
             and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)]
    assert len(marks) == 1 and marks[0].func.attr == "module", f"{test_file.name} needs pytestmark = pytest.mark.module(...)"
    # The grader runs a milestone test only for courses that assign every module it is marked with.
    assert tuple(ast.literal_eval(arg) for arg in marks[0].args) == \
        importlib.import_module(f"milestones.{MILESTONES[number]}").REQUIRES


def test_the_transformer_milestone_trains_answers_and_compares_with_the_bigram(tmp_path):
    done, result = run_milestone(5, tmp_path, "--quick", "--epochs", "300")
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr[-2000:]
    metrics = result["metrics"]
    assert metrics["steps"] == 30 and metrics["questions"] == 20
    assert 0.0 <= metrics["exact_match"] <= 1.0
    assert 0 < metrics["bigram_validation_loss"] < metrics["validation_loss"] + 10
    curve = result["curves"]["GPT loss"]
    assert curve[-1] < curve[0], "the training loss falls"
    assert "Sample dialogues" in done.stdout and "(reference: " in done.stdout


def test_the_mlperf_milestone_profiles_optimizes_benchmarks_and_submits_a_valid_document(tmp_path):
    import jsonschema

    from grading.reports.submission_schema import SCHEMA_FILE

    done, result = run_milestone(6, tmp_path, "--quick")
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr[-2000:]
    metrics = result["metrics"]
    # The checks that do not depend on this machine's speed (the other two compare measured timings).
    steady = {name: ok for name, ok in metrics["checks"].items() if name not in ("submission_valid", "cache_faster")}
    assert len(steady) == 5 and all(steady.values()), steady
    base = metrics["baseline"]
    assert (base["parameters"], base["bytes"]) == (9610, 4 * 9610)
    assert base["flops"] == 2 * 200 * (64 * 128 + 128 * 10) + 200 * (128 + 10), "counted for the 200 test digits"
    assert metrics["int8"]["bytes"] == 9640 and metrics["int8"]["compression_ratio"] == 38440 / 9640
    assert abs(metrics["pruned"]["sparsity"] - 0.8) < 1e-3 and metrics["pruned"]["bytes"] < 38440 / 2
    submitted = json.loads((tmp_path / "m06-submission.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(submitted)
    assert metrics["submission"]["validate_problems"] == [] and metrics["submission"]["jsonschema_errors"] == []
    assert metrics["submission"]["validators"] == ["validate_submission", "verify_submission", "jsonschema"]
    assert submitted["improvements"] == metrics["submission"]["improvements"]
    assert metrics["kv_cache"]["identical_tokens"] is True
    assert "Profile of one forward call" in done.stdout and "Submission written to" in done.stdout
