"""Hidden checks speak a fixed vocabulary; visible tests keep their messages, capped.

Whatever a submission raises, prints or computes inside the sandbox, the text of a hidden check in
the report comes from `report.HIDDEN_VOCABULARY`: a student's own exception message, a test's name
or Hypothesis's falsifying example would be a channel out of the sandbox.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grading import REPO_ROOT
from grading.engine import runner as runner_module
from grading.engine.runner import HIDDEN_PROCESS_FAILED, TAMPERED
from grading.reports import render, report as report_module

HIDDEN = "hidden_tests/unit/test_07_optimizers_hidden.py"
VISIBLE = "spec/test_07_optimizers.py"
DEFINED = frozenset({"SGD", "SGD.step", "Tensor.__getitem__"})
SECRET = "test_secret_case"
HYPOTHESIS_TEXT = (f"AssertionError: wrong\nFalsifying example: {SECRET}(\n    data=data(...),\n)\n"
                   "Draw 1: array([1., 2.])\nFailing test case: ...")


def message(outcome: str, text: str, *, suite_path: str = HIDDEN, location=None, timed_out=False,
            problem: str = "") -> str | None:
    entry = runner_module.TestEntry(f"{suite_path}::{SECRET}", (7,), 1.0, suite_path, 3)
    result = runner_module.TestResult(entry, outcome, text, 0.1, timed_out, location)
    plan = runner_module.RunPlan("m07-isolated", "isolated", Path("/nowhere"), frozenset(), (entry,))
    run = runner_module.RunResult(plan, [result], problem=problem)
    return report_module._message(result, entry.suite != "visible", run, DEFINED)


# Allowed: the vocabulary's fixed words, a builtin exception's name, a function the submission defines.
ALLOWED = re.compile(r"^(passed|wrong values|ran out of time|crashed|tampering detected|not run|"
                     r"raised [A-Za-z]+|not implemented: [A-Za-z_][\w.]*)$")


@pytest.mark.parametrize("outcome, text, options, expected", [
    ("passed", "", {}, "passed"),
    ("failed", HYPOTHESIS_TEXT, {}, "wrong values"),
    ("failed", "assert 3 == 4", {}, "wrong values"),
    ("failed", f"ValueError: the hidden file said {SECRET}", {"location": ("tinytorch/core/optimizers.py", 9)},
     "raised ValueError"),
    ("failed", "AssertionError: my own assert", {"location": ("tinytorch/core/optimizers.py", 9)},
     "raised AssertionError"),
    ("failed", "NotImplementedError: Module 01 (tensor): implement Tensor.__getitem__ -- see its docstring\n"
     + HYPOTHESIS_TEXT, {"location": ("tinytorch/core/tensor.py", 5)}, "not implemented: Tensor.__getitem__"),
    ("failed", f"NotImplementedError: Module 07 (x): implement {SECRET} -- see its docstring", {},
     "raised NotImplementedError"),
    ("failed", f"{SECRET}Error: a class the submission named", {"location": ("tinytorch/core/optimizers.py", 9)},
     "crashed"),
    ("failed", "Failed: Timeout (>2.0s) from pytest-timeout.", {"timed_out": True}, "ran out of time"),
    ("error", TAMPERED, {"problem": TAMPERED}, "tampering detected"),
    ("error", HIDDEN_PROCESS_FAILED, {"problem": HIDDEN_PROCESS_FAILED}, "crashed"),
    ("not-run", f"could not be collected: {HIDDEN}:5: ImportError: {SECRET}", {}, "not run"),
    ("not-run", "not run: 3 tests in a row ran out of time before it", {}, "not run"),
])
def test_a_hidden_check_says_only_words_of_the_vocabulary(outcome, text, options, expected):
    said = message(outcome, text, **options)
    assert said == expected
    assert ALLOWED.match(said) and SECRET not in said


def test_visible_tests_keep_their_message_up_to_the_documented_limit():
    long_text = "AssertionError: " + "x" * 5000
    said = message("failed", long_text, suite_path=VISIBLE)
    assert said.startswith(long_text[:report_module.VISIBLE_MESSAGE_LIMIT])
    assert len(said) == report_module.VISIBLE_MESSAGE_LIMIT + len(" ... [truncated]")
    assert message("failed", HYPOTHESIS_TEXT, suite_path=VISIBLE) == HYPOTHESIS_TEXT


def test_names_a_submission_defines_are_read_from_its_source(tmp_path):
    package = tmp_path / "tinytorch"
    package.mkdir()
    (package / "a.py").write_text("class Tensor:\n    def __getitem__(self, i):\n        pass\n\ndef helper():\n"
                                  "    def inner():\n        pass\n")
    (package / "broken.py").write_text("def (:\n")
    assert report_module.defined_names(package) == {"Tensor", "Tensor.__getitem__", "helper"}


def test_every_output_format_shows_the_same_quiet_words(tmp_path):
    # A report as the grader builds it, rendered in every format: no secret anywhere.
    from tests.support.grading import graded, runner, submission

    stub = (REPO_ROOT / "stubs" / "tinytorch" / "core" / "optimizers.py").read_text()
    report = graded(submission(tmp_path, tinytorch__core__optimizers_py=stub))
    hidden = [t for t in runner(report, "m07")["tests"] if t["suite"] == "hidden"]
    assert hidden and all(ALLOWED.match(t["message"]) for t in hidden), {t["message"] for t in hidden}
    assert all(t["filename"] == "" and t["line_no"] == 0 for t in hidden), "a hidden check points nowhere"
    assert all(t["duration"] == 0 for t in hidden), "a hidden check's time could be modulated to carry data"
    from rich.console import Console

    console = Console(record=True, width=200)
    render.table(report, console)
    outputs = [json.dumps(report), render.markdown(report), render.annotations(report), console.export_text()]
    for text in outputs:
        assert "hidden_tests" not in text and "Falsifying" not in text and "Draw 1" not in text
