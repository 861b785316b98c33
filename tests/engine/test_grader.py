"""`kata grade` on good, partial, broken and hostile submissions.

Each fixture is the reference package with one module file (module 07, optimizers: a fast suite)
rewritten the way a student or an attacker might; it is graded with short limits so the suite stays
quick. Every report is checked against the schema. The claims under test: a bad submission never
crashes the grader, loses only what it broke, and is told why in the report.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from grading import REPO_ROOT
from grading.classroom import payload
from grading.engine.grader import GradeError, GradeOptions, grade
from grading.engine.runner import HIDDEN_PROCESS_FAILED
from grading.reports import render, report as report_module
from tests.support.attacks import PATCH_PYTEST_REPORTS
from tests.support.grading import COURSE, FAST, TARGET, graded, line_of, patch_sgd, runner, submission


# One grade of the reference and one of the stubs serve every test that only reads them (graded once
# per file: each grade is a few seconds of both cores). A test that changes a report copies it first.
@pytest.fixture(scope="module")
def reference_report() -> dict:
    return graded(REPO_ROOT / "reference", modules=(3, 7))


@pytest.fixture(scope="module")
def stubs_report() -> dict:
    return graded(REPO_ROOT / "stubs", modules=(3, 7))


# ---------------------------------------------------------------- good and partial submissions
def test_reference_gets_full_marks_and_scores_add_up_exactly(reference_report):
    report = reference_report
    assert report["score"] == report["max_score"] == 20
    assert [r["status"] for r in report["modules"]] == ["pass", "pass"]
    for module in report["modules"]:
        assert sum(t["score"] for t in module["tests"]) == module["score"] == module["max_score"]
        assert all((t["max_score"] * FAST.score_quantum).is_integer() for t in module["tests"])
        assert module["views"]["isolated"] == module["views"]["integrated"] != {"passed": 0, "total": 0, "problem": None}


def test_untouched_stubs_score_zero_saying_what_to_implement(stubs_report):
    report = stubs_report
    assert report["score"] == 0 and report["max_score"] == 20
    for module in report["modules"]:
        assert module["status"] == "fail"
        assert all(t["message"].startswith("not implemented: Module") or t["suite"] == "hidden"
                   for t in module["tests"]), "visible failures must name the function to implement"
        hidden = [t for t in module["tests"] if t["suite"] == "hidden"]
        assert hidden and all("not implemented" in t["message"] for t in hidden), \
            "a hidden test failing inside the student's own stub may say so"


def test_a_stubbed_module_loses_exactly_that_module_in_isolated_mode(tmp_path):
    stub = (REPO_ROOT / "stubs" / TARGET).read_text()
    report = graded(submission(tmp_path, tinytorch__core__optimizers_py=stub), modules=(3, 7, 8))
    scores = {r["id"]: r["score"] for r in report["modules"]}
    assert scores == {"m03": 10, "m07": 0, "m08": 10}
    m08 = runner(report, "m08")
    assert m08["mode"] == "isolated"
    assert m08["views"]["integrated"]["passed"] < m08["views"]["integrated"]["total"], \
        "the integrated view shows that module 08 breaks on the student's own optimizers"


def test_grading_twice_gives_identical_outcomes_and_scores(reference_report):
    first = reference_report
    second = graded(REPO_ROOT / "reference", modules=(3, 7))
    assert report_module.digest(first) == report_module.digest(second)
    assert [t["outcome"] for t in first["tests"]] == [t["outcome"] for t in second["tests"]]


# ---------------------------------------------------------------- broken submissions
def test_syntax_error_is_reported_with_file_and_line_and_other_modules_still_count(tmp_path):
    root = submission(tmp_path, tinytorch__core__optimizers_py="+\ndef broken(:\n    pass\n")
    report = graded(root, modules=(3, 7))
    m07 = runner(report, "m07")
    assert m07["status"] == "error" and m07["score"] == 0
    assert f"{TARGET}:{line_of(root / TARGET, 'def broken(')}" in m07["message"] and "SyntaxError" in m07["message"]
    assert runner(report, "m03")["score"] == 10


def test_exception_at_import_names_the_exception_and_line(tmp_path):
    root = submission(tmp_path, tinytorch__core__optimizers_py="+\nraise RuntimeError('boom at import')\n")
    m07 = runner(graded(root), "m07")
    assert m07["status"] == "error" and m07["score"] == 0
    assert f"{TARGET}:{line_of(root / TARGET, 'boom at import')}" in m07["message"]
    assert "RuntimeError: boom at import" in m07["message"]


def test_sys_exit_at_import(tmp_path):
    m07 = runner(graded(submission(tmp_path, tinytorch__core__optimizers_py="+\nimport sys\nsys.exit(0)\n")), "m07")
    assert m07["score"] == 0 and "sys.exit(0)" in m07["message"]


def test_infinite_loop_at_import_is_stopped_by_the_import_time_limit(tmp_path):
    m07 = runner(graded(submission(tmp_path, tinytorch__core__optimizers_py="+\nwhile True:\n    pass\n")), "m07")
    assert m07["status"] == "error" and m07["score"] == 0
    assert "did not finish" in m07["message"] and "time limit" in m07["message"]


def test_missing_module_file(tmp_path):
    m07 = runner(graded(submission(tmp_path, tinytorch__core__optimizers_py=None)), "m07")
    assert m07["score"] == 0 and f"{TARGET} is missing from the submission" in m07["message"]


def test_empty_package_is_graded_zero_not_a_crash(tmp_path):
    (tmp_path / "tinytorch").mkdir()
    report = graded(tmp_path)
    assert report["score"] == 0 and runner(report, "m07")["status"] == "error"


# ---------------------------------------------------------------- code that misbehaves while tested


def _with_sgd(tmp_path: Path, body: str) -> Path:
    text = patch_sgd((REPO_ROOT / "reference" / TARGET).read_text(), body)
    return submission(tmp_path, tinytorch__core__optimizers_py=text)


def test_infinite_loop_in_a_function_times_out_per_test_then_the_rest_is_skipped_fast(tmp_path):
    # Budgets of three times a test's cost on the reference (at least half a second): each timeout
    # costs about a second of CPU instead of the manifest's ten times the cost.
    tight = replace(FAST, test_cpu_floor=0.5, test_cpu_factor=3)
    m07 = runner(graded(_with_sgd(tmp_path, "while True:\n    pass"), settings=tight), "m07")
    # The first test to hang is a Hypothesis property: Hypothesis replays a failing example, and the
    # replay must be interrupted too, or the whole run would wait for the wall-clock limit.
    assert m07["tests"][0]["nodeid"].endswith("test_sgd_follows_its_equations") and m07["tests"][0]["timed_out"]
    assert m07["status"] == "fail", "per-test timeouts are recorded failures; the run itself completes"
    timed_out = [t for t in m07["tests"] if t["timed_out"]]
    assert len(timed_out) >= FAST.stop_after_timeouts
    assert all("ran out of time" in t["message"] for t in timed_out if t["suite"] == "visible")
    not_run = [t for t in m07["tests"] if t["outcome"] == "not-run"]
    assert not_run and all(t["message"] == f"not run: {FAST.stop_after_timeouts} tests in a row ran out of time "
                           "before it" if t["suite"] == "visible" else t["message"] == "not run" for t in not_run)


def test_a_run_killed_at_its_cpu_limit_still_reports_every_test_it_owned(tmp_path, reference_report):
    slow_tests = replace(FAST, test_cpu_seconds=60, run_cpu_seconds=4)  # the run's CPU limit fires first
    # Without the calibrated budgets (about a second for these tests), every test's budget is 60 s.
    report = graded(_with_sgd(tmp_path, "while True:\n    pass"), settings=slow_tests, calibrated=False)
    m07 = runner(report, "m07")
    reference_ids = [t["nodeid"] for t in runner(reference_report, "m07")["tests"]]
    assert [t["nodeid"] for t in m07["tests"]] == reference_ids, "one entry per owned test, killed or not"
    assert m07["status"] == "error" and m07["score"] == 0
    assert "time limit" in m07["message"] and "during test_07_optimizers.py::test_" in m07["message"], \
        "visible tests run first, and the message names the one that was running"
    assert {t["outcome"] for t in m07["tests"]} <= {"error", "not-run"}


def test_a_hidden_test_that_ends_the_process_is_not_named(tmp_path, without_policy_scan):
    # lr 1.0 with momentum 0.5 occurs only in a hidden test: make exactly that call exit.
    exit_there = "import os\nif self.lr == 1.0 and self.momentum == 0.5:\n    getattr(os, '_ex' + 'it')(0)"
    report = graded(_with_sgd(tmp_path, exit_there))
    m07 = runner(report, "m07")
    # How the hidden checks' process ended (an exit code, which test) is withheld: it could carry data out.
    assert m07["message"] == HIDDEN_PROCESS_FAILED, m07["message"]
    assert {t["message"] for t in m07["tests"] if t["suite"] == "hidden"} == {"crashed"}
    assert "hidden_tests" not in json.dumps(report) and "test_momentum" not in json.dumps(report)


def test_memory_bomb_in_a_function_fails_that_test_only(tmp_path):
    m07 = runner(graded(_with_sgd(tmp_path, "import numpy\nnumpy.ones(4 * 1024 ** 3 // 8 + 1)")), "m07")
    assert m07["status"] == "fail" and 0 < m07["score"] < 10
    assert any("MemoryError" in (t["message"] or "") for t in m07["tests"] if t["suite"] == "visible")


def test_os_exit_inside_a_test_discards_the_run_and_names_the_test(tmp_path, without_policy_scan):
    m07 = runner(graded(_with_sgd(tmp_path, "import os\ngetattr(os, '_ex' + 'it')(0)")), "m07")
    assert m07["status"] == "error" and m07["score"] == 0
    assert "exited with code 0 during" in m07["message"] and "test_" in m07["message"]


def test_enormous_output_does_not_break_the_grader(tmp_path):
    m07 = runner(graded(_with_sgd(tmp_path, "for _ in range(64):\n    print('x' * 1_000_000)")), "m07")
    assert m07["status"] == "fail" and 0 < m07["score"] < 10, "only the tests that flood lose their points"
    flooded = [t for t in m07["tests"] if t["outcome"] == "failed"]
    assert flooded and all(t["message"] == "the code wrote more output than the grader allows (print less)"
                           if t["suite"] == "visible" else t["message"] == "raised OSError" for t in flooded)


# ---------------------------------------------------------------- tampering

FORGE_CHANNEL_AT_EXIT = """+
import atexit as _atexit
import json as _json
import os as _os


_channel = _os.dup(3)  # a copy of the grader's channel, kept open after pytest closes its own


def _claim_every_test_passed():
    # Written to the grader's channel after pytest's session has ended.
    for when in ("setup", "call", "teardown"):
        _os.write(_channel, (_json.dumps({"event": "phase", "nodeid": "spec/x.py::t", "when": when,
                                          "outcome": "passed"}) + "\\n").encode())


_atexit.register(_claim_every_test_passed)
"""

FORGE_CHANNEL_GARBAGE = """+
import os as _os

_os.write(3, b"this is not a journal line\\n")
"""


@pytest.mark.parametrize("attack", [PATCH_PYTEST_REPORTS, FORGE_CHANNEL_AT_EXIT, FORGE_CHANNEL_GARBAGE],
                         ids=["patch-reports", "forge-channel-at-exit", "garbage-on-the-channel"])
def test_turning_failures_into_passes_is_caught_and_scores_zero(tmp_path, attack, without_policy_scan):
    broken = patch_sgd((REPO_ROOT / "reference" / TARGET).read_text(), "raise ValueError('wrong on purpose')")
    m07 = runner(graded(submission(tmp_path, tinytorch__core__optimizers_py=broken + attack[1:])), "m07")
    assert m07["status"] == "error" and m07["score"] == 0
    assert "tampering" in m07["message"]
    assert {t["message"] for t in m07["tests"] if t["suite"] == "hidden"} == {"tampering detected"}


REWRITE_JOURNAL_FILE = """+
import atexit as _atexit
import sys as _sys


def _rewrite_results():
    for argument in _sys.argv:
        if argument.startswith("--kata-" + "journal="):
            path = argument.split("=", 1)[1]
            with open(path) as handle:
                text = handle.read()
            with open(path, "w") as handle:
                handle.write(text.replace('"outcome": "failed"', '"outcome": "passed"'))


_atexit.register(_rewrite_results)
"""


def test_results_arrive_on_a_pipe_that_no_file_write_can_rewrite(tmp_path, without_policy_scan):
    # The journal is no file any more: rewriting "it" at exit changes nothing, so the grade is the
    # honest grade of the same broken code.
    broken = patch_sgd((REPO_ROOT / "reference" / TARGET).read_text(), "raise ValueError('wrong on purpose')")
    honest = runner(graded(submission(tmp_path / "honest", tinytorch__core__optimizers_py=broken)), "m07")
    attacked = runner(graded(submission(tmp_path / "attack", tinytorch__core__optimizers_py=broken
                                        + REWRITE_JOURNAL_FILE[1:])), "m07")
    assert honest["status"] == attacked["status"] == "fail" and 0 < attacked["score"] == honest["score"] < 10


def test_files_the_submission_writes_do_not_change_the_grade(tmp_path, without_policy_scan):
    # Its scratch (HOME) is writable and private; the work directory is read-only.
    fake = """+
    import json, os
    for folder in ("build", os.path.join(os.path.expanduser("~"), "build")):
        try:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "report.json"), "w") as handle:
                json.dump({"score": 999, "modules": []}, handle)
        except OSError:
            pass
    """
    report = graded(submission(tmp_path, tinytorch__core__optimizers_py=fake))
    assert report["score"] == report["max_score"] == 10


def test_cli_writes_a_valid_report_and_exits_0_even_for_a_zero_grade(tmp_path):
    out = tmp_path / "out" / "report.json"
    completed = subprocess.run([sys.executable, "-m", "grading", "grade", str(REPO_ROOT / "stubs"), "--modules", "7",
                                "--out", str(out), "--format", "markdown"], cwd=tmp_path, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    written = json.loads(out.read_text())
    report_module.validate(written)
    assert written["score"] == 0 and written["max_score"] == 10
    assert completed.stdout.startswith("## TinyTorch grade: 0 / 10")
    assert re.search(r"\[ ?\d/2\] m07 +isolated +0/\d+ passed", completed.stderr), "one progress line per run"


def test_student_edits_to_tests_and_configuration_never_reach_the_grade(tmp_path, reference_report):
    stub = (REPO_ROOT / "stubs" / TARGET).read_text()
    root = submission(tmp_path, tinytorch__core__optimizers_py=stub)
    (root / "spec").mkdir()
    (root / "spec" / "test_07_optimizers.py").write_text("def test_everything():\n    pass\n")
    (root / "conftest.py").write_text(
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:grading.engine.pytest_plugin\n")
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '--co'\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "classroom.yml").write_text("name: everything passes\n")
    m07 = runner(graded(root), "m07")
    assert m07["score"] == 0 and m07["status"] == "fail"
    own_tests = len(runner(reference_report, "m07")["tests"])
    assert len(m07["tests"]) == own_tests > 1, "the grader's own spec and hidden tests ran, not the student's copy"


# ---------------------------------------------------------------- policy
def test_forbidden_import_zeroes_the_module_with_the_reason(tmp_path):
    m07 = runner(graded(submission(tmp_path, tinytorch__core__optimizers_py="+\nimport socket\n")), "m07")
    assert m07["status"] == "error" and m07["score"] == 0
    assert "socket" in m07["message"] and TARGET in m07["message"]


def test_policy_violation_in_one_module_leaves_other_modules_isolated_scores(tmp_path):
    report = graded(submission(tmp_path, tinytorch__core__optimizers_py="+\nimport socket\n"), modules=(3, 7))
    assert runner(report, "m03")["score"] == 10
    assert runner(report, "m03")["views"]["integrated"]["problem"], "the whole package is not run integrated"
    assert report["policy"] and report["policy"][0]["module"] == 7


# ---------------------------------------------------------------- without a reference (the student template)
def test_without_reference_or_hidden_tests_the_visible_spec_grades_the_whole_package(tmp_path):
    report = graded(REPO_ROOT / "reference", reference=None, hidden=None)
    m07 = runner(report, "m07")
    assert (m07["mode"], m07["score"], list(m07["suites"])) == ("integrated", 10, ["visible"])
    assert any("visible-only" in n for n in report["notices"]) and any("no reference" in n for n in report["notices"])


def test_without_reference_a_broken_package_still_counts_every_module_at_full_weight(tmp_path):
    root = submission(tmp_path, tinytorch__core__tensor_py="+\ndef broken(:\n")
    report = graded(root, modules=(3, 7), reference=None, hidden=None)
    assert report["max_score"] == 20 and report["score"] == 0
    for module in report["modules"]:
        assert module["status"] == "error" and "tinytorch/core/tensor.py" in module["message"]


# ---------------------------------------------------------------- report format
def test_hidden_tests_are_anonymous_and_module_objects_are_classroom_payloads(stubs_report):
    report = stubs_report
    hidden = [t for t in report["tests"] if t["suite"] == "hidden"]
    assert hidden
    for test in hidden:
        assert test["name"].startswith("hidden check ") and "hidden_tests" not in json.dumps(test)
    for module in report["modules"]:
        sent = payload.runner_payload(module)
        assert sent["version"] == 1 and sent["status"] == "pass", "a graded module is not a red run"
        assert isinstance(sent["max_score"], (int, float))
        assert all(isinstance(t["score"], (int, float)) and isinstance(t["line_no"], int) for t in sent["tests"])
        assert len(json.dumps(sent)) < 128 * 1024
        assert module["id"].isalnum(), "the Classroom reporter rejects runner ids that are not alphanumeric"


def test_schema_rejects_a_report_with_a_string_score(reference_report):
    report = copy.deepcopy(reference_report)
    report["modules"][0]["tests"][0]["score"] = "1"
    with pytest.raises(Exception, match="is not of type 'number'"):
        report_module.validate(report)


def test_annotations_point_at_the_students_file_and_line(tmp_path):
    root = _with_sgd(tmp_path, "raise ValueError('wrong on purpose')")
    report = graded(root)
    line = line_of(root / TARGET, "wrong on purpose")
    annotations = render.annotations(report)
    assert f"::error file={TARGET},line={line}," in annotations
    assert "wrong on purpose" in annotations
    assert "| ❌ m07 |" in render.markdown(report)


# ---------------------------------------------------------------- misuse
@pytest.mark.parametrize("case", ["missing", "file", "no-package", "unknown-module"])
def test_misuse_exits_2_with_one_line(tmp_path, case):
    target = tmp_path / "thing"
    extra = []
    if case == "file":
        target.write_text("not a directory")
    elif case == "no-package":
        target.mkdir()
    elif case == "unknown-module":
        target, extra = REPO_ROOT / "reference", ["--modules", "42"]
    completed = subprocess.run([sys.executable, "-m", "grading", "grade", str(target), *extra,
                                "--out", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert completed.returncode == 2
    assert completed.stderr.startswith("kata grade: ") and completed.stderr.count("\n") == 1
    assert not (tmp_path / "r.json").exists()


def test_grade_error_for_a_selection_without_tests():
    with pytest.raises(GradeError, match="has no tinytorch/"):
        grade(GradeOptions(submission=REPO_ROOT, tests_root=REPO_ROOT, reference=None, hidden=None), COURSE)


def test_a_grade_made_without_the_sandbox_says_so_in_every_format(monkeypatch):
    from rich.console import Console

    from grading.sandbox import confine as sandbox

    monkeypatch.setattr(sandbox, "isolation", lambda: sandbox.Isolation("none", reason="bubblewrap is not installed"))
    report = graded(REPO_ROOT / "reference")
    assert report["isolation"] == {"kind": "none", "version": None, "reason": "bubblewrap is not installed"}
    assert report["score"] == report["max_score"] == 10, "without the sandbox the grade is still made"
    console = Console(record=True, width=300)
    render.table(report, console)
    for text in (render.markdown(report), render.annotations(report), console.export_text(), json.dumps(report)):
        assert "graded WITHOUT a sandbox (isolation: none): bubblewrap is not installed" in text
    first, second = render.annotations(report).splitlines()[:2]
    assert first == "::notice title=kata grade::Score 10/10: 1 of 1 modules complete"
    assert second.startswith("::warning title=kata grade::graded WITHOUT a sandbox")


# ---------------------------------------------------------------- what the milestone tests read
def test_the_workspace_holds_the_graders_milestones_and_datasets_and_fingerprints_them(tmp_path):
    from grading.engine.workspace import Workspace, tests_fingerprint

    manifest = Path(COURSE.source)
    workspace = Workspace(tmp_path / "work")
    workspace.install_tests(REPO_ROOT, REPO_ROOT / "hidden_tests", manifest)
    for relative in ("milestones/m03_mlp.py", "datasets/SHA256SUMS", "datasets/tinydigits/train.npz",
                     "datasets/tinytalks/train.txt", "hidden_tests/milestones/bounded.py"):
        assert (workspace.root / relative).read_bytes() == (REPO_ROOT / relative).read_bytes(), relative
    assert not [p for p in workspace.root.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    source = tests_fingerprint(REPO_ROOT, manifest, REPO_ROOT / "hidden_tests")
    assert workspace.tests_fingerprint() == source, "a regrade recognises an up-to-date report by this equality"

    view = workspace.test_view(["hidden_tests/milestones/test_m03_mlp.py"])
    assert {workspace.root / "milestones", workspace.root / "datasets",
            workspace.root / "hidden_tests/milestones/bounded.py"} <= set(view)
    assert workspace.root / "hidden_tests/milestones/test_m05_transformer.py" not in view

    data = workspace.root / "datasets/tinydigits/test.npz"
    data.write_bytes(data.read_bytes()[:-1] + b"x")
    assert workspace.tests_fingerprint() != source, "a changed data file changes what decides a grade"


def test_copy_tree_copies_regular_files_only_and_prunes_the_folders_named_by_relative_path(tmp_path):
    from grading.engine.workspace import copy_tree, is_data_file

    source, outside = tmp_path / "source", tmp_path / "outside"
    files = {"a.py": b"a = 1\n", "data/set.npz": b"PK\x03\x04", "sub/templates/kept.txt": b"only the path named is pruned",
             "templates/dropped.txt": b"x", "sub/inner/templates/dropped.txt": b"x", "sub/inner/kept.txt": b"kept",
             "b.pyc": b"\x00", "__pycache__/a.cpython-311.pyc": b"\x00",
             ".pytest_cache/v/cache": b"{}", "sub/.pytest_cache/README.md": b"cache"}
    for relative, data in files.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_bytes(data)
    outside.mkdir()
    (outside / "secret.py").write_text("token = 'x'\n")
    (source / "link.py").symlink_to(outside / "secret.py")
    (source / "linkdir").symlink_to(outside, target_is_directory=True)

    count = copy_tree(source, tmp_path / "copy", keep=is_data_file, prune=("templates", "sub/inner/templates"))
    copied = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*") if p.is_file())
    assert copied == ["a.py", "data/set.npz", "sub/inner/kept.txt", "sub/templates/kept.txt"] and count == 4
    assert all((tmp_path / "copy" / name).read_bytes() == files[name] for name in copied)
    assert not any(p.is_symlink() for p in (tmp_path / "copy").rglob("*"))
