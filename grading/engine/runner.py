"""Run test files against one package variant in a sandboxed pytest subprocess; read the results.

Each run is one pytest process per secrecy group (the visible spec; the hidden suites), each in
its own sandbox (grading/sandbox/confine.py), with the grader's plugin writing a journal to the grader's
pipe (grading/engine/pytest_plugin.py). The run's results are trusted only when the process finished
its session and the two canary tests the grader appended came back right (the must-pass passed,
the must-fail failed) and its journal is well formed and in order: a submission that breaks
pytest's reporting wholesale, sends its own records or kills the process scores zero and is told
why. (Code that rewrites results selectively from inside the test process is beyond what an
in-process check can see; the policy scan flags the routes to it.)
"""
from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from grading import import_path_env
from grading.authoring.curriculum import GradingSettings
from grading.engine import channel
from grading.sandbox.budget import Allowance, is_overloaded, is_timeout
from grading.engine.workspace import Canary, Workspace
from grading.sandbox import confine as sandbox
from grading.sandbox.launcher import CHANNEL_FD

TAMPERED = ("the grader's control tests came back wrong or its results file was written by something else: the "
            "submission interfered with the test framework, so this run was discarded (tampering)")

# How the other tampering findings begin (an import probe's or an inventory's records that are not the grader's).
TAMPERING_DETECTED = "tampering detected"


def is_tampering(problem: str) -> bool:
    """Whether a run's problem is tampering (its journal, or its import probe's records, were not the grader's)."""
    return problem == TAMPERED or TAMPERING_DETECTED in problem


# A run on a machine too busy to grade it: the grader retries it, and reports it as not graded (status
# `error`, regraded on the next pass) if that fails too. Never the student's failure.
OVERLOADED = ("not graded: the grading machine was too busy to grade this run fairly (its tests got far less CPU "
              "time than they were waiting for); it is graded again on the next pass")


def is_overloaded_run(problem: str) -> bool:
    return problem == OVERLOADED


HIDDEN_PROCESS_FAILED = ("the process running the hidden checks crashed or was stopped before it finished; results only "
                         "count from runs that finish, so this run scores zero")
SUITES = {"spec": "visible", "hidden_tests/unit": "hidden", "hidden_tests/integration": "integration",
          "hidden_tests/milestones": "milestone"}


@dataclass(frozen=True)
class TestEntry:
    """One test the grader expects to run (from the inventory)."""

    nodeid: str
    modules: tuple[int, ...]
    points: float
    path: str  # test file, relative to the work directory
    line: int

    @property
    def suite(self) -> str:
        for prefix, suite in SUITES.items():
            if self.path.startswith(prefix + "/"):
                return suite
        return "visible"


@dataclass
class TestResult:
    entry: TestEntry
    outcome: str  # passed | failed | error | skipped | not-run
    message: str = ""
    duration: float = 0.0
    timed_out: bool = False
    location: tuple[str, int] | None = None  # deepest frame in the student's own code
    cpu: float | None = None  # CPU seconds the test cost (its processes, the judged worker's included)


@dataclass(frozen=True)
class RunPlan:
    run_id: str  # e.g. "m06-isolated"
    mode: str  # isolated | integrated
    package: Path  # the directory holding tinytorch/
    student_files: frozenset[str]  # paths (tinytorch/...) in `package` that the student wrote
    entries: tuple[TestEntry, ...]
    blocked: str = ""  # when set, nothing runs and every entry gets this reason

    @property
    def files(self) -> list[str]:
        """The test files, visible spec first (a student reads those failures first), then hidden."""
        suite_order = list(SUITES.values())
        return sorted({entry.path for entry in self.entries},
                      key=lambda path: (suite_order.index(TestEntry("", (), 1.0, path, 0).suite), path))


@dataclass
class RunResult:
    plan: RunPlan
    results: list[TestResult]
    problem: str = ""  # why the whole run is untrusted or could not run ("" when fine)
    duration: float = 0.0

    def passed(self) -> int:
        return sum(r.outcome == "passed" for r in self.results)


# ---------------------------------------------------------------- running pytest
def pytest_command(files: list[str], package: Path, settings: GradingSettings, always_run: list[str],
                   collect_only: bool = False, budgets: Path | None = None) -> list[str]:
    command = [sys.executable, "-m", "pytest", *files, "-c", "pytest.ini", "--rootdir", ".",
               "-p", "pytest_timeout", "-p", "_hypothesis_pytestplugin", "-p", "grading.engine.pytest_plugin",
               # `--opt=value`: a separate path argument would look like a test path to pytest's early
               # parse, which would then load the conftest.py files above it.
               f"--submission={package}", f"--kata-journal=fd:{CHANNEL_FD}", "-q", "--no-header", "-rN"]
    if collect_only:
        return command + ["--collect-only"]
    # The run stops starting tests with a few tests' budgets to spare, so the canaries still run.
    run_budget = max(settings.run_cpu_seconds - 3 * settings.test_cpu_seconds, settings.test_cpu_seconds)
    command += [f"--timeout={settings.test_cpu_seconds:g}", "--timeout-method=signal",
                f"--kata-factors={settings.wait_factor:g},{settings.overload_factor:g}",
                f"--kata-stop-after-timeouts={settings.stop_after_timeouts}", f"--kata-run-cpu={run_budget:g}"]
    if budgets is not None:
        command.append(f"--kata-budgets={budgets}")
    command += [f"--kata-always-run={nodeid}" for nodeid in always_run]
    return command


# A worker call's own deadline is only a net for a hang outside a test's phases (where no budget is
# checked): past every budget's wall-clock net, and a little more.
CALL_GRACE_SECONDS = 5


class CpuSlots:
    """Hands each judged run the CPU with the fewest runs on it. A judged run is two processes that
    take turns (the tests wait while the worker computes, and back): on one CPU a turn costs a
    context switch, across two CPUs of a virtual machine an inter-processor interrupt, several
    times slower."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._load = dict.fromkeys(sorted(os.sched_getaffinity(0)), 0)

    def take(self) -> int:
        """The least used CPU, preferring the one this thread runs on now (the kernel put it on a
        quiet one, so separate graders on one machine spread out as well)."""
        here = current_cpu()
        with self._lock:
            cpu = min(self._load, key=lambda c: (self._load[c], c != here, c))
            self._load[cpu] += 1
            return cpu

    def give_back(self, cpu: int) -> None:
        with self._lock:
            self._load[cpu] -= 1


def current_cpu() -> int | None:
    """The CPU the calling thread runs on (field 39 of /proc/thread-self/stat), or None."""
    try:
        fields = Path("/proc/thread-self/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[36])  # the 39th field, counted after the two that end with ")"
    except (OSError, IndexError, ValueError):
        return None


CPU_SLOTS = CpuSlots()


def judged_options(scratch: Path, settings: GradingSettings, cpu: int | None = None) -> list[str]:
    """The pytest options of a judged run: the worker's limits, the CPU the run keeps to (with its
    worker), and a scratch folder (pytest's tmp_path) that the harness and the worker share."""
    # pytest deletes and re-creates its --basetemp, so the worker gets the folder around it: a
    # mount of the folder itself would keep showing the deleted one.
    scratch.mkdir(parents=True, exist_ok=True)
    worker = {"memory": settings.memory_limit_mib * sandbox.MIB, "file": settings.output_limit_mib * sandbox.MIB,
              "processes": settings.max_processes,
              "call_seconds": settings.test_cpu_seconds * settings.overload_factor + CALL_GRACE_SECONDS,
              "writable": [str(scratch)], "cpu": cpu}
    return [f"--kata-judged={json.dumps(worker)}", f"--basetemp={scratch / 'pytest'}"]


def subprocess_env(workspace: Workspace) -> dict[str, str]:
    # No third-party plugin loads by accident; the three the grader needs are named with -p.
    # The plugin and the probe are imported by name (inside the sandbox only grading/ itself is
    # mounted under the folder a template's PYTHONPATH names).
    extra = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "TINYTORCH_HYPOTHESIS_PROFILE": "grading", **import_path_env()}
    return sandbox.clean_environment(workspace.home, extra)


def limits(settings: GradingSettings, cpu_seconds: float) -> sandbox.Limits:
    """A sandboxed process's limits, its time a budget of `cpu_seconds` with the manifest's nets."""
    allowance = Allowance(cpu_seconds, settings.wait_factor, settings.overload_factor)
    return sandbox.Limits(time=allowance, memory_bytes=settings.memory_limit_mib * sandbox.MIB,
                          file_bytes=settings.output_limit_mib * sandbox.MIB, max_processes=settings.max_processes)


def secrecy_groups(files: list[str], judged: bool = False) -> list[list[str]]:
    """Test files split by what they may reveal: the visible spec in one process, hidden suites in
    another. Student code in a visible test's process can then never read a hidden test file, so a
    visible test's full message cannot carry one out. A judged run needs no split: its worker, the
    only process running student code, sees the package and nothing of the tests."""
    if judged:
        return [list(files)] if files else []
    visible = [f for f in files if not f.startswith("hidden_tests/")]
    hidden = [f for f in files if f.startswith("hidden_tests/")]
    return [group for group in (visible, hidden) if group]


def _sandboxed_pytest(workspace: Workspace, folder: Path, files: list[str], package: Path, settings: GradingSettings,
                      always_run: list[str], collect_only: bool = False, judged: bool = False,
                      budgets: dict[str, float] | None = None) -> tuple["Journal", sandbox.Outcome]:
    """One pytest process in a sandbox that sees `files` (plus the harness) and `package` only; or,
    judged, a pytest process that imports no submission code and runs `package` in its own
    sandboxed worker, which sees the package and the tests' temporary folder only."""
    budgets_file = _budgets_file(folder, files, budgets) if budgets else None
    command = pytest_command(files, package, settings, always_run, collect_only, budgets_file)
    shown = (budgets_file,) if budgets_file is not None else ()
    view = sandbox.View(tuple(workspace.test_view(files)) + (package,) + shown, workspace.root)
    env = subprocess_env(workspace)
    cpu = CPU_SLOTS.take() if judged else None
    if judged:
        command += judged_options(folder / "tmp", settings, cpu)
        if not sandbox.isolation().sandboxed:
            env[sandbox.FORCE_NONE_VARIABLE] = "none"  # the worker runs as this grade's other processes do
    try:
        outcome = sandbox.run(command, view=view, env=env, limits=limits(settings, settings.run_cpu_seconds),
                              output_path=folder / "output.txt", confine=not judged)
    finally:
        if cpu is not None:
            CPU_SLOTS.give_back(cpu)
    (folder / "journal.jsonl").write_bytes(outcome.channel)  # a copy for people to read; never read back
    return parse_journal(outcome), outcome


def _budgets_file(folder: Path, files: list[str], budgets: dict[str, float]) -> Path:
    """The CPU budgets of the tests in `files` only (a visible run must not learn hidden test names)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cpu_budgets.json"
    mine = {nodeid: seconds for nodeid, seconds in budgets.items() if nodeid.split("::", 1)[0] in files}
    path.write_text(json.dumps({"budgets": mine}), encoding="utf-8")
    return path


def collect_inventory(workspace: Workspace, package: Path, files: list[str],
                      settings: GradingSettings) -> tuple[list[TestEntry], dict[str, str]]:
    """Every test in `files` as collected against `package`, plus collection errors by file."""
    entries, errors = [], {}
    for index, group in enumerate(secrecy_groups(files)):
        journal, _ = _sandboxed_pytest(workspace, workspace.run_folder(f"inventory-{index}"), group, package,
                                       settings, [], collect_only=True)
        if journal.malformed or any(event["event"] in ("start", "phase", "finish") for event in journal.events):
            # Only possible when the package is the student's (no reference): such an inventory is not
            # used, so each of its files counts at full weight and scores zero.
            errors.update({path: f"{TAMPERING_DETECTED} while the tests were collected" for path in group})
            continue
        for event in journal.events:
            if event.get("event") == "collected":
                entries.append(TestEntry(event["nodeid"], tuple(event["modules"]), float(event["points"]),
                                         event["path"], int(event["line"])))
            elif event.get("event") == "collection-error":
                errors[event["nodeid"]] = event.get("message", "")
    return entries, errors


def execute(plan: RunPlan, workspace: Workspace, canary: Canary, settings: GradingSettings,
            judged: bool = False, budgets: dict[str, float] | None = None) -> RunResult:
    """Run one plan (one pytest process per secrecy group, direct or judged) and return a result for
    every entry it owns. A problem in any of its processes (a crash, tampering) discards the whole plan."""
    if plan.blocked:
        return RunResult(plan, [TestResult(e, "not-run", plan.blocked) for e in plan.entries], problem=plan.blocked)
    always_run = [canary.must_pass, canary.must_fail]
    results: dict[str, TestResult] = {}
    problem, duration = "", 0.0
    for index, group in enumerate(secrecy_groups(plan.files, judged)):
        folder = workspace.run_folder(f"{plan.run_id}-{index}")
        journal, outcome = _sandboxed_pytest(workspace, folder, group + [canary.path], plan.package, settings,
                                             always_run, judged=judged, budgets=budgets)
        owned = [entry for entry in plan.entries if entry.path in group]
        part = read_journal(replace(plan, entries=tuple(owned)), journal, canary, outcome, workspace.root)
        results.update((r.entry.nodeid, r) for r in part.results)
        if outcome.overloaded or any(is_overloaded(r.message) for r in part.results):
            part.problem = OVERLOADED  # before tampering: a starved canary is a slow one, not a forged one
        if part.problem and not is_tampering(part.problem) and not is_overloaded_run(part.problem) \
                and group[0].startswith("hidden_tests/") and not judged:
            part.problem = HIDDEN_PROCESS_FAILED  # how it ended (an exit code, say) could carry data out
        problem = problem or part.problem
        duration += outcome.duration
    ordered = [results[e.nodeid] for e in plan.entries]
    if problem:
        ordered = [TestResult(r.entry, "not-run" if r.outcome == "not-run" else "error", problem) for r in ordered]
    return RunResult(plan, ordered, problem=problem, duration=duration)


# ---------------------------------------------------------------- reading results back
@dataclass
class Journal:
    """The events a run sent on its channel, and whether the bytes were well formed."""

    events: list[dict]
    malformed: bool = False  # a line that is not one of the plugin's JSON events
    torn: bool = False  # only the last line is cut short (the process was killed while writing it)


def parse_journal(outcome: sandbox.Outcome) -> Journal:
    """Split the channel's bytes into events (grading/engine/channel.py checks every field). Anything
    malformed discards the run as tampered, except a torn last line, which a killed process can leave."""
    events, malformed, torn = channel.journal_events(outcome.channel)
    return Journal(events, malformed or outcome.channel_overflow, torn)


@dataclass
class _Observed:
    phases: dict = field(default_factory=dict)  # when -> event
    started: bool = False
    finished: bool = False
    cpu: float | None = None


def _out_of_order(kind: str, event: dict, seen: _Observed | None, running: str | None, nodeid: str,
                  session_ended: bool, tests_started: bool) -> bool:
    """Whether an event breaks the order the plugin writes in: collection first; then per test
    start, its phases once each, finish, one test at a time; nothing after the session's end."""
    if session_ended:
        return True
    if kind in ("collected", "collection-error"):
        return tests_started
    if kind == "start":
        return seen.started or running is not None
    if kind == "phase":
        return not seen.started or seen.finished or running != nodeid or event.get("when") in seen.phases
    if kind == "finish":
        return not seen.started or seen.finished or running != nodeid
    return False


def read_journal(plan: RunPlan, journal: Journal, canary: Canary, outcome: sandbox.Outcome,
                 work_root: Path) -> RunResult:
    """Fold a run's journal into one result per planned test (paths in it are relative to work_root)."""
    observed: dict[str, _Observed] = {}
    collection_errors: dict[str, str] = {}
    session_ended = tests_started = False
    forged = journal.malformed
    running: str | None = None
    for event in journal.events:
        kind, nodeid = event.get("event"), str(event.get("nodeid", ""))
        seen = observed.setdefault(nodeid, _Observed()) if kind in ("start", "phase", "finish") else None
        # The plugin writes each event once, in order: anything else was written by someone else.
        forged |= _out_of_order(kind, event, seen, running, nodeid, session_ended, tests_started)
        if kind == "collection-error":
            collection_errors[nodeid] = str(event.get("message", ""))
        elif kind == "start":
            seen.started, running, tests_started = True, nodeid, True
        elif kind == "phase":
            seen.phases.setdefault(event.get("when"), event)
        elif kind == "finish":
            seen.finished, running, seen.cpu = True, None, event.get("cpu")
        elif kind == "end":
            session_ended = True

    forged |= journal.torn and session_ended  # bytes after the session's last event
    problem = TAMPERED if forged else _run_problem(observed, canary, session_ended, outcome)
    results = []
    for entry in plan.entries:
        seen = observed.get(entry.nodeid)
        if problem:
            results.append(TestResult(entry, "error" if seen and seen.started else "not-run", problem))
        elif seen is None or not seen.started:
            results.append(TestResult(entry, "not-run", _why_not_collected(entry, collection_errors)))
        else:
            results.append(replace(_result_from_phases(entry, seen, plan, work_root), cpu=seen.cpu))
    return RunResult(plan, results, problem=problem)


def _run_problem(observed: dict[str, _Observed], canary: Canary, session_ended: bool,
                 outcome: sandbox.Outcome) -> str:
    """Why this run's results cannot be trusted, or "" when they can."""
    if not session_ended or outcome.timed_out or (outcome.returncode is not None and outcome.returncode < 0):
        running = [nodeid for nodeid, seen in observed.items() if seen.started and not seen.finished]
        where = f" during {_display(running[0])}" if running else ""
        return (f"the test process {outcome.describe()}{where}; results only count from runs that finish, "
                "so this run scores zero")
    pass_ok = _call_outcome(observed.get(canary.must_pass)) == "passed"
    fail_ok = _call_outcome(observed.get(canary.must_fail)) == "failed"
    return "" if pass_ok and fail_ok else TAMPERED


def _display(nodeid: str) -> str:
    """How a run-level message names a test: hidden tests stay anonymous."""
    return "a hidden check" if nodeid.startswith("hidden_tests/") else nodeid.removeprefix("spec/")


def _call_outcome(seen: _Observed | None) -> str:
    if seen is None or "call" not in seen.phases:
        return "missing"
    return str(seen.phases["call"].get("outcome"))


def _why_not_collected(entry: TestEntry, collection_errors: dict[str, str]) -> str:
    message = collection_errors.get(entry.path) or next(iter(collection_errors.values()), "")
    if message:
        lines = [line for line in message.splitlines() if line.strip()]
        return "could not be collected: " + (lines[-1] if lines else message)[:500]
    return "was not run (it is no longer collected: was the test renamed or removed?)"


def _result_from_phases(entry: TestEntry, seen: _Observed, plan: RunPlan, work_root: Path) -> TestResult:
    phases = seen.phases
    duration = sum(float(p.get("duration", 0.0)) for p in phases.values())
    failing = next((phases[w] for w in ("setup", "call", "teardown") if phases.get(w, {}).get("outcome") == "failed"),
                   None)
    if failing is not None:
        outcome = "failed" if failing.get("when") == "call" else "error"
        message = str(failing.get("message", ""))
        return TestResult(entry, outcome, message, duration, is_timeout(message),
                          _student_location(failing, plan, work_root))
    skipped = next((phases[w] for w in ("setup", "call") if phases.get(w, {}).get("outcome") == "skipped"), None)
    if skipped is not None:
        reason = str(skipped.get("message", "skipped")).removeprefix("Skipped: ")
        outcome = "not-run" if reason.startswith("not run:") else "skipped"
        return TestResult(entry, outcome, reason, duration)
    if phases.get("call", {}).get("outcome") == "passed" and seen.finished:
        return TestResult(entry, "passed", "", duration)
    return TestResult(entry, "error", "the test did not report a result", duration)


def _student_location(phase: dict, plan: RunPlan, work_root: Path) -> tuple[str, int] | None:
    """The deepest traceback frame inside a file the student wrote, as (tinytorch/..., line)."""
    package = plan.package.resolve()
    for path, line in reversed(phase.get("frames", [])):
        try:
            relative_text = (work_root / path).resolve().relative_to(package).as_posix()
        except (ValueError, OSError):
            continue
        if relative_text in plan.student_files:
            return relative_text, int(line)
    return None
