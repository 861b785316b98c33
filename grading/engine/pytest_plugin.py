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
import time

import pytest
import pytest_timeout

MESSAGE_LIMIT = 2000
REPEAT_SECONDS = 1.0  # after a test's deadline, the timeout alarm fires again this often


def open_channel(target: str):
    """A line-buffered text stream to `target`: "fd:N" is an inherited descriptor (the grader's
    pipe, see grading/sandbox/confine.py), anything else a file path to append to."""
    if target.startswith("fd:"):
        return os.fdopen(int(target[3:]), "a", encoding="utf-8", buffering=1)
    return open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 -- the caller closes it


class Journal:
    def __init__(self, path: str, stop_after_timeouts: int, budget: float, always_run: list[str]):
        self._handle = open_channel(path)
        self.stop_after_timeouts = stop_after_timeouts
        self.deadline = time.monotonic() + budget if budget else None
        self.always_run = set(always_run)
        self.consecutive_timeouts = 0

    def reason_to_skip(self) -> str:
        """Why the remaining tests are not worth running, or "" to go on."""
        if self.stop_after_timeouts and self.consecutive_timeouts >= self.stop_after_timeouts:
            return f"not run: {self.consecutive_timeouts} tests in a row ran out of time before it"
        if self.deadline is not None and time.monotonic() > self.deadline:
            return "not run: this run used up its time budget before reaching it"
        return ""

    def write(self, **event) -> None:
        self._handle.write(json.dumps(event, default=str) + "\n")

    def close(self) -> None:
        self._handle.close()


# One graded run is one pytest session in one process; several hooks receive no config object.
_ACTIVE: dict = {"journal": None, "test_code_running": False, "judged": None, "submission_frames": []}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata grader")
    group.addoption("--kata-journal", metavar="PATH", help="append one JSON line per test event to PATH "
                    "(fd:N: to inherited descriptor N)")
    group.addoption("--kata-stop-after-timeouts", type=int, default=0, metavar="N",
                    help="skip the remaining tests after N consecutive tests time out (0: never)")
    group.addoption("--kata-budget", type=float, default=0, metavar="SECONDS",
                    help="skip the remaining tests once the run has taken this long (0: no budget)")
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
                                     config.getoption("--kata-budget"), config.getoption("--kata-always-run"))


def _start_judged(config: pytest.Config, options: dict) -> None:
    from pathlib import Path

    from grading.judged import proxy, remote
    from grading.sandbox import confine as sandbox

    if options.get("cpu") is not None:
        os.sched_setaffinity(0, {int(options["cpu"])})  # the worker, started from here, inherits it
    submission = config.getoption("--submission", default=None)
    if not submission:
        raise pytest.UsageError("--kata-judged needs --submission (the directory holding tinytorch/)")
    limits = sandbox.Limits(wall_seconds=0, memory_bytes=int(options["memory"]), file_bytes=int(options["file"]),
                            max_processes=int(options["processes"]))
    confinement = remote.Confinement(limits, tuple(Path(p).resolve() for p in options.get("writable", [])))
    worker = remote.Worker(Path(submission).resolve(), float(options["call_seconds"]), env=dict(os.environ),
                           confinement=confinement)
    _ACTIVE["judged"] = proxy.install(worker)
    config.add_cleanup(worker.close)


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
    journal.write(**event)
    if report.when == "call":
        journal.consecutive_timeouts = journal.consecutive_timeouts + 1 if is_timeout(event.get("message", "")) else 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Fail fast: a submission that hangs everywhere should not cost the full wall-clock limit. The
    # remaining tests are skipped, not stopped, so the canaries at the end still run.
    journal = _ACTIVE["journal"]
    if journal and item.nodeid not in journal.always_run and (reason := journal.reason_to_skip()):
        pytest.skip(reason)
    if _ACTIVE["judged"] is not None:
        _ACTIVE["judged"].new_test()
    _ACTIVE["test_code_running"] = True


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    _ACTIVE["test_code_running"] = True


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    # pytest makes a report right after each phase: from here on only pytest's own code runs.
    _ACTIVE["test_code_running"] = False
    # Judged: the frames the error passed through in the submission's worker (grading/judged/remote.py).
    error = call.excinfo.value if call.excinfo is not None else None
    _ACTIVE["submission_frames"] = list(getattr(error, "kata_frames", []) or [])


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings):
    """pytest-timeout's signal method, with an alarm that repeats after the deadline.

    pytest-timeout's own alarm fires once. Hypothesis catches that failure and then replays the
    failing example to report it: an infinite loop there would hang until the wall-clock limit
    kills the whole run. Repeating the alarm every REPEAT_SECONDS interrupts the replay too. It only
    raises while a test's setup or call runs: an exception raised while pytest tears fixtures down or
    writes the report would corrupt pytest's own state for every later test.
    """
    if settings.method != "signal":
        return None  # pytest-timeout's default implementation handles the thread method

    def handler(signum, frame):
        if _ACTIVE["test_code_running"]:
            pytest.fail(pytest_timeout.PYTEST_FAILURE_MESSAGE % settings.timeout)

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout, REPEAT_SECONDS)
    return True


def pytest_runtest_logfinish(nodeid: str) -> None:
    if journal := _ACTIVE["journal"]:
        journal.write(event="finish", nodeid=nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if journal := _ACTIVE["journal"]:
        journal.write(event="end", exitstatus=int(exitstatus))
        journal.close()
        _ACTIVE["journal"] = None


def is_timeout(message: str) -> bool:
    """Whether a failure message is pytest-timeout's ("Failed: Timeout (>10.0s) from pytest-timeout.")."""
    return message.startswith("Failed: Timeout") and "pytest-timeout" in message


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
