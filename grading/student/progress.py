"""The student's loop: `kata test` and `kata status` (`kata watch` is in grading/student/watch.py).

Both run pytest in a subprocess with a JSON report and fold the outcomes per module by the `mNN`
markers. `kata test` shows a module's tests one line each and, for the first failure, the
assertion's own explanation and the command that reproduces it. `kata status` shows one row per
module of the curriculum, the next module to do and the milestones unlocked so far.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grading.authoring.course import NOT_ASSIGNED, Course, span
from grading.authoring.curriculum import Curriculum, Milestone, Module
from grading.authoring.stubgen import STUB_MESSAGE

PROFILE_VARIABLE = "TINYTORCH_HYPOTHESIS_PROFILE"
# The fold runs with the grader's Hypothesis profile: derandomized, so the same code gives the same
# result on every run (and the same as the grade), and without shrinking, which on the untouched
# stubs costs seconds per test for nothing (modules 01-02: 65 s with shrinking, 4 s without).
FOLD_PROFILE = "grading"
EXPLAIN_PROFILE = "explain"  # conftest.py: the grading profile's examples, then shrinking
EXPLANATION_LINES = 40  # the first failure's message is cut here; the command shows the rest

DONE, IN_PROGRESS, NOT_STARTED = "done", "in progress", "not started"
IMPORT_ERROR = "does not import"  # a test file of the module failed to import the package
PLANNED, PREBUILT = "planned", "pre-built"

# A failure raised by a stub: "NotImplementedError: <grading.authoring.stubgen.STUB_MESSAGE>".
STUB_FAILURE = re.compile(rf"NotImplementedError: (?P<message>{STUB_MESSAGE.pattern})")


# ---------------------------------------------------------------------------- output
def make_console(no_color: bool = False, *, stderr: bool = False, file=None,
                 force_terminal: bool | None = None) -> Console:
    """Colour on a terminal only (rich detects it); --no-color and a non-empty NO_COLOR
    (https://no-color.org) turn off every escape code, bold included. Long lines are not wrapped,
    so a printed command can be copied as it is."""
    plain = no_color or bool(os.environ.get("NO_COLOR"))
    return Console(stderr=stderr, file=file, force_terminal=force_terminal, highlight=False, soft_wrap=True,
                   color_system=None if plain else "auto")


# ---------------------------------------------------------------------------- running pytest
def run_pytest_json(args: list[str], cwd: Path, env: dict | None = None,
                    omit: tuple[str, ...] = ("collectors", "log", "warnings"), python: tuple[str, ...] = ()) -> dict:
    """Run pytest with a JSON report and return the parsed report. `python` goes between the
    interpreter and `-m pytest` (e.g. `-m coverage run` to measure the run)."""
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "report.json"
        command = [sys.executable, *python, "-m", "pytest", *args, "-q", "--json-report",
                   f"--json-report-file={report_path}", "--json-report-omit", *omit]
        completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        if not report_path.exists():
            raise RuntimeError(f"pytest wrote no report (exit {completed.returncode}):\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
        return json.loads(report_path.read_text())


def _targets(curriculum: Curriculum, root: Path, numbers: list[int], roots: list[str]) -> list[str]:
    """The chosen modules' own spec files (so a module whose file does not import yet cannot stop
    another's tests from being collected); other roots whole, narrowed by --modules."""
    targets: list[str] = []
    for test_root in roots:
        if test_root == "spec":
            files = (f"spec/{curriculum.module(n).spec_file}" for n in numbers)
            targets += [name for name in files if (root / name).is_file()]
        elif (root / test_root).is_dir():
            targets.append(test_root)
    return targets


def _fold_environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.setdefault(PROFILE_VARIABLE, FOLD_PROFILE)  # a profile the student chose is kept
    return environment


def run_modules(curriculum: Curriculum, root: Path, submission: Path, numbers: list[int],
                roots: list[str]) -> dict:
    """One pytest run of the chosen modules' tests; the report keeps collection errors."""
    targets = _targets(curriculum, root, numbers, roots)
    if not targets:  # without a path pytest would run the repository's own tests/
        return {"tests": [], "collectors": []}
    args = [*targets, "--submission", str(submission), "--modules", ",".join(str(n) for n in numbers),
            *_time_limit(curriculum), "--continue-on-collection-errors"]
    return run_pytest_json(args, cwd=root, env=_fold_environment(), omit=("log", "warnings"))


def _time_limit(curriculum: Curriculum) -> list[str]:
    """The grader's per-test budget as a plain wall-clock limit (pytest-timeout, a pinned dependency), so
    an endless loop fails one test instead of hanging the loop. Advisory: the grade counts CPU time."""
    return [f"--timeout={curriculum.grading.test_cpu_seconds:g}"]


# ---------------------------------------------------------------------------- folding
@dataclass(frozen=True)
class Outcome:
    """One test of a report: it passed, or the message and place of its first failing phase."""

    nodeid: str
    passed: bool
    modules: tuple[int, ...]
    message: str = ""
    raised_at: str = ""  # "path:line" of the exception, as pytest reports it
    hypothesis: bool = False

    @property
    def name(self) -> str:
        return self.nodeid.split("::", 1)[-1]

    @property
    def stub(self) -> re.Match | None:
        """The stub's NotImplementedError, when that is why the test failed."""
        return None if self.passed else STUB_FAILURE.match(self.message)

    @property
    def timed_out(self) -> bool:
        return self.message.startswith("Failed: Timeout")


def _failure(test: dict) -> tuple[str, str]:
    """Message and "path:line" of the first failing phase (setup, call, teardown)."""
    for phase in ("setup", "call", "teardown"):
        info = test.get(phase) or {}
        if info.get("outcome") == "failed":
            crash = info.get("crash") or {}
            message = crash.get("message") or _error_lines(str(info.get("longrepr", ""))) or "failed"
            raised_at = f"{crash['path']}:{crash['lineno']}" if crash.get("path") else ""
            return message, raised_at
    return test.get("outcome", "not passed"), ""  # e.g. skipped: no phase failed


def _outcome(test: dict, runner_ids: dict[str, int]) -> Outcome:
    keywords = test.get("keywords", [])
    modules = tuple(number for runner_id, number in runner_ids.items() if runner_id in keywords)
    if test["outcome"] == "passed":
        return Outcome(test["nodeid"], True, modules, hypothesis="hypothesis" in keywords)
    message, raised_at = _failure(test)
    return Outcome(test["nodeid"], False, modules, message, raised_at, "hypothesis" in keywords)


def _error_lines(longrepr: str) -> str:
    """The `E   ` lines of a pytest long report (the exception itself, without the frames)."""
    marked = [line for line in longrepr.splitlines() if line == "E" or line.startswith("E ")]
    return "\n".join(line[4:] if line.startswith("E   ") else line[1:].lstrip() for line in marked)


@dataclass
class ModuleResult:
    module: Module
    tests: list[Outcome] = field(default_factory=list)
    import_error: str = ""  # why a test file of the module could not be imported
    broken_file: str = ""  # that file, as pytest names it

    @property
    def passed(self) -> int:
        return sum(test.passed for test in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def failures(self) -> list[Outcome]:
        return [test for test in self.tests if not test.passed]

    @property
    def status(self) -> str:
        if self.import_error:
            return IMPORT_ERROR
        if self.tests and not self.failures:
            return DONE
        # Untouched: every test stops at a stub (a module with no test to run counts too).
        if all(test.stub for test in self.tests):
            return NOT_STARTED
        return IN_PROGRESS


@dataclass
class Fold:
    results: dict[int, ModuleResult]  # the modules that were run, in curriculum order
    stray_errors: list[tuple[str, str]] = field(default_factory=list)  # (file, error) no module owns

    @property
    def all_passed(self) -> bool:
        return not self.stray_errors and all(result.status == DONE for result in self.results.values())

    def done(self) -> list[int]:
        return [number for number, result in self.results.items() if result.status == DONE]


def fold(report: dict, curriculum: Curriculum, numbers: list[int]) -> Fold:
    """Fold a pytest-json-report into one result per chosen module (by the mNN keywords)."""
    results = {n: ModuleResult(curriculum.module(n)) for n in sorted(numbers)}
    runner_ids = {result.module.runner_id: n for n, result in results.items()}
    for test in report.get("tests", []):
        outcome = _outcome(test, runner_ids)
        for number in outcome.modules:
            results[number].tests.append(outcome)
    stray: list[tuple[str, str]] = []
    for collector in report.get("collectors", []):
        if collector.get("outcome") != "failed":
            continue
        nodeid, error = collector.get("nodeid", ""), _import_error(str(collector.get("longrepr", "")))
        owner = curriculum.module_for_path(nodeid) if nodeid.endswith(".py") else None
        if owner is None:
            stray.append((nodeid, error))
        elif owner.number in results and not results[owner.number].import_error:
            results[owner.number].import_error, results[owner.number].broken_file = error, nodeid
    return Fold(results, stray)


def _import_error(longrepr: str) -> str:
    """The exception a test file met while importing (e.g. the student's SyntaxError), not the
    importlib frames around it."""
    return _error_lines(longrepr) or "\n".join(longrepr.splitlines()[-15:])


# ---------------------------------------------------------------------------- the first failure
@dataclass(frozen=True)
class Problem:
    """What to fix first: a heading, the explanation and the command that shows it again."""

    heading: str
    lines: list[str]
    command: str


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= EXPLANATION_LINES:
        return lines
    hidden = len(lines) - EXPLANATION_LINES + 1
    return lines[: EXPLANATION_LINES - 1] + [f"... {hidden} more lines: run the command below to see them all"]


def _inside(raised_at: str, submission: Path) -> str:
    """"path:line" relative to the submission when the exception came from the student's code."""
    path, _, line = raised_at.rpartition(":")
    if not path or not line.isdigit():
        return ""
    try:
        relative = Path(path).resolve().relative_to(submission.resolve())
    except (ValueError, OSError):
        return ""
    return f"{relative.as_posix()}:{line}"


def _student_lines_only(lines: list[str], submission: Path) -> list[str]:
    """Hypothesis' "Explanation:" block lists the lines only failing examples ran; those in NumPy or
    the tests say nothing to the student, so only lines of the submission are kept (or no block)."""
    start = next((i for i, line in enumerate(lines) if line.strip() == "Explanation:"), None)
    if start is None:
        return lines
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next((i for i in range(start + 1, len(lines)) if len(lines[i]) - len(lines[i].lstrip()) <= indent),
               len(lines))
    block = lines[start + 1:end]
    own = [line for line in block if _inside(line.strip(), submission)]
    kept = [lines[start], block[0], *own] if own and block else []
    return lines[:start] + kept + lines[end:]


def explanation(outcome: Outcome, submission: Path) -> list[str]:
    """The failure as the assertion explains it (NumPy's mismatch report, Hypothesis' failing
    example, ...), or for a stub the function to implement."""
    if stub := outcome.stub:
        lines = [f"not implemented yet: {stub['message']}"]
    else:
        message = [line.rstrip() for line in outcome.message.splitlines() if line.strip()]
        lines = _capped(_student_lines_only(message, submission))
    where = _inside(outcome.raised_at, submission)
    if where:
        lines.append(f"raised at {where}")
    return lines


def shown_path(path: Path, root: Path) -> str:
    """A path as typed from the repository root: "reference", "." for the root itself."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def reproduce_command(target: str, submission: Path, root: Path, environment: str = "") -> str:
    """The pytest command that shows this failure again, runnable from the current directory."""
    command = f"{environment}pytest {shlex.quote(target)} --submission {shlex.quote(shown_path(submission, root))} -x"
    if Path.cwd().resolve() != root.resolve():  # node ids are relative to the repository root
        command = f"cd {shlex.quote(str(root))} && {command}"
    return command


def _replay_with_shrinking(outcome: Outcome, root: Path, submission: Path, curriculum: Curriculum) -> Outcome | None:
    """The failing test run alone with the `explain` profile: the same derandomized examples as the
    fold, then shrinking to a small one; None when that run does not fail the same way (shrinking
    ran out of time), and the fold's own explanation is shown instead."""
    environment = {**os.environ, PROFILE_VARIABLE: EXPLAIN_PROFILE}
    args = [outcome.nodeid, "--submission", str(submission), "-x", *_time_limit(curriculum)]
    try:
        report = run_pytest_json(args, cwd=root, env=environment)
    except RuntimeError:
        return None
    replayed = [_outcome(test, {}) for test in report.get("tests", []) if test["nodeid"] == outcome.nodeid]
    # A timeout here means shrinking took too long, not a better explanation.
    if not replayed or replayed[0].passed or replayed[0].timed_out:
        return None
    return replayed[0]


def explain_failure(outcome: Outcome, root: Path, submission: Path, curriculum: Curriculum) -> Problem:
    environment = ""
    shown = outcome
    if outcome.hypothesis and not outcome.stub and PROFILE_VARIABLE not in os.environ:
        # The command names the profile: it finds this very failure again, every time.
        environment = f"{PROFILE_VARIABLE}={EXPLAIN_PROFILE} "
        shown = _replay_with_shrinking(outcome, root, submission, curriculum) or outcome
    return Problem(f"First failure: {outcome.nodeid}", explanation(shown, submission),
                   reproduce_command(outcome.nodeid, submission, root, environment))


def first_problem(result_fold: Fold, root: Path, submission: Path, curriculum: Curriculum) -> Problem | None:
    """The first thing to fix, in curriculum order: a test file that does not import, else the
    first failing test; last, an import error of a file no module owns."""
    for result in result_fold.results.values():
        if result.import_error:
            return Problem(f"{result.broken_file} cannot import your package",
                           _capped(result.import_error.splitlines()),
                           reproduce_command(result.broken_file, submission, root))
        if result.failures:
            return explain_failure(result.failures[0], root, submission, curriculum)
    if result_fold.stray_errors:
        nodeid, error = result_fold.stray_errors[0]
        return Problem(f"{nodeid or 'a test directory'} cannot be imported", _capped(error.splitlines()),
                       reproduce_command(nodeid or "spec", submission, root))
    return None


def step(result: ModuleResult) -> str:
    """What to do in an unfinished module: "implement Tensor.__init__", "5 of 9 tests pass"."""
    failures = result.failures
    if result.import_error:
        return "its tests cannot import your package"
    if failures and failures[0].stub:
        return f"implement {failures[0].stub['function']}"
    return f"{result.passed} of {result.total} tests pass"


def next_step(result: ModuleResult) -> str:
    """"start with Module 01: implement Tensor.__init__", "continue with Module 02: 5 of 9 tests pass"."""
    verb = {NOT_STARTED: "start with", IMPORT_ERROR: "fix"}.get(result.status, "continue with")
    return f"{verb} Module {result.module.label}: {step(result)}"


def summary(result_fold: Fold) -> str:
    """"0 of 13 modules done; start with Module 01: implement Tensor.__init__"."""
    results = list(result_fold.results.values())
    done = len(result_fold.done())
    head = f"{done} of {len(results)} module{'' if len(results) == 1 else 's'} done"
    unfinished = [result for result in results if result.status != DONE]
    if unfinished:
        return f"{head}; {next_step(unfinished[0])}"
    if result_fold.stray_errors:
        return f"{head}; a test file no module owns cannot be imported (see below)"
    return f"{head}; every test passed"


# ---------------------------------------------------------------------------- kata test
def _mark(passed: bool) -> tuple[str, str]:
    return ("✓", "green") if passed else ("✗", "red")


def render_tests(result: ModuleResult, console: Console) -> None:
    """A module's tests, one line each: ✓/✗ and the test id."""
    module = result.module
    console.print(Text.assemble((f"Module {module.label} {module.title}", "bold"),
                                f"  {result.passed}/{result.total} passed"))
    if result.import_error:
        console.print(Text.assemble(("  ✗ ", "red"), f"{result.broken_file} (cannot import your package)"))
    own_file = f"spec/{module.spec_file}::"
    for test in result.tests:
        mark, style = _mark(test.passed)
        shown = test.name if test.nodeid.startswith(own_file) else test.nodeid
        console.print(Text.assemble((f"  {mark} ", style), shown))


def render_table(result_fold: Fold, console: Console, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("module", "title", "passed", "status"):
        table.add_column(column, justify="right" if column == "passed" else "left")
    for result in result_fold.results.values():
        status = result.status
        style = "green" if status == DONE else "yellow" if status == IN_PROGRESS else "red"
        table.add_row(result.module.label, result.module.title, f"{result.passed}/{result.total}",
                      Text(status, style=style))
    console.print(table)


def render_problem(problem: Problem, console: Console) -> None:
    console.print(Text(problem.heading, style="bold red"))
    for line in problem.lines:
        console.print(Text("  " + line))
    console.print(Text.assemble(("Reproduce: ", "bold"), problem.command))


def run(curriculum: Curriculum, root: Path, submission: Path, numbers: list[int], roots: list[str],
        console: Console, *, one_line_per_test: bool) -> int:
    """`kata test`: run the chosen modules' tests; 0 only when every one of them passed."""
    try:
        report = run_modules(curriculum, root, submission, numbers, roots)
    except RuntimeError as error:
        console.print(Text(f"kata test: {error}", style="red"))
        return 2
    result_fold = fold(report, curriculum, numbers)
    if one_line_per_test:
        for result in result_fold.results.values():
            render_tests(result, console)
    else:
        render_table(result_fold, console, title=f"tinytorch at {shown_path(submission, root)}")
    console.print(Text(summary(result_fold), style="bold"))
    problem = first_problem(result_fold, root, submission, curriculum)
    if problem is not None:
        render_problem(problem, console)
    return 0 if result_fold.all_passed else 1


# ---------------------------------------------------------------------------- kata status
@dataclass(frozen=True)
class ModuleStatus:
    module: Module
    status: str
    passed: int | None = None  # None: not run (planned, not assigned, pre-built)
    total: int | None = None
    due: dt.date | None = None
    step: str = ""  # what to do next in it, when it is unfinished


def module_statuses(curriculum: Curriculum, course: Course, result_fold: Fold) -> list[ModuleStatus]:
    """One row per module of the curriculum, run or not."""
    rows = []
    for module in curriculum:
        due = course.due.get(module.number)
        result = result_fold.results.get(module.number)
        if module.number in curriculum.planned:
            rows.append(ModuleStatus(module, PLANNED))
        elif module.number in course.prebuilt:
            rows.append(ModuleStatus(module, PREBUILT))
        elif result is None:
            rows.append(ModuleStatus(module, NOT_ASSIGNED))
        else:
            rows.append(ModuleStatus(module, result.status, result.passed, result.total, due, step(result)))
    return rows


def next_module(rows: list[ModuleStatus]) -> ModuleStatus | None:
    """The first assigned module that is not done, in curriculum order."""
    return next((row for row in rows if row.status in (NOT_STARTED, IN_PROGRESS, IMPORT_ERROR)), None)


def missing_for(milestone: Milestone, rows: list[ModuleStatus]) -> list[int]:
    """The modules a milestone requires that are not done yet (it is unlocked when there are none)."""
    finished = {row.module.number for row in rows if row.status in (DONE, PREBUILT)}
    return [number for number in milestone.requires if number not in finished]


def status_facts(curriculum: Curriculum, course: Course, rows: list[ModuleStatus], submission: str) -> dict:
    """What `kata status` shows, JSON-ready (`--json`)."""
    upcoming = next_module(rows)
    return {
        "submission": submission,
        "course": course.name,
        "assigned": sum(row.passed is not None for row in rows),
        "done": sum(row.status == DONE for row in rows),
        "modules": [{"module": row.module.label, "title": row.module.title, "status": row.status,
                     "passed": row.passed, "total": row.total,
                     "due": row.due.isoformat() if row.due else None} for row in rows],
        "next": None if upcoming is None else {"module": upcoming.module.label, "title": upcoming.module.title,
                                               "status": upcoming.status, "step": upcoming.step},
        "milestones": [_milestone_facts(milestone, rows) for milestone in curriculum.milestones],
    }


def _milestone_facts(milestone: Milestone, rows: list[ModuleStatus]) -> dict:
    missing = missing_for(milestone, rows)
    return {"number": milestone.number, "year": milestone.year, "title": milestone.title,
            "requires": span(list(milestone.requires)), "unlocked": not missing, "missing": span(missing)}


_STATUS_STYLES = {DONE: "green", IN_PROGRESS: "yellow", NOT_STARTED: "red", IMPORT_ERROR: "bold red",
                  NOT_ASSIGNED: "dim", PLANNED: "dim", PREBUILT: "dim"}


def render_status(facts: dict, console: Console) -> None:
    with_due = any(row["due"] for row in facts["modules"])
    table = Table(title=f"tinytorch at {facts['submission']} (course: {facts['course']})", title_justify="left")
    for column in ("module", "title", "status", "passed") + (("due",) if with_due else ()):
        table.add_column(column, justify="right" if column == "passed" else "left")
    for row in facts["modules"]:
        counts = "" if row["total"] is None else f"{row['passed']}/{row['total']}"
        cells = [row["module"], row["title"], Text(row["status"], style=_STATUS_STYLES[row["status"]]), counts]
        table.add_row(*cells, *([row["due"] or ""] if with_due else []))
    console.print(table)
    console.print(Text(f"{facts['done']} of {facts['assigned']} assigned modules done", style="bold"))
    upcoming = facts["next"]
    console.print(Text.assemble(("Next: ", "bold"), "nothing: every assigned module is done" if upcoming is None
                                else f"Module {upcoming['module']} ({upcoming['title']}): {upcoming['step']}"))
    console.print(Text.assemble(("Milestones unlocked: ", "bold"), _milestone_line(facts["milestones"])))


def _milestone_line(milestones: list[dict]) -> str:
    """"Milestone 1 (1958 Perceptron); next: Milestone 2 (1969 XOR Solution) needs modules 05-08"."""
    def name(m: dict) -> str:
        return f"Milestone {m['number']} ({m['year']} {m['title']})"

    text = ", ".join(name(m) for m in milestones if m["unlocked"]) or "none yet"
    locked = [m for m in milestones if not m["unlocked"]]
    if locked:
        text += f"; next: {name(locked[0])} needs modules {locked[0]['missing']}"
    return text


def run_status(curriculum: Curriculum, course: Course, root: Path, submission: Path, console: Console,
               *, as_json: bool) -> int:
    """`kata status`: one run of the visible spec of every assigned module, folded per module."""
    assigned = [m.number for m in curriculum.built() if course.is_assigned(m.number)]
    try:
        report = run_modules(curriculum, root, submission, assigned, ["spec"])
    except RuntimeError as error:
        print(f"kata status: {error}", file=sys.stderr)
        return 2
    rows = module_statuses(curriculum, course, fold(report, curriculum, assigned))
    facts = status_facts(curriculum, course, rows, shown_path(submission, root))
    if as_json:
        print(json.dumps(facts, indent=2))
    else:
        render_status(facts, console)
    return 0
