"""A composition bug: every unit test of its module passes, and a milestone fails.

The bug: CrossEntropyLoss computes its log-sum-exp with NumPy on plain arrays instead of with
Tensor operations. The line above it in the reference rightly treats the row maximum as a constant
(its gradient cancels); a student who extends that reasoning to the normaliser keeps the loss's
value exact -- so module 04's tests, which come before autograd and check values only, all pass --
but the gradient loses its softmax term: wrong classes are never pushed down and training diverges.
Milestone 3's bounded hidden test (3 epochs of TinyDigits) catches it: the paper's
"implementation-example gap", kept as a regression test of the milestone suite's purpose.
"""
from __future__ import annotations

import shutil

import pytest

from grading import REPO_ROOT
from grading.student.progress import run_pytest_json

CORRECT = "        log_sum_exp = shifted.exp().sum(axis=-1).log()\n"
BUG = "        log_sum_exp = np.log(np.exp(shifted.data).sum(axis=-1))  # the normaliser: a constant too\n"
MODULE_04_TESTS = ["spec/test_04_losses.py", "hidden_tests/unit/test_04_losses_hidden.py"]
MILESTONE_3_TEST = "hidden_tests/milestones/test_m03_mlp.py"


@pytest.fixture(scope="module")
def buggy_package(tmp_path_factory):
    root = tmp_path_factory.mktemp("composition-bug")
    shutil.copytree(REPO_ROOT / "reference" / "tinytorch", root / "tinytorch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    losses = root / "tinytorch" / "core" / "losses.py"
    source = losses.read_text(encoding="utf-8")
    assert source.count(CORRECT) == 1, "the reference's cross-entropy changed: update this bug to match"
    losses.write_text(source.replace(CORRECT, BUG), encoding="utf-8")
    return root


def outcomes(tests: list[str], submission) -> dict[str, str]:
    report = run_pytest_json([*tests, "--submission", str(submission), "-p", "no:cacheprovider"], cwd=REPO_ROOT,
                             env={"TINYTORCH_HYPOTHESIS_PROFILE": "grading", "PATH": "/usr/bin:/bin"})
    return {test["nodeid"]: test["outcome"] for test in report["tests"]}


def test_the_bug_passes_every_unit_test_of_its_module(buggy_package):
    results = outcomes(MODULE_04_TESTS, buggy_package)
    assert len(results) >= 25 and set(results.values()) == {"passed"}, \
        {nodeid: outcome for nodeid, outcome in results.items() if outcome != "passed"}


def test_the_bug_fails_the_mlp_milestone_which_the_reference_passes(buggy_package):
    assert set(outcomes([MILESTONE_3_TEST], REPO_ROOT / "reference").values()) == {"passed"}
    assert set(outcomes([MILESTONE_3_TEST], buggy_package).values()) == {"failed"}
