"""The student's loop: `kata test`, `kata status` and `kata watch` on real trees.

Three trees stand for three moments of a course: reference/ (everything done), a copy of stubs/
(nothing done) and a stubs copy with the reference's Tensor in it (module 01 done, 02 not
started). Runs are restricted to a few modules; the whole course is run once, on the stubs.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from argparse import Namespace
from io import StringIO
from pathlib import Path

import pytest

from grading import REPO_ROOT
from grading.authoring import course as course_module, curriculum as curriculum_module
from grading.authoring.curriculum import ManifestError
from grading.cli.kata import main as kata_main
from grading.student import progress, watch
from grading.student.progress import PROFILE_VARIABLE

CURRICULUM = curriculum_module.load()
ASSIGNED = [m.number for m in CURRICULUM.built() if course_module.load(CURRICULUM).is_assigned(m.number)]
COURSE_TOML = 'name = "{name}"\ntitle = "{name}"\nassigned = {assigned}\nprebuilt = []\n[due]\n{due}\n'


# ---------------------------------------------------------------------------- trees and helpers
def _copy_package(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trees")
    stubs = _copy_package(REPO_ROOT / "stubs", root / "stubs")
    tensor_done = _copy_package(REPO_ROOT / "stubs", root / "tensor_done")
    shutil.copyfile(REPO_ROOT / "reference" / "tinytorch" / "core" / "tensor.py",
                    tensor_done / "tinytorch" / "core" / "tensor.py")
    return {"stubs": stubs, "tensor_done": tensor_done}


def _course_file(directory: Path, name: str, assigned: list[int], due: str = "") -> str:
    path = directory / f"{name}.toml"
    path.write_text(COURSE_TOML.format(name=name, assigned=assigned, due=due))
    return str(path)


def kata(capsys, *argv: str) -> tuple[int, str, str]:
    """Run `kata ARGV` in this process; (exit status, stdout, stderr)."""
    status = kata_main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(autouse=True)
def _student_environment(monkeypatch):
    # The student's defaults: their own Hypothesis profile unset, no colour preference, repository root.
    monkeypatch.delenv(PROFILE_VARIABLE, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.chdir(REPO_ROOT)


# ---------------------------------------------------------------------------- kata test
def test_reference_passes_every_test_with_one_line_each_and_says_it_is_the_reference(capsys):
    status, out, err = kata(capsys, "test", "1-2")
    assert status == 0
    assert err.strip() == "testing reference/, the instructor's solution; pass --submission DIR for another package"
    assert re.search(r"^Module 01 Tensor  (\d+)/\1 passed$", out, re.M)
    assert re.search(r"^Module 02 Activations  (\d+)/\1 passed$", out, re.M)
    assert "  ✓ test_non_numeric_data_is_a_type_error[list-with-str]\n" in out
    assert "✗" not in out
    assert out.rstrip().endswith("2 of 2 modules done; every test passed")


def test_untouched_stubs_say_where_to_start_without_a_traceback(capsys, trees):
    # The one run of the whole course in this file.
    status, out, err = kata(capsys, "test", "--submission", str(trees["stubs"]))
    assert status == 1
    assert f"0 of {len(ASSIGNED)} modules done; start with Module 01: implement Tensor.__init__\n" in out
    assert "Traceback" not in out + err and "NotImplementedError" not in out
    for number in ASSIGNED:
        module = CURRICULUM.module(number)
        assert re.search(rf"│ {module.label} +│ {module.title} +│ +0/\d+ │ not started +│", out), module.title
    assert "  not implemented yet: Module 01 (tensor): implement Tensor.__init__ -- see its docstring\n" in out
    assert "  raised at tinytorch/core/tensor.py:" in out
    assert err == "", "no note: the submission was chosen explicitly"


def test_a_stub_failure_names_the_function_and_the_command_reproduces_it(capsys, trees):
    status, out, _ = kata(capsys, "test", "02", "--submission", str(trees["tensor_done"]))
    assert status == 1
    lines = out.splitlines()
    assert re.fullmatch(r"Module 02 Activations  0/\d+ passed", lines[0])
    tests = lines[1:lines.index(next(line for line in lines if line.startswith("0 of 1 module done")))]
    assert tests and all(line.startswith("  ✗ test_") for line in tests)
    heading = next(line for line in lines if line.startswith("First failure: "))
    nodeid = heading.removeprefix("First failure: ")
    stub_line = r"  not implemented yet: Module 02 \(activations\): implement ([\w.]+) -- see its docstring"
    function = re.fullmatch(stub_line, lines[lines.index(heading) + 1]).group(1)
    assert f"0 of 1 module done; start with Module 02: implement {function}" in lines
    quoted = f"'{nodeid}'" if "[" in nodeid else nodeid
    assert f"Reproduce: pytest {quoted} --submission {trees['tensor_done']} -x" in lines


def test_a_wrong_value_shows_the_assertions_own_explanation(capsys, tmp_path):
    # A ReLU that lets values in [-0.5, 0) through: NumPy's mismatch report must reach the student,
    # with Hypothesis' (shrunk) failing example and the command to see it again.
    buggy = _copy_package(REPO_ROOT / "reference", tmp_path / "buggy")
    activations = buggy / "tinytorch" / "core" / "activations.py"
    activations.write_text(activations.read_text() + (
        "\n\n_correct_relu = ReLU.forward\n\n\n"
        "def _relu_keeping_small_negatives(self, x):\n"
        "    return _correct_relu(self, x) + x * ((x.data < 0) & (x.data >= -0.5))\n\n\n"
        "ReLU.forward = _relu_keeping_small_negatives\n"))
    status, out, _ = kata(capsys, "test", "02", "--submission", str(buggy))
    assert status == 1
    nodeid = "spec/test_02_activations.py::test_elementwise_activations_match_their_formula[ReLU]"
    lines = out.splitlines()
    start = lines.index(f"First failure: {nodeid}")
    block = lines[start + 1:]
    assert block[0] == "  AssertionError:" and block[1] == "  Not equal to tolerance rtol=1e-09, atol=1e-12"
    assert any(line.startswith("  Mismatched elements: ") for line in block)
    assert any(line.startswith("   ACTUAL: ") for line in block)
    assert any(line.startswith("   DESIRED: ") for line in block)
    assert "  Failing test case: test_elementwise_activations_match_their_formula(" in block
    assert "      name='ReLU'," in block
    assert block[-1] == f"Reproduce: TINYTORCH_HYPOTHESIS_PROFILE=explain pytest '{nodeid}' --submission {buggy} -x"
    assert len(block) <= progress.EXPLANATION_LINES + 1
    assert "Traceback" not in out and "site-packages" not in out, "no frames, no Hypothesis coverage of NumPy"
    assert "  ✗ test_relu_is_non_negative_and_keeps_positives" in lines
    assert "  ✓ test_elementwise_activations_match_their_formula[GELU]" in lines


def test_a_selection_of_planned_modules_is_refused_and_a_mixed_one_skips_them():
    from rich.console import Console

    from grading.cli.student import _LoopMisuse, _chosen_modules

    text = curriculum_module.MANIFEST_PATH.read_text().replace("planned = []", "planned = [19, 20]")
    planned = curriculum_module.parse(text)
    course = course_module.build(planned, modules="1-18")
    notes = StringIO()
    with pytest.raises(_LoopMisuse, match=r"module selection '20' names only planned modules \(20\), which have no tests"):
        _chosen_modules(Namespace(modules="20"), planned, course, Console(file=notes))
    assert _chosen_modules(Namespace(modules="18-20"), planned, course, Console(file=notes)) == [18]
    assert "skipping module(s) 19-20: planned, no tests yet" in notes.getvalue()


def test_misuse_exits_2_with_a_reason(capsys, tmp_path):
    assert kata(capsys, "test", "99")[0::2] == (2, "kata test: unknown module selection '99': expected numbers "
                                                   "1-20, ranges like 1-8, or slugs\n")
    status, _, err = kata(capsys, "status", "--submission", str(tmp_path))
    assert (status, err) == (2, f"kata status: --submission: expected a directory containing tinytorch/__init__.py, "
                                f"got {tmp_path}\n")
    status, _, err = kata(capsys, "watch", "--course", str(tmp_path / "missing.toml"))
    assert (status, err) == (2, f"kata watch: --course: expected a course.toml file, got "
                                f"'{tmp_path / 'missing.toml'}' (no such file)\n")


# ---------------------------------------------------------------------------- kata status
def _status_json(capsys, *argv: str) -> dict:
    status, out, _ = kata(capsys, "status", "--json", *argv)
    assert status == 0
    return json.loads(out)


def _statuses(facts: dict) -> dict[str, str]:
    return {row["module"]: row["status"] for row in facts["modules"]}


def test_status_of_the_reference_unlocks_the_first_milestone(capsys, tmp_path):
    facts = _status_json(capsys, "--course", _course_file(tmp_path, "first-month", [1, 2, 3, 4]))
    statuses = _statuses(facts)
    assert [statuses[f"{n:02d}"] for n in range(1, 5)] == ["done"] * 4
    assert {statuses[f"{n:02d}"] for n in range(5, 21)} == {"not yet assigned"}
    assert (facts["done"], facts["assigned"], facts["next"]) == (4, 4, None)
    milestones = {m["title"]: (m["unlocked"], m["missing"]) for m in facts["milestones"]}
    assert milestones["Perceptron"] == (True, "")
    assert milestones["XOR Solution"] == (False, "05-08")
    assert all(row["passed"] == row["total"] > 0 for row in facts["modules"][:4])


def test_status_on_the_stubs_and_with_tensor_done(capsys, tmp_path, trees):
    week_1 = _course_file(tmp_path, "week-1", [1])
    untouched = _status_json(capsys, "--submission", str(trees["stubs"]), "--course", week_1)
    assert (_statuses(untouched)["01"], _statuses(untouched)["02"]) == ("not started", "not yet assigned")
    assert untouched["next"] == {"module": "01", "title": "Tensor", "status": "not started",
                                 "step": "implement Tensor.__init__"}
    assert not any(m["unlocked"] for m in untouched["milestones"])

    weeks_1_2 = _course_file(tmp_path, "weeks-1-2", [1, 2], due='"02" = 2026-12-01')
    status, out, _ = kata(capsys, "status", "--submission", str(trees["tensor_done"]), "--course", weeks_1_2)
    assert status == 0
    assert re.search(r"│ 01 +│ Tensor +│ done +│ +(\d+)/\1 │ +│", out)
    assert re.search(r"│ 02 +│ Activations +│ not started +│ +0/\d+ │ 2026-12-01 │", out)
    assert re.search(r"│ 03 +│ Layers +│ not yet assigned +│ +│ +│", out)
    assert re.search(r"│ 20 +│ Capstone +│ not yet assigned +│ +│ +│", out)
    assert "1 of 2 assigned modules done\n" in out
    assert re.search(r"^Next: Module 02 \(Activations\): implement [\w.]+$", out, re.M)
    assert "Milestones unlocked: none yet; next: Milestone 1 (1958 Perceptron) needs modules 02-04\n" in out


def _result(module: int, *outcomes: progress.Outcome, import_error: str = "") -> progress.ModuleResult:
    return progress.ModuleResult(CURRICULUM.module(module), list(outcomes), import_error)


STUB = "NotImplementedError: Module 01 (tensor): implement Tensor.matmul -- see its docstring"


@pytest.mark.parametrize("outcomes, import_error, expected", [
    ([progress.Outcome("a", True, (1,))], "", "done"),
    ([progress.Outcome("a", False, (1,), STUB), progress.Outcome("b", False, (1,), STUB)], "", "not started"),
    ([progress.Outcome("a", False, (1,), STUB), progress.Outcome("b", True, (1,))], "", "in progress"),
    ([progress.Outcome("a", False, (1,), "NotImplementedError: my own placeholder")], "", "in progress"),
    ([], "SyntaxError: invalid syntax", "does not import"),
], ids=["all-passed", "only-stub-failures", "one-passed", "own-not-implemented", "import-error"])
def test_module_status_rules(outcomes, import_error, expected):
    assert _result(1, *outcomes, import_error=import_error).status == expected


# ---------------------------------------------------------------------------- explanation details
def test_reproduce_command_quotes_the_node_id_for_the_shell():
    command = progress.reproduce_command("spec/test_06_autograd.py::test_x[float32]", REPO_ROOT, REPO_ROOT)
    assert command == "pytest 'spec/test_06_autograd.py::test_x[float32]' --submission . -x"
    assert progress.reproduce_command("spec/test_01_tensor.py::test_y", REPO_ROOT / "reference", REPO_ROOT) == \
        "pytest spec/test_01_tensor.py::test_y --submission reference -x"


def test_reproduce_command_from_another_directory_changes_to_the_root_first(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    command = progress.reproduce_command("spec/test_01_tensor.py::test_y", REPO_ROOT / "reference", REPO_ROOT)
    assert command == f"cd {REPO_ROOT} && pytest spec/test_01_tensor.py::test_y --submission reference -x"


def test_when_shrinking_runs_out_the_folds_own_explanation_is_shown_with_the_explain_command(monkeypatch):
    monkeypatch.delenv("TINYTORCH_HYPOTHESIS_PROFILE", raising=False)
    monkeypatch.setattr(progress, "_replay_with_shrinking", lambda *args: None)
    outcome = progress.Outcome("spec/test_01_tensor.py::test_z", False, (1,), "AssertionError: off by one",
                               hypothesis=True)
    problem = progress.explain_failure(outcome, REPO_ROOT, REPO_ROOT / "reference", CURRICULUM)
    assert problem.lines == ["AssertionError: off by one"]
    assert problem.command == "TINYTORCH_HYPOTHESIS_PROFILE=explain pytest spec/test_01_tensor.py::test_z " \
                              "--submission reference -x"


def test_a_long_message_is_cut_at_the_limit_and_says_so():
    message = "\n".join(f"line {n}" for n in range(100))
    lines = progress.explanation(progress.Outcome("t", False, (1,), message), REPO_ROOT)
    assert len(lines) == progress.EXPLANATION_LINES
    assert lines[-1] == "... 61 more lines: run the command below to see them all"


def test_hypothesis_coverage_lines_outside_the_submission_are_dropped(tmp_path):
    student_line = f"{tmp_path}/tinytorch/core/activations.py:12"
    message = ("AssertionError: wrong\nExplanation:\n    These lines were always and only run by failing test cases:\n"
               "        /venv/numpy/_core/arrayprint.py:968\n        {student}\nafter")
    numpy_only = message.format(student="/venv/x.py:1")
    only_numpy = progress.explanation(progress.Outcome("t", False, (1,), numpy_only), tmp_path)
    assert only_numpy == ["AssertionError: wrong", "after"]
    kept = progress.explanation(progress.Outcome("t", False, (1,), message.format(student=student_line)), tmp_path)
    assert kept == ["AssertionError: wrong", "Explanation:",
                    "    These lines were always and only run by failing test cases:",
                    f"        {student_line}", "after"]


# ---------------------------------------------------------------------------- colour
def _printed(console) -> str:
    console.print("[bold red]x[/] y")
    return console.file.getvalue()


def test_colour_on_a_terminal_and_never_with_no_color(monkeypatch):
    assert "\x1b[" in _printed(progress.make_console(file=StringIO(), force_terminal=True))
    assert _printed(progress.make_console(True, file=StringIO(), force_terminal=True)) == "x y\n"
    assert _printed(progress.make_console(file=StringIO())) == "x y\n", "not a terminal: plain text"
    monkeypatch.setenv("NO_COLOR", "1")
    assert _printed(progress.make_console(file=StringIO(), force_terminal=True)) == "x y\n"


# ---------------------------------------------------------------------------- kata watch
def test_watch_runs_again_after_a_file_changes(tmp_path):
    package = tmp_path / "tinytorch"
    (package / "core").mkdir(parents=True)
    tensor = package / "core" / "tensor.py"
    tensor.write_text("x = 1\n")
    (package / "core" / "__pycache__").mkdir()
    runs: list[int] = []
    said: list[str] = []

    def run_once() -> None:
        runs.append(len(runs))
        if len(runs) == 1:  # the student saves a file while the first run is going on
            tensor.write_text("x = 2\n")
            stat = tensor.stat()
            os.utime(tensor, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
            (package / "core" / "__pycache__" / "tensor.cpython-311.pyc").write_bytes(b"ignored")

    status = watch.watch(run_once, package, said.append, shown_as="tinytorch", interval=0.01,
                         stop=lambda: len(runs) == 2)
    assert (status, runs) == (0, [0, 1])
    assert said == ["watching tinytorch/ for changes to .py files (Ctrl-C to stop)",
                    "changed: tinytorch/core/tensor.py; running again"]


def test_watch_does_not_run_again_without_a_change(tmp_path):
    package = tmp_path / "tinytorch"
    package.mkdir()
    (package / "__init__.py").write_text("")
    runs: list[int] = []
    polls = iter(range(5))
    watch.watch(lambda: runs.append(1), package, lambda line: None, interval=0.01,
                stop=lambda: next(polls, None) is None)
    assert runs == [1]


def test_kata_watch_stops_cleanly_on_ctrl_c(capsys, monkeypatch, trees):
    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(watch, "_sleep", ctrl_c)
    status, out, err = kata(capsys, "watch", "01", "--submission", str(trees["tensor_done"]))
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"watching {trees['tensor_done'] / 'tinytorch'}/ for changes to .py files (Ctrl-C to stop)"
    assert "1 of 1 module done; every test passed" in lines
    assert lines[-1] == "stopped watching"
    assert "Traceback" not in out + err


# ---------------------------------------------------------------------------- milestones in the manifest
def test_manifest_milestones_follow_the_paper():
    assert [(m.number, m.year, m.title, m.requires[-1]) for m in CURRICULUM.milestones] == [
        (1, 1958, "Perceptron", 4), (2, 1969, "XOR Solution", 8), (3, 1986, "MLP Revival", 8),
        (4, 1998, "CNN Revolution", 9), (5, 2017, "Transformer Era", 13), (6, 2018, "MLPerf Benchmarks", 20)]
    assert all(m.requires == tuple(range(1, m.requires[-1] + 1)) for m in CURRICULUM.milestones)


MINIMAL = ('package = "tinytorch"\n[[module]]\nnumber = 1\nslug = "tensor"\ntitle = "Tensor"\ntier = "t"\n'
           'track = "t"\npath = "tinytorch.core.tensor"\nrequires = []\npoints = 1\nsystems = ""\nconcepts = []\n')


@pytest.mark.parametrize("milestones, message", [
    ('[[milestone]]\nnumber = 1\nyear = 1958\ntitle = "P"\nrequires = "1-4"\n',
     "milestone 1: requires '1-4': unknown module selection '1-4'"),
    ('[[milestone]]\nnumber = 1\nyear = 1958\ntitle = "P"\n', "milestone 1: expected exactly the fields"),
    ('[[milestone]]\nnumber = 1\nyear = "1958"\ntitle = "P"\nrequires = "1"\n',
     "milestone 1: field 'year' must be int, found '1958'"),
    ('[[milestone]]\nnumber = 1\nyear = 1958\ntitle = "P"\nrequires = "1"\n' * 2,
     "milestone number(s) [1] appear more than once"),
], ids=["unknown-module", "missing-field", "year-not-int", "duplicate-number"])
def test_malformed_milestones_are_rejected_with_a_reason(milestones, message):
    with pytest.raises(ManifestError, match=re.escape(message)):
        curriculum_module.parse(MINIMAL + milestones, "m.toml")
