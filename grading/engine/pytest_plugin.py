"""The pytest plugin loaded into every graded run (`-p grading.engine.pytest_plugin`).

It writes a journal: one JSON line per event, flushed as it happens (collected test, collection
error, test started, phase result, test finished, session end). A run that ends normally and a run
that is killed mid-test (timeout, memory bomb, `os._exit`) are read back the same way: whatever
the journal holds is known, and a test that started without finishing is the one that ended the
process. The same journal, from a `--collect-only` run, is the grader's test inventory.

In a direct run this code runs inside the process that imports student code, so nothing here is
trusted by itself; the runner checks the canary tests it injects (see grading/engine/runner.py). In a
judged run (`--kata-judged`) the process never imports the submission: `tinytorch` is the proxy
package (grading/judged/proxy.py) and the submission runs in a sandboxed worker.
"""
from __future__ import annotations

import json
import os
import signal

import pytest

from grading.sandbox import cputime
from grading.sandbox.budget import CHECK_AT_LEAST, Allowance, Stopwatch, is_timeout

MESSAGE_LIMIT = 2000
REPEAT_SECONDS = 1.0  # after a test's deadline, the timeout alarm fires again this often


def open_channel(target: str):
    """A line-buffered text stream to `target`: "fd:N" is an inherited descriptor (the grader's
    pipe, see grading/sandbox/confine.py), anything else a file path to append to."""
    if target.startswith("fd:"):
        return os.fdopen(int(target[3:]), "a", encoding="utf-8", buffering=1)
    return open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 -- the caller closes it


class Journal:
    def __init__(self, path: str, stop_after_timeouts: int, run_cpu_seconds: float, always_run: list[str]):
        self._handle = open_channel(path)
        self.stop_after_timeouts = stop_after_timeouts
        self.run_cpu_seconds = run_cpu_seconds
        self.started = usage()
        self.always_run = set(always_run)
        self.consecutive_timeouts = 0

    def reason_to_skip(self) -> str:
        """Why the remaining tests are not worth running, or "" to go on."""
        if self.stop_after_timeouts and self.consecutive_timeouts >= self.stop_after_timeouts:
            return f"not run: {self.consecutive_timeouts} tests in a row ran out of time before it"
        if self.run_cpu_seconds and (usage() - self.started).cpu > self.run_cpu_seconds:
            return f"not run: this run used up its budget of {self.run_cpu_seconds:g} s of CPU time before reaching it"
        return ""

    def write(self, **event) -> None:
        self._handle.write(json.dumps(event, default=str) + "\n")

    def close(self) -> None:
        self._handle.close()


# One graded run is one pytest session in one process; several hooks receive no config object.
_ACTIVE: dict = {"journal": None, "test_code_running": False, "judged": None, "submission_frames": [],
                 "factors": None, "budgets": {}, "stopwatch": None}


def usage() -> cputime.Usage:
    """What the processes working for this run have used: this one (with the children it waited
    for), and in judged mode the submission's worker, read from outside its sandbox."""
    total = cputime.own_usage()
    if (runtime := _ACTIVE["judged"]) is not None:
        total += runtime.worker.usage()
    return total


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata grader")
    group.addoption("--kata-journal", metavar="PATH", help="append one JSON line per test event to PATH "
                    "(fd:N: to inherited descriptor N)")
    group.addoption("--kata-stop-after-timeouts", type=int, default=0, metavar="N",
                    help="skip the remaining tests after N consecutive tests time out (0: never)")
    group.addoption("--kata-run-cpu", type=float, default=0, metavar="SECONDS",
                    help="skip the remaining tests once the run has used this much CPU time (0: no budget)")
    group.addoption("--kata-factors", default="", metavar="WAIT,OVERLOAD",
                    help="the multiples of a test's CPU budget (--timeout) that its own time and its wall-clock "
                         "time may reach (grading/sandbox/budget.py); unset: pytest-timeout's wall-clock alarm")
    group.addoption("--kata-budgets", default=None, metavar="PATH",
                    help='a JSON file {"budgets": {nodeid: CPU seconds}} of per-test budgets (kata calibrate); '
                         "tests it does not name get --timeout")
    group.addoption("--kata-always-run", action="append", default=[], metavar="NODEID",
                    help="a test that runs even when the others are skipped (the grader's canaries)")
    group.addoption("--kata-judged", metavar="JSON", default=None,
                    help='judged mode: run the submission (--submission) in a sandboxed worker, with '
                         '{"memory": bytes, "file": bytes, "processes": n, "call_seconds": s, "writable": [folders], '
                         '"cpu": n or null}')


@pytest.hookimpl(tryfirst=True)  # before conftest.py decides what `tinytorch` is
def pytest_configure(config: pytest.Config) -> None:
    if judged := config.getoption("--kata-judged"):
        _start_judged(config, json.loads(judged))
    path = config.getoption("--kata-journal")
    if path:
        _ACTIVE["journal"] = Journal(path, config.getoption("--kata-stop-after-timeouts"),
                                     config.getoption("--kata-run-cpu"), config.getoption("--kata-always-run"))
    if factors := config.getoption("--kata-factors"):
        wait, overload = (float(factor) for factor in factors.split(","))
        _ACTIVE["factors"] = (wait, overload)
    if budgets := config.getoption("--kata-budgets"):
        with open(budgets, encoding="utf-8") as handle:
            _ACTIVE["budgets"] = {str(k): float(v) for k, v in json.load(handle)["budgets"].items()}


def _start_judged(config: pytest.Config, options: dict) -> None:
    from pathlib import Path

    from grading.judged import proxy, remote
    from grading.sandbox import confine as sandbox

    if options.get("cpu") is not None:
        os.sched_setaffinity(0, {int(options["cpu"])})  # the worker, started from here, inherits it
    submission = config.getoption("--submission", default=None)
    if not submission:
        raise pytest.UsageError("--kata-judged needs --submission (the directory holding tinytorch/)")
    limits = sandbox.Limits(time=None, memory_bytes=int(options["memory"]), file_bytes=int(options["file"]),
                            max_processes=int(options["processes"]))
    confinement = remote.Confinement(limits, tuple(Path(p).resolve() for p in options.get("writable", [])))
    worker = remote.Worker(Path(submission).resolve(), float(options["call_seconds"]), env=dict(os.environ),
                           confinement=confinement)
    _ACTIVE["judged"] = proxy.install(worker)
    config.add_cleanup(worker.close)
    config.pluginmanager.register(NeutralTemporaryFolders(), "kata-neutral-temporary-folders")


class NeutralTemporaryFolders:
    """`tmp_path` under a numbered name. The judged worker shares pytest's temporary folders (a test
    may hand the submission a path to save to), and pytest names each after its test: a hidden
    test's name would be there for the submission to list."""

    @pytest.fixture
    def tmp_path(self, tmp_path_factory: pytest.TempPathFactory):
        return tmp_path_factory.mktemp("t", numbered=True)


def _points(item: pytest.Item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker and marker.args else 1.0


def _modules(item: pytest.Item) -> list[int]:
    numbers: list[int] = []
    for marker in item.iter_markers("module"):
        numbers.extend(int(n) for n in marker.args)
    return sorted(set(numbers))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed and (journal := _ACTIVE["journal"]):
        journal.write(event="collection-error", nodeid=report.nodeid, message=_clip(report.longreprtext))


def pytest_collection_finish(session: pytest.Session) -> None:
    if not (journal := _ACTIVE["journal"]):
        return
    for item in session.items:
        path, line, _ = item.location
        journal.write(event="collected", nodeid=item.nodeid, modules=_modules(item), points=_points(item),
                      path=path, line=(line or 0) + 1)


def pytest_runtest_logstart(nodeid: str) -> None:
    if journal := _ACTIVE["journal"]:
        journal.write(event="start", nodeid=nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not (journal := _ACTIVE["journal"]):
        return
    event = {"event": "phase", "nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
             "duration": round(report.duration, 6)}
    if report.failed or report.skipped:
        event.update(_failure_details(report))
        if report.failed and _ACTIVE["submission_frames"]:
            event["frames"] = event.get("frames", []) + [list(frame) for frame in _ACTIVE["submission_frames"]]
    if report.when in ("setup", "call") and not report.skipped and (verdict := _budget_verdict()):
        # Whatever the test's own outcome: the budget decides. Hypothesis may have turned the
        # alarm's failure into a "flaky" one (its replay of one example fits the budget that many
        # examples together did not), or the test may have ended before the next check.
        event.update(outcome="failed", message="Failed: " + verdict)
    journal.write(**event)
    if report.when == "call":
        journal.consecutive_timeouts = journal.consecutive_timeouts + 1 if is_timeout(event.get("message", "")) else 0


PYTEST_INTERNALS = (os.sep + "_pytest" + os.sep, os.sep + "pluggy" + os.sep)


def _inside_pytest(frame) -> bool:
    """Whether the interrupted code is pytest's or pluggy's own (not a test, a fixture or the code they call)."""
    return frame is not None and any(part in frame.f_code.co_filename for part in PYTEST_INTERNALS)


def _budget_verdict() -> str:
    """The running test's budget verdict so far ("" when within it, or without CPU budgets)."""
    stopwatch = _ACTIVE["stopwatch"]
    return stopwatch.final_verdict() if stopwatch is not None else ""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Fail fast: a submission that hangs everywhere should not cost the whole run's budget. The
    # remaining tests are skipped, not stopped, so the canaries at the end still run.
    journal = _ACTIVE["journal"]
    if journal and item.nodeid not in journal.always_run and (reason := journal.reason_to_skip()):
        pytest.skip(reason)
    if _ACTIVE["judged"] is not None:
        _ACTIVE["judged"].new_test()


# The budget's alarm may raise only while a phase's own code runs: these wrappers are the innermost
# around pytest's setup and call (trylast), and pytest turns anything raised inside them into the
# test's result. Raised anywhere else, the failure would escape pytest's bookkeeping ("INTERNALERROR")
# and end the run.
@pytest.hookimpl(wrapper=True, trylast=True, specname="pytest_runtest_setup")
def pytest_runtest_setup_as_test_code(item: pytest.Item):  # pytest reads only names that start with pytest_
    return (yield from _test_code())


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item):
    return (yield from _test_code())


def _test_code():
    _ACTIVE["test_code_running"] = True
    try:
        return (yield)
    finally:
        _ACTIVE["test_code_running"] = False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    # Judged: the frames the error passed through in the submission's worker (grading/judged/remote.py).
    error = call.excinfo.value if call.excinfo is not None else None
    _ACTIVE["submission_frames"] = list(getattr(error, "kata_frames", []) or [])


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings):
    """A test's budget in CPU time (grading/sandbox/budget.py), checked by a SIGALRM handler.

    The alarm is set for the soonest moment a limit could be crossed and re-set after each check,
    so a test that stays within its budget is interrupted only a few times a second at most. Once
    over, the alarm repeats every REPEAT_SECONDS: Hypothesis catches the first failure and replays
    the failing example to report it, and an endless loop there must be interrupted too. It only
    raises while a test's setup or call runs: an exception raised while pytest tears fixtures down
    or writes the report would corrupt pytest's own state for every later test.
    """
    if settings.method != "signal" or _ACTIVE["factors"] is None:
        return None  # pytest-timeout's own implementation (wall clock): the student's local loop
    wait_factor, overload_factor = _ACTIVE["factors"]
    budget = _ACTIVE["budgets"].get(item.nodeid, settings.timeout)
    stopwatch = _ACTIVE["stopwatch"] = Stopwatch(Allowance(budget, wait_factor, overload_factor), usage)

    def handler(signum, frame):
        verdict = stopwatch.verdict()
        if verdict and _ACTIVE["test_code_running"] and _inside_pytest(frame):
            # Raised here, the failure would corrupt pytest's own bookkeeping (its stack of set-up
            # nodes) for every later test: try again as soon as the test's own code runs.
            signal.setitimer(signal.ITIMER_REAL, CHECK_AT_LEAST)
            return
        signal.setitimer(signal.ITIMER_REAL, REPEAT_SECONDS if verdict else stopwatch.next_check())
        if verdict and _ACTIVE["test_code_running"]:
            stopwatch.fired = stopwatch.fired or verdict
            pytest.fail(verdict)

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, stopwatch.next_check())
    return True


def pytest_runtest_logfinish(nodeid: str) -> None:
    if journal := _ACTIVE["journal"]:
        stopwatch, _ACTIVE["stopwatch"] = _ACTIVE["stopwatch"], None
        if stopwatch is None:
            journal.write(event="finish", nodeid=nodeid)
            return
        stopwatch.read()  # what the test cost, for `kata calibrate` and people; the verdict was the alarm's
        journal.write(event="finish", nodeid=nodeid, cpu=round(max(stopwatch.spent.cpu, 0.0), 4))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if journal := _ACTIVE["journal"]:
        journal.write(event="end", exitstatus=int(exitstatus))
        journal.close()
        _ACTIVE["journal"] = None


def _failure_details(report: pytest.TestReport) -> dict:
    """Message, crash location and traceback frames (path, line) of a failed or skipped phase."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        return {"message": _clip(str(longrepr[2]))}
    crash = getattr(longrepr, "reprcrash", None)
    entries = getattr(getattr(longrepr, "reprtraceback", None), "reprentries", [])
    frames = [[entry.reprfileloc.path, entry.reprfileloc.lineno]
              for entry in entries if getattr(entry, "reprfileloc", None) is not None]
    message = crash.message if crash is not None else report.longreprtext
    details = {"message": _clip(message), "frames": frames}
    if crash is not None:
        details["crash"] = [crash.path, crash.lineno]
    return details


def _clip(text: str) -> str:
    text = str(text)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + " ... [truncated]"
