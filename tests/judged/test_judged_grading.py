"""Judged grading end to end: the verdicts a submission cannot touch.

In judged mode the tests, Hypothesis and the NumPy oracles run in a process that never imports the
submission; the submission runs in a sandboxed worker. Every in-process attack that could rewrite
a verdict in direct mode (tests/engine/test_grader.py, tests/engine/test_isolation_attacks.py) is graded here in
judged mode, and must come out with exactly the honest verdict: test by test, the outcomes of the
same submission without the attack.
"""
from __future__ import annotations

import pytest

from grading import REPO_ROOT
from grading.authoring.curriculum import load as load_curriculum
from grading.cli.grade import options_from
from grading.cli.kata import build_parser
from grading.reports import render
from tests.support.attacks import PATCH_PYTEST_REPORTS as DIRECT_PATCH_PYTEST_REPORTS
from tests.support.attacks import SILENCE_NUMPY_CORE, SILENCE_NUMPY_TESTING, WRONG_SGD
from tests.support.grading import TARGET, graded, patch_sgd, runner, submission

# The honest baseline: SGD steps twice too far and counts its state as -1 bytes (wrong values).
HONEST = WRONG_SGD + "\nOptimizer.state_bytes = lambda self: -1\n"


def outcomes(report: dict, runner_id: str = "m07") -> dict[str, str]:
    return {t["nodeid"]: t["outcome"] for t in runner(report, runner_id)["tests"]}


def judged(root, modules=(7,)) -> dict:
    report = graded(root, modules=modules, judged=True)
    assert report["mode"] == "judged" and report["isolation"]["kind"] == "bubblewrap"
    return report


# ---------------------------------------------------------------- the reference and the stubs
@pytest.fixture(scope="module")
def reference_report() -> dict:
    """One judged grade of the reference's module 07, read by every test that compares with it."""
    return judged(REPO_ROOT / "reference")


def test_reference_full_marks_and_stubs_zero_identical_twice(reference_report):
    modules = (7,)
    first, second = reference_report, judged(REPO_ROOT / "reference", modules)
    assert first["score"] == first["max_score"] == 10
    assert not any("direct mode" in n for n in first["notices"])
    assert [t["outcome"] for t in first["tests"]] == [t["outcome"] for t in second["tests"]]
    stubs, again = judged(REPO_ROOT / "stubs", modules), judged(REPO_ROOT / "stubs", modules)
    assert stubs["score"] == 0 and stubs["max_score"] == 10
    assert {t["outcome"] for t in stubs["tests"]} <= {"failed", "error"}
    assert [(t["outcome"], t["message"]) for t in stubs["tests"]] == [(t["outcome"], t["message"]) for t in again["tests"]]
    visible = [t["message"] for t in stubs["tests"] if t["suite"] == "visible"]
    assert visible and all(m.startswith("not implemented: Module ") for m in visible), "each names what to write"


def test_a_direct_grade_says_so_in_a_notice(tmp_path):
    direct = graded(REPO_ROOT / "reference", modules=(3,), judged=False)
    assert direct["mode"] == "direct"
    assert any(n.startswith("graded in direct mode (--direct)") for n in direct["notices"])


def test_judged_is_the_default_and_direct_is_a_flag():
    curriculum = load_curriculum()
    parser = build_parser()
    assert options_from(parser.parse_args(["grade", "stubs"]), curriculum).judged is True
    assert options_from(parser.parse_args(["grade", "stubs", "--direct"]), curriculum).judged is False
    assert options_from(parser.parse_args(["regrade", "roster", "--direct"]), curriculum).judged is False


def test_annotations_point_at_the_students_file_and_line_in_judged_mode_too(tmp_path):
    root = submission(tmp_path, tinytorch__core__optimizers_py=patch_sgd(
        (REPO_ROOT / "reference" / TARGET).read_text(), "raise ValueError('wrong on purpose')"))
    report = judged(root)
    line = next(i for i, text in enumerate((root / TARGET).read_text().splitlines(), start=1) if "wrong on purpose" in text)
    assert f"::error file={TARGET},line={line}," in render.annotations(report), "the worker's frames reach the report"
    hidden = [t for t in runner(report, "m07")["tests"] if t["suite"] == "hidden" and t["status"] != "pass"]
    assert hidden and all((t["filename"], t["line_no"]) == ("", 0) for t in hidden), "hidden checks point nowhere"


# ---------------------------------------------------------------- a worker that hangs or dies
def test_a_hang_fails_that_test_as_out_of_time_and_the_rest_are_skipped_fast(tmp_path):
    text = patch_sgd((REPO_ROOT / "reference" / TARGET).read_text(), "while True:\n    pass")
    m07 = runner(judged(submission(tmp_path, tinytorch__core__optimizers_py=text)), "m07")
    assert m07["status"] == "fail" and m07["tests"][0]["timed_out"]
    assert all("ran out of time" in t["message"] for t in m07["tests"] if t["timed_out"] and t["suite"] == "visible")


def test_a_worker_that_exits_fails_only_the_tests_that_made_it_exit(tmp_path, reference_report, without_policy_scan):
    # In direct mode os._exit ends the test process and discards the run; judged, only the calls that
    # reached it fail ("crashed"), and the next test gets a fresh worker.
    exit_in_sgd = "import os\ngetattr(os, '_ex' + 'it')(3)"
    text = patch_sgd((REPO_ROOT / "reference" / TARGET).read_text(), exit_in_sgd)
    m07 = runner(judged(submission(tmp_path, tinytorch__core__optimizers_py=text)), "m07")
    reference = outcomes(reference_report)
    crashed = [t for t in m07["tests"] if t["outcome"] != "passed"]
    assert crashed and all("exited with code 3" in (t["message"] or "") or t["suite"] != "visible" for t in crashed)
    adam = [t for t in m07["tests"] if "adam" in t["nodeid"].lower()]
    assert adam and all(t["outcome"] == reference[t["nodeid"]] == "passed" for t in adam), \
        "tests that never call SGD still pass: each test gets a working worker"


# ---------------------------------------------------------------- in-process attacks, judged
# The direct-mode attack, with pytest imported first: the worker has no pytest of its own to patch.
PATCH_PYTEST_REPORTS = "\nimport _pytest.reports\n" + DIRECT_PATCH_PYTEST_REPORTS.removeprefix("+")

REWRITE_RESULTS_AT_EXIT = """
import atexit as _atexit
import json as _json
import os as _os


def _claim_every_test_passed():
    forged = "".join(_json.dumps({"event": "phase", "nodeid": n, "when": "call", "outcome": "passed"}) + "\\n"
                     for n in ("spec/test_07_optimizers.py::test_sgd_follows_its_equations",))
    for _fd in range(64):  # every descriptor this process can write to
        try:
            _os.write(_fd, forged.encode())
        except OSError:
            pass


_atexit.register(_claim_every_test_passed)
"""

TAMPER_WITH_HYPOTHESIS = """
import hypothesis as _hypothesis
import hypothesis.core as _core


def _no_examples(*args, **kwargs):
    return lambda test: (lambda *a, **k: None)


_hypothesis.given = _core.given = _no_examples
_hypothesis.settings.register_profile("grading", max_examples=1, phases=())
_hypothesis.settings.load_profile("grading")
"""

PATCH_SUPPORT_HELPERS = """
import sys as _sys
try:
    import spec.support as _support
except ImportError:  # judged: the worker cannot even see the tests
    _support = None
if _support is not None:
    _support.assert_tensor = lambda *args, **kwargs: None
    _support.values = lambda tensor: __import__("numpy").zeros(0)
"""

FAKE_OUTCOME_EXCEPTIONS = """
import _pytest.outcomes as _outcomes


class _Anything(type):
    # A class that claims to be a subclass (and its instances instances) of every exception.
    def __subclasscheck__(cls, other):
        return True

    def __instancecheck__(cls, other):
        return True


class _PretendsToBeEverything(AssertionError, metaclass=_Anything):
    pass


def _raise_fake(self, value, grad, state):
    if self.lr > 0.05:
        raise _outcomes.Skipped("skipped, says the submission")
    raise _PretendsToBeEverything("expected")


SGD._update = _raise_fake
"""

CLAIM_EQUALITY = """
import numpy as _np


class _AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


class _EqualArray(_np.ndarray):  # arithmetic as usual; comparisons always "equal"
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


_wrong_step = Optimizer.step


def _lying_step(self):
    _wrong_step(self)
    for _param in self.params:
        _param.data = _np.asarray(_param.data).view(_EqualArray)


Optimizer.step = _lying_step
Optimizer.state_bytes = lambda self: _AlwaysEqual()
"""

ATTACKS = {
    "patch-pytest-reports": PATCH_PYTEST_REPORTS,
    "rewrite-results-at-exit": REWRITE_RESULTS_AT_EXIT,
    "patch-numpy-testing": SILENCE_NUMPY_TESTING,
    "patch-numpy-core": SILENCE_NUMPY_CORE,
    "patch-support-helpers": PATCH_SUPPORT_HELPERS,
    "tamper-with-hypothesis": TAMPER_WITH_HYPOTHESIS,
    "objects-claiming-equality": CLAIM_EQUALITY,
}


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> dict:
    """The judged verdict of the reference with wrong values (HONEST), attacked by nothing."""
    root = submission(tmp_path_factory.mktemp("honest"), tinytorch__core__optimizers_py=HONEST)
    report = judged(root)
    assert 0 < runner(report, "m07")["score"] < 10, "some tests pass, the SGD ones fail"
    return report


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_an_in_process_attack_gets_exactly_the_honest_verdict(tmp_path, honest, attack, without_policy_scan):
    attacked = judged(submission(tmp_path, tinytorch__core__optimizers_py=HONEST + attack))
    assert outcomes(attacked) == outcomes(honest)
    assert runner(attacked, "m07")["score"] == runner(honest, "m07")["score"]


def test_exceptions_posing_as_assertions_or_skips_fail_like_any_error(tmp_path, honest, without_policy_scan):
    # The fake exceptions replace SGD's (wrong) step: every test that fails honestly must still fail,
    # none may pass or be skipped, and the score cannot rise.
    attacked = runner(judged(submission(tmp_path, tinytorch__core__optimizers_py=HONEST + FAKE_OUTCOME_EXCEPTIONS)),
                      "m07")
    honest_outcomes = outcomes(honest)
    for test in attacked["tests"]:
        assert test["outcome"] in ("passed", "failed", "error"), test
        if honest_outcomes[test["nodeid"]] != "passed":
            assert test["outcome"] != "passed", test["nodeid"]
    assert attacked["score"] <= runner(honest, "m07")["score"]
    messages = " ".join(t["message"] or "" for t in attacked["tests"] if t["suite"] == "visible")
    assert "RuntimeError" in messages and "skipped, says the submission" in messages
