"""The spec/hidden harness (root conftest.py): which tinytorch is imported, and test selection."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from grading import REPO_ROOT

PROBE = textwrap.dedent('''\
    import tinytorch

    def test_probe():
        print("TINYTORCH_FROM", tinytorch.__file__)
    ''')


def run_pytest(*args, env_extra=None, cwd=REPO_ROOT):
    env = {k: v for k, v in os.environ.items() if k != "TINYTORCH_SUBMISSION"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture
def probe_file(tmp_path):
    # The probe must live under the repository root so the root conftest.py (the harness) applies.
    directory = REPO_ROOT / "spec" / f"_probe_{os.getpid()}"
    directory.mkdir()
    path = directory / "test_probe_submission.py"
    path.write_text(PROBE)
    yield path
    path.unlink()
    directory.rmdir()


def imported_from(completed) -> str:
    for line in completed.stdout.splitlines():
        if "TINYTORCH_FROM" in line:
            return line.split("TINYTORCH_FROM", 1)[1].strip()
    raise AssertionError(f"probe did not run:\n{completed.stdout}\n{completed.stderr}")


def test_default_submission_is_the_reference(probe_file):
    completed = run_pytest(str(probe_file), "-s", "-q")
    assert imported_from(completed).startswith(str(REPO_ROOT / "reference" / "tinytorch"))


def test_submission_option_wins_over_an_installed_copy(probe_file, tmp_path):
    impostor = tmp_path / "site" / "tinytorch"
    impostor.mkdir(parents=True)
    (impostor / "__init__.py").write_text("raise RuntimeError('the impostor was imported')\n")
    completed = run_pytest(str(probe_file), "-s", "-q", "--submission", str(REPO_ROOT / "stubs"),
                           env_extra={"PYTHONPATH": str(tmp_path / "site")})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert imported_from(completed).startswith(str(REPO_ROOT / "stubs" / "tinytorch"))


def test_environment_variable_chooses_the_submission(probe_file):
    completed = run_pytest(str(probe_file), "-s", "-q", env_extra={"TINYTORCH_SUBMISSION": str(REPO_ROOT / "stubs")})
    assert imported_from(completed).startswith(str(REPO_ROOT / "stubs" / "tinytorch"))


def test_submission_without_a_package_is_a_usage_error(tmp_path):
    completed = run_pytest("spec/test_01_tensor.py", "--submission", str(tmp_path))
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR
    assert "expected a directory containing tinytorch/__init__.py" in completed.stderr


def collected(*args) -> set[str]:
    completed = run_pytest("spec", "hidden_tests", "--collect-only", "-q", *args)
    return {line for line in completed.stdout.splitlines() if "::" in line}


def test_module_selection_by_option_and_by_marker():
    everything = collected()
    selected = collected("--modules", "1")
    module_one_files = {n for n in everything if "/test_01_" in n.split("::")[0]}
    assert module_one_files and module_one_files <= selected
    assert not {n for n in selected if "/test_02_" in n.split("::")[0]}, "module 2's own tests are not selected"
    assert collected("-m", "m01") == selected
    # Module 20's own tests, and the integration and milestone tests that declare it among the modules they need.
    assert collected("--modules", "20") == {n for n in everything if "/test_20_" in n.split("::")[0]
                                            or "/test_optimization_integration.py" in n.split("::")[0]
                                            or "/test_m06_mlperf.py" in n.split("::")[0]}


def test_bad_module_selection_is_a_usage_error():
    completed = run_pytest("spec", "--modules", "one")
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR and "--modules" in completed.stderr


def test_grading_profile_is_reproducible(tmp_path):
    reports = []
    for attempt in range(2):
        report = tmp_path / f"r{attempt}.json"
        run_pytest("spec/test_02_activations.py", "-q", "--json-report", f"--json-report-file={report}",
                   env_extra={"TINYTORCH_HYPOTHESIS_PROFILE": "grading"})
        reports.append({t["nodeid"]: t["outcome"] for t in json.loads(report.read_text())["tests"]})
    assert reports[0] == reports[1] and reports[0]
