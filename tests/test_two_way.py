"""CI's two-way proof: every spec/hidden test passes on reference/ and fails on stubs/.

A test that passes on the stubs checks nothing a student wrote; a stub failure that does not
say which function to implement leaves the student guessing. Both are caught here.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grading import REPO_ROOT, curriculum as curriculum_module, stubgen
from grading.progress import run_pytest_json

COURSE = curriculum_module.load()
TEST_ROOTS = ["spec", "hidden_tests"]
NAMED_STUB_FAILURE = re.compile(r"NotImplementedError: Module \d\d \(\w+\): implement [\w.]+")


def _run(submission: str) -> dict:
    env = {"TINYTORCH_HYPOTHESIS_PROFILE": "grading", "PATH": "/usr/bin:/bin"}
    return run_pytest_json([*TEST_ROOTS, "--submission", submission], cwd=REPO_ROOT, env=env)


@pytest.fixture(scope="module")
def stub_report():
    return _run("stubs")


@pytest.fixture(scope="module")
def reference_report():
    return _run("reference")


def _failure_text(test: dict) -> str:
    return "\n".join(str((test.get(phase) or {}).get("longrepr", "")) for phase in ("setup", "call", "teardown"))


def test_every_test_passes_on_the_reference(reference_report):
    tests = reference_report["tests"]
    assert tests, "no spec/hidden tests were collected"
    not_passed = [t["nodeid"] for t in tests if t["outcome"] != "passed"]
    assert not not_passed, f"{len(not_passed)} test(s) do not pass on reference/: {not_passed[:10]}"


def test_every_test_fails_on_the_stubs_naming_what_to_implement(stub_report):
    tests = stub_report["tests"]
    assert tests, "no spec/hidden tests were collected"
    passed = [t["nodeid"] for t in tests if t["outcome"] == "passed"]
    assert not passed, f"these tests pass on the untouched stubs, so they check nothing: {passed[:10]}"
    unnamed = [t["nodeid"] for t in tests if not NAMED_STUB_FAILURE.search(_failure_text(t))]
    assert not unnamed, f"these stub failures do not name the function to implement: {unnamed[:10]}"


def test_same_tests_are_collected_for_reference_and_stubs(reference_report, stub_report):
    assert {t["nodeid"] for t in reference_report["tests"]} == {t["nodeid"] for t in stub_report["tests"]}


def test_every_existing_module_has_visible_and_hidden_tests(reference_report):
    modules_present = [m for m in COURSE if (REPO_ROOT / "reference" / m.relative_file).is_file()]
    assert modules_present, "reference/ defines no curriculum module"
    for module in modules_present:
        assert (REPO_ROOT / "spec" / module.spec_file).is_file(), f"missing spec/{module.spec_file}"
        owned = [t["nodeid"] for t in reference_report["tests"] if module.runner_id in t["keywords"]]
        visible = [n for n in owned if n.startswith("spec/")]
        hidden = [n for n in owned if n.startswith("hidden_tests/")]
        assert visible and hidden, f"module {module.label} needs both visible and hidden tests"

def test_stubs_are_in_sync_with_the_reference():
    assert stubgen.drift(REPO_ROOT / "reference", REPO_ROOT / "stubs", COURSE) == ""


def test_stubs_check_reports_drift_with_a_diff(tmp_path):
    stub_copy = tmp_path / "stubs"
    stubgen.write_tree(REPO_ROOT / "reference", stub_copy, COURSE)
    target = stub_copy / "tinytorch" / "core" / "tensor.py"
    target.write_text(target.read_text() + "# a hand edit\n")
    completed = subprocess.run(
        [sys.executable, "-m", "grading", "stubs", "--check", "--out", str(stub_copy)],
        capture_output=True, text=True,
    )
    assert completed.returncode == 1
    assert "-# a hand edit" in completed.stdout and "kata stubs" in completed.stderr


@pytest.mark.parametrize("module", [m for m in COURSE if (REPO_ROOT / "reference" / m.relative_file).is_file()],
                         ids=lambda m: m.runner_id)
def test_pristine_stub_modules_import_cleanly(module):
    code = f"import tinytorch, {module.path}"
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT / "stubs", capture_output=True, text=True)
    assert completed.returncode == 0, f"`{code}` fails on the stubs:\n{completed.stderr}"
