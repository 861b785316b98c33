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


def _swap_method(text: str, donor: str, owner: str, method: str) -> str:
    """`text` with the method `owner.method` replaced by the one in `donor` (both a module's source)."""
    def span(source: str) -> tuple[int, int]:
        start = source.index(f"    def {method}(", source.index(f"class {owner}"))
        ends = [at for at in (source.find("\n    def ", start + 1), source.find("\nclass ", start + 1)) if at != -1]
        return start, min(ends, default=len(source))

    (start, end), (donor_start, donor_end) = span(text), span(donor)
    return text[:start] + donor[donor_start:donor_end] + text[end:]


REFERENCE_TENSOR = REPO_ROOT / "reference" / "tinytorch" / "core" / "tensor.py"
STUB_TENSOR = REPO_ROOT / "stubs" / "tinytorch" / "core" / "tensor.py"


def test_a_function_is_left_as_its_stub_only_while_its_code_is_exactly_the_stubs(tmp_path):
    from grading.authoring import curriculum as curriculum_module
    from grading.authoring.stubgen import functions_left_as_stubs as left

    curriculum = curriculum_module.load()
    reference, stubs = REPO_ROOT / "reference", REPO_ROOT / "stubs"
    assert left(reference, reference, curriculum) == frozenset()
    every_stub = left(reference, stubs, curriculum)
    assert {"Tensor.__getitem__", "SGD._update", "GELU.forward"} <= every_stub and len(every_stub) > 100

    mixed = tmp_path / "tinytorch" / "core" / "tensor.py"
    mixed.parent.mkdir(parents=True)
    mixed.write_text(_swap_method(REFERENCE_TENSOR.read_text(), STUB_TENSOR.read_text(), "Tensor", "__getitem__"))
    assert left(reference, tmp_path, curriculum) == {"Tensor.__getitem__"}
    mixed.write_text(mixed.read_text().replace("        raise NotImplementedError(",
                                               "        x = 1\n        raise NotImplementedError(", 1))
    assert left(reference, tmp_path, curriculum) == frozenset(), "one statement more: no longer the stub"


def test_a_hidden_check_cannot_be_made_to_name_a_function_the_submission_chose(tmp_path):
    # The covert channel: SGD._update, implemented, raises the stub message of another function
    # (Optimizer.step, implemented too), so the word a hidden check shows would be the code's choice.
    # Every hidden check that calls it says only "raised NotImplementedError"; Adam._update, really
    # left as its stub, is still named.
    from grading.authoring.stubgen import stub_message
    from tests.support.grading import graded, patch_sgd, runner, submission

    folder = Path("tinytorch") / "core" / "optimizers.py"
    chosen = stub_message("Module 07 (optimizers)", "Optimizer.step")
    text = patch_sgd((REPO_ROOT / "reference" / folder).read_text(), f"raise NotImplementedError({chosen!r})")
    text = _swap_method(text, (REPO_ROOT / "stubs" / folder).read_text(), "Adam", "_update")
    report = graded(submission(tmp_path, tinytorch__core__optimizers_py=text), judged=True)
    hidden = [t["message"] for t in runner(report, "m07")["tests"] if t["suite"] == "hidden"]
    assert "raised NotImplementedError" in hidden and "not implemented: Adam._update" in hidden, set(hidden)
    assert not any("Optimizer.step" in word for word in hidden) and all(ALLOWED.match(word) for word in hidden)


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
