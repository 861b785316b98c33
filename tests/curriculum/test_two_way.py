"""CI's two-way proof: every spec/hidden test passes on reference/ and fails on stubs/, in both
execution modes: direct (the tests import the package) and judged (through the proxy package, the
package in a sandboxed worker).

A test that passes on the stubs checks nothing a student wrote; a stub failure that does not
say which function to implement leaves the student guessing. Both are caught here.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grading import REPO_ROOT, import_path_env
from grading.authoring import curriculum as curriculum_module, stubgen
from grading.engine import runner
from grading.judged import apimap
from grading.reports import submission_schema
from grading.student.progress import run_pytest_json

COURSE = curriculum_module.load()
TEST_ROOTS = ["spec", "hidden_tests"]
NAMED_STUB_FAILURE = re.compile(r"NotImplementedError: Module \d\d \(\w+\): implement [\w.]+")
# `make test` sets this: the direct run on the reference is then measured by coverage into that data
# file, and the Makefile's coverage gate reports it (one run of the suites serves both).
COVERAGE_FILE = os.environ.get("KATA_COVERAGE_FILE", "")


def _run(submission: str, judged: bool = False, scratch: Path | None = None) -> dict:
    """spec and hidden_tests on `submission`: in this process's way (direct), or judged, with
    tinytorch the proxy package and the submission in a sandboxed worker, as `kata grade` runs them."""
    env = {"TINYTORCH_HYPOTHESIS_PROFILE": "grading", "PATH": "/usr/bin:/bin"}
    extra, python = [], ()
    if judged:
        extra = ["-p", "grading.engine.pytest_plugin", *runner.judged_options(scratch, COURSE.grading, runner.current_cpu())]
        env.update(import_path_env())
    elif submission == "reference" and COVERAGE_FILE:
        python = ("-m", "coverage", "run", f"--data-file={COVERAGE_FILE}")
    return run_pytest_json([*TEST_ROOTS, "--submission", submission, *extra], cwd=REPO_ROOT, env=env, python=python)


@pytest.fixture(scope="module", params=["direct", "judged"])
def mode(request):
    return request.param


@pytest.fixture(scope="module")
def stub_report(mode, tmp_path_factory):
    return _run("stubs", mode == "judged", tmp_path_factory.mktemp("stubs-scratch"))


@pytest.fixture(scope="module")
def reference_report(mode, tmp_path_factory):
    return _run("reference", mode == "judged", tmp_path_factory.mktemp("reference-scratch"))


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


def test_the_judged_modes_api_map_is_in_sync_with_the_reference():
    assert apimap.drift(REPO_ROOT / "reference", COURSE.package) == ""


def test_an_api_map_that_drifted_is_reported(tmp_path):
    stale = tmp_path / "api.toml"
    stale.write_text(apimap.API_FILE.read_text().replace('"__array_priority__" = 1000', ""))
    assert "api.toml is out of date" in apimap.drift(REPO_ROOT / "reference", COURSE.package, stale)
    assert apimap.API_FILE.read_text().startswith("# GENERATED by `kata stubs`")


def test_the_submission_schema_file_is_generated_from_module_20(tmp_path):
    import json

    import jsonschema

    assert submission_schema.drift(REPO_ROOT / "reference") == ""
    text = submission_schema.SCHEMA_FILE.read_text()
    assert text.splitlines()[1].startswith('  "$comment": "GENERATED by `kata stubs`'), "it says so at the top"
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(":" + schema["properties"]["schema_version"]["const"]), "versioned"
    stale = tmp_path / "old.schema.json"
    stale.write_text(text.replace('"minimum": 2', '"minimum": 1'))
    assert "out of date" in submission_schema.drift(REPO_ROOT / "reference", stale)


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
