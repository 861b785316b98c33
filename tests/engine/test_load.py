"""A grade is a function of the submission alone: the same outcomes on an idle, a busy and a slowed machine.

Time limits count CPU time (grading/sandbox/budget.py), so a correct submission keeps full marks on a
machine at a quarter of one CPU, and a submission with one endless, sleeping or very slow function
runs out of time on exactly the tests that call that function, whatever else the machine is doing.
Which tests call it is found by a probe submission whose function raises instead: the tests that fail
then. The machine is slowed by a cgroup CPU quota and kept busy by spinning processes
(bench/slow_machine.py); `make test` runs as root, which creating a cgroup needs.
"""
from dataclasses import replace
from pathlib import Path

import pytest

from bench import slow_machine
from grading import REPO_ROOT
from grading.classroom import regrade
from grading.engine import grader, runner as runner_module
from tests.support.grading import COURSE, FAST, graded, runner, submission

ACTIVATIONS = REPO_ROOT / "reference" / "tinytorch" / "core" / "activations.py"
# Every caller runs, however many time out in a row; budgets tighter than the manifest's (half a second,
# or three times a test's cost on the reference), so that each timeout costs a fraction of a second.
PATIENT = replace(FAST, stop_after_timeouts=1000, test_cpu_floor=0.5, test_cpu_factor=3, wait_factor=1)


def with_gelu(tmp_path: Path, *body: str) -> Path:
    """The reference with `body` run first in GELU.forward (one function of module 02)."""
    text = ACTIVATIONS.read_text(encoding="utf-8")
    start = text.index("### BEGIN SOLUTION", text.index("class GELU"))
    indent = " " * 8
    inserted = "".join(f"{indent}{line}\n" for line in body)
    line_end = text.index("\n", start) + 1
    return submission(tmp_path, tinytorch__core__activations_py=text[:line_end] + inserted + text[line_end:])


def outcomes(report: dict) -> dict[str, str]:
    """nodeid -> outcome of module 02's tests (hidden checks by their stable numbered ids)."""
    return {t["nodeid"]: t["outcome"] for t in runner(report, "m02")["tests"]}


@pytest.fixture(scope="module")
def callers(tmp_path_factory) -> set[str]:
    """The tests of module 02 that call GELU.forward: they fail when it raises."""
    report = graded(with_gelu(tmp_path_factory.mktemp("probe"), "raise RuntimeError('probe')"), modules=(2,),
                    settings=PATIENT)
    failing = {nodeid for nodeid, outcome in outcomes(report).items() if outcome != "passed"}
    assert 0 < len(failing) < len(outcomes(report)) / 2, "GELU is one function among many"
    return failing


SPIN_SECONDS_OF_WORK = "sum(range(100_000_000))"  # a second or more of CPU per call: past every budget here


@pytest.mark.parametrize(("body", "judged", "busy"), [
    (("while True:", "    pass"), True, 0),
    (("import time", "time.sleep(3600)"), False, 0),
    ((SPIN_SECONDS_OF_WORK,), True, 2),
], ids=["endless-loop-judged-idle", "asleep-direct-idle", "very-slow-judged-busy"])
def test_a_bad_function_runs_out_of_time_on_exactly_the_tests_that_call_it(tmp_path, callers, body, judged, busy):
    with slow_machine.busy(busy):
        report = graded(with_gelu(tmp_path, *body), modules=(2,), judged=judged, settings=PATIENT)
    m02 = runner(report, "m02")
    timed_out = {t["nodeid"] for t in m02["tests"] if t["timed_out"]}
    assert timed_out == callers
    assert all(t["outcome"] == "passed" for t in m02["tests"] if t["nodeid"] not in callers)
    assert not m02["overloaded"] and m02["status"] == "fail"
    assert all("ran out of time" in t["message"] for t in m02["tests"] if t["nodeid"] in callers)


def test_the_reference_keeps_full_marks_at_a_quarter_of_one_cpu(tmp_path):
    # With the manifest's own budgets, as a grade has them: module 06 direct (the dearest tests of the
    # foundation) and module 02 judged (every call a round trip between two processes that both wait
    # for the quota). `bench/slow_machine.py --cpu 0.25` grades the whole course this way.
    with slow_machine.slowed(0.25):
        direct = graded(REPO_ROOT / "reference", modules=(6,), settings=COURSE.grading)
        judged = graded(REPO_ROOT / "reference", modules=(2,), judged=True, settings=COURSE.grading)
    for report in (direct, judged):
        assert report["score"] == report["max_score"] > 0
        assert {t["outcome"] for t in report["tests"]} == {"passed"}
        assert not any(module["overloaded"] for module in report["modules"])


# ---------------------------------------------------------------- a machine too busy to grade
def _overloaded(result: runner_module.RunResult) -> runner_module.RunResult:
    problem = runner_module.OVERLOADED
    return replace(result, problem=problem, results=[replace(r, outcome="error", message=problem)
                                                     for r in result.results])


def test_a_run_the_machine_was_too_busy_for_is_retried_then_reported_not_graded(tmp_path, monkeypatch):
    executed = []
    real_execute = runner_module.execute

    def starved_isolated_run(plan, *args, **kwargs):
        executed.append(plan.run_id)
        result = real_execute(plan, *args, **kwargs)
        return _overloaded(result) if plan.run_id == "m02-isolated" else result

    monkeypatch.setattr(grader.runner, "execute", starved_isolated_run)
    report = graded(REPO_ROOT / "reference", modules=(2,))
    assert sorted(executed) == ["m02-integrated", "m02-isolated", "m02-isolated"], "retried once, alone"
    m02 = runner(report, "m02")
    assert m02["overloaded"] and m02["status"] == "error" and m02["score"] == 0
    assert m02["message"] == runner_module.OVERLOADED
    assert {t["message"] for t in m02["tests"] if t["suite"] == "hidden"} == {"not graded"}
    assert all(t["message"] == runner_module.OVERLOADED for t in m02["tests"] if t["suite"] == "visible")
    assert not any(t["timed_out"] for t in m02["tests"]), "never the student's timeout"


def test_a_run_that_succeeds_on_its_retry_counts(tmp_path, monkeypatch):
    calls = {"m02-isolated": 0}
    real_execute = runner_module.execute

    def starved_once(plan, *args, **kwargs):
        result = real_execute(plan, *args, **kwargs)
        if plan.run_id == "m02-isolated":
            calls[plan.run_id] += 1
            return _overloaded(result) if calls[plan.run_id] == 1 else result
        return result

    monkeypatch.setattr(grader.runner, "execute", starved_once)
    report = graded(REPO_ROOT / "reference", modules=(2,))
    assert calls["m02-isolated"] == 2
    assert report["score"] == report["max_score"] and not runner(report, "m02")["overloaded"]


def test_regrade_grades_a_report_with_an_overloaded_suite_again(tmp_path):
    import json

    from grading.engine.workspace import fingerprint, tests_fingerprint

    root = REPO_ROOT / "reference"
    tests = tests_fingerprint(REPO_ROOT, REPO_ROOT / "grading" / "curriculum.toml", REPO_ROOT / "hidden_tests")
    report = {"submission": {"fingerprint": fingerprint(root / "tinytorch")},
              "grader": {"tests_fingerprint": tests, "modules": [2]},
              "isolation": {"kind": regrade.isolation().kind},
              "modules": [{"id": "m02", "overloaded": False}]}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    assert regrade._up_to_date(path, root, "tinytorch", [2], tests) is not None, "complete: up to date"
    report["modules"][0]["overloaded"] = True
    path.write_text(json.dumps(report))
    assert regrade._up_to_date(path, root, "tinytorch", [2], tests) is None, "not graded: graded again"
