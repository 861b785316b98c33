"""Build `report.json` from a finished grading, and check it against its schema.

The schema (grading/reports/schemas/report.schema.json) is the single source of truth for the format.
Every object in `modules` is a GitHub Classroom reporter runner payload as it stands (`version`,
`status`, numeric `max_score`, `tests[]` with numeric `score` and `line_no`), under the runner
ids m01...m20, `integration` and `milestones`. The top-level `tests` list is the concatenation
of the modules' tests. Hidden tests are listed under generic names, without their code, test
names, inputs or expected values, and their messages come from a fixed vocabulary
(HIDDEN_VOCABULARY): never the student's own exception text, which would be a channel out of the
sandbox. Visible tests keep their full messages, up to VISIBLE_MESSAGE_LIMIT characters.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import re
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from grading.authoring import stubgen
from grading.authoring.course import full_course
from grading.authoring.curriculum import SUITE_IDS
from grading.engine import scoring
from grading.engine.grader import BUILTIN_EXCEPTIONS, Grading
from grading.engine.runner import RunResult, TestResult, is_overloaded_run, is_tampering
from grading.sandbox.untrusted_text import printable

SCHEMA_PATH = Path(__file__).with_name("schemas") / "report.schema.json"
SCHEMA_ID = "tinytorch-kata/grade-report"
SCHEMA_VERSION = 1
# Cross-module suites, each one Classroom runner: (runner id, title, weight in [grading]).
SUITE_RUNNERS = tuple((suite, suite.capitalize(), f"{suite.removesuffix('s')}_points") for suite in SUITE_IDS)
HIDDEN_LABEL = {"hidden": "hidden check", "integration": "integration check", "milestone": "milestone check"}


def build(grading: Grading) -> dict:
    """The report as a JSON-ready dict."""
    settings = grading.settings
    stubs_left = functions_left_as_stubs(grading)
    runners = []
    for module in grading.modules:
        isolated = grading.runs.get(f"{module.runner_id}-isolated")
        integrated = grading.runs[f"{module.runner_id}-integrated"]
        scored = isolated or integrated
        runner = _runner(module.runner_id, f"{module.label} {module.slug}", module.title, module.points,
                         scored, settings.score_quantum, stubs_left, module.number,
                         integrated=integrated if isolated else None)
        runner["mode"] = "isolated" if isolated else "integrated"
        runner["views"] = {"integrated": _view(integrated)}
        if isolated:
            runner["views"]["isolated"] = _view(isolated)
        runner["duration"] = round(sum(r.duration for r in (isolated, integrated) if r), 3)
        runners.append(runner)
    for runner_id, title, weight_key in SUITE_RUNNERS:
        run = grading.runs.get(f"{runner_id}-integrated")
        if run is not None:
            runner = _runner(runner_id, runner_id, title, getattr(settings, weight_key), run, settings.score_quantum,
                             stubs_left)
            runner["mode"] = "integrated"
            runner["views"] = {"integrated": _view(run)}
            runner["duration"] = round(run.duration, 3)
            runners.append(runner)

    tests = [test for runner in runners for test in runner["tests"]]
    score = sum(r["score"] for r in runners)
    max_score = sum(r["max_score"] for r in runners)
    statuses = {r["status"] for r in runners}
    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "version": 1,
        "status": "error" if "error" in statuses else "fail" if "fail" in statuses else "pass",
        "score": score,
        "max_score": max_score,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "duration": round(grading.durations.get("total", 0.0), 3),
        "durations": {key: round(value, 3) for key, value in grading.durations.items()},
        "submission": {"path": str(grading.submission_root), "fingerprint": grading.fingerprint},
        "grader": {
            "version": _version("tinytorch-kata"),
            "tests_fingerprint": grading.tests_fingerprint,
            "reference": any(key.endswith("-isolated") for key in grading.runs),
            "hidden": grading.options.hidden is not None,
            "modules": [m.number for m in grading.modules],
            "jobs": grading.options.jobs,
        },
        "isolation": grading.isolation.as_dict(),
        "mode": "judged" if grading.options.judged else "direct",
        "course": _course(grading),
        "environment": {"python": platform.python_version(), "platform": platform.platform(),
                        **{name: _version(name) for name in ("numpy", "pytest", "hypothesis")}},
        "summary": _summary(tests),
        "notices": [printable(notice) for notice in grading.notices],
        "policy": [{"path": v.path, "line": v.line, "rule": v.rule, "message": printable(v.message), "module": v.module}
                   for v in grading.violations],
        "modules": runners,
        "tests": tests,
    }


def _course(grading: Grading) -> dict:
    """The schedule the grade used: assigned modules carry points, the other built ones are listed
    as not yet assigned (no points, no tests run)."""
    course = grading.options.course or full_course(grading.curriculum)
    not_assigned = [m.number for m in grading.curriculum.built() if not course.is_assigned(m.number)]
    return {**course.to_report(), "not_assigned": not_assigned}


def _runner(runner_id: str, name: str, title: str, weight: float, run: RunResult, quantum: int,
            stubs_left: frozenset[str], number: int | None = None, integrated: RunResult | None = None) -> dict:
    maxima = scoring.max_scores([r.entry.points for r in run.results], weight, quantum)
    shown = {r.entry.nodeid: r for r in integrated.results} if integrated is not None else {}
    tests = [_test(result, maximum, runner_id, number, run, index, stubs_left, shown)
             for index, (result, maximum) in enumerate(zip(run.results, maxima), start=1)]
    outcomes = [r.outcome for r in run.results]
    first_failure = next((t for t in tests if t["status"] != "pass"), None)
    message = printable(run.problem) or (f"{first_failure['name']}: {first_failure['message']}" if first_failure else None)
    return {
        "version": 1,
        "id": runner_id,
        "name": name,
        "title": title,
        "module": number,
        "status": scoring.status(outcomes, run.problem),
        "message": message,
        "score": sum(t["score"] for t in tests),
        "max_score": weight if tests else 0,
        "suites": _suites(run.results),
        "overloaded": is_overloaded_run(run.problem),
        "tests": tests,
    }


ISOLATED_ONLY_FAILURE = ("fails in isolated mode (your file beside the reference's other modules) but passes on "
                         "your own package")


def _explained(result: TestResult, run: RunResult, integrated: dict[str, TestResult]) -> TestResult:
    """The failure a visible test shows. In isolated mode the student's code ran beside the
    reference's prerequisites and could quote them in what it raised, so the message (and location)
    come from the same test's integrated run, where only the student's own files exist."""
    graders_own_words = result.timed_out or result.message.startswith("not run:") or (
        bool(run.problem) and result.message == run.problem)
    if not integrated or result.outcome == "passed" or graders_own_words:
        return result
    own = integrated.get(result.entry.nodeid)
    if own is not None and own.outcome not in ("passed", "not-run"):
        return replace(own, outcome=result.outcome)
    return replace(result, message=ISOLATED_ONLY_FAILURE, location=None, timed_out=False)


def _test(result: TestResult, maximum: float, runner_id: str, number: int | None, run: RunResult, index: int,
          stubs_left: frozenset[str], integrated: dict[str, TestResult]) -> dict:
    entry = result.entry
    hidden = entry.suite != "visible"
    shown = result if hidden else _explained(result, run, integrated)
    if hidden:
        name = f"{HIDDEN_LABEL[entry.suite]} {index} ({runner_id})"
        nodeid = f"{entry.suite}/{runner_id}/{index}"
    else:
        name = entry.nodeid.removeprefix("spec/")
        nodeid = entry.nodeid
    # A hidden check does not point into the student's file either: which line raised is a channel too.
    filename, line = ("", 0) if hidden else shown.location or (entry.path, entry.line)
    return {
        "name": name,
        "status": {"passed": "pass", "error": "error", "not-run": "error"}.get(result.outcome, "fail"),
        "score": scoring.earned(maximum, result.outcome),
        "max_score": maximum,
        "message": _message(shown, hidden, run, stubs_left) or None,
        "line_no": line,
        "filename": filename,
        "duration": 0.0 if hidden else round(result.duration, 6),  # a hidden check's time is a channel too
        "nodeid": nodeid,
        "module": number,
        "runner": runner_id,
        "suite": entry.suite,
        "mode": run.plan.mode,
        "outcome": result.outcome,
        "timed_out": result.timed_out,
        "cpu_seconds": None if hidden or result.cpu is None else round(result.cpu, 3),
    }


_EXCEPTION_NAME = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|Failed)\b")
VISIBLE_MESSAGE_LIMIT = 2000  # characters of a visible test's message kept in the report
# Every message a hidden check can show: nothing a submission computes at run time reaches it, so a
# hidden check cannot carry text out of the sandbox (a test's name, its inputs, a file the code read).
HIDDEN_VOCABULARY = ("passed", "wrong values", "raised <builtin exception class>",
                     "not implemented: <a function still exactly its stub>", "ran out of time", "crashed",
                     "tampering detected", "not run", "not graded")

def _exception_name(message: str) -> str:
    """The exception type a failure message starts with ("assert ..." is pytest's AssertionError)."""
    if message.startswith("assert "):
        return "AssertionError"
    match = _EXCEPTION_NAME.match(message)
    return match.group(1) if match else ""


def _message(result: TestResult, hidden: bool, run: RunResult, stubs_left: frozenset[str]) -> str:
    """What the student is told: a visible test's own message (capped), a hidden check's word from
    HIDDEN_VOCABULARY."""
    if hidden:
        return _hidden_message(result, run, stubs_left)
    if result.outcome == "passed":
        return ""
    text = printable(_explain_visible(result))  # the submission's own words, as data (reports/text.py)
    return text if len(text) <= VISIBLE_MESSAGE_LIMIT else text[:VISIBLE_MESSAGE_LIMIT] + " ... [truncated]"


def _explain_visible(result: TestResult) -> str:
    if result.timed_out:
        return f"ran out of time: {result.message.removeprefix('Failed: Timeout').lstrip(':').strip()}"
    if "[Errno 27] File too large" in result.message:  # the sandbox's file-size limit (RLIMIT_FSIZE)
        return "the code wrote more output than the grader allows (print less)"
    if result.message.startswith("NotImplementedError"):
        return "not implemented: " + result.message.removeprefix("NotImplementedError").lstrip(": ")
    return result.message


def _hidden_message(result: TestResult, run: RunResult, stubs_left: frozenset[str]) -> str:
    if result.outcome == "passed":
        return "passed"
    if result.timed_out:
        return "ran out of time"
    if run.problem and result.message == run.problem:
        if is_overloaded_run(run.problem):
            return "not graded"
        return "tampering detected" if is_tampering(run.problem) else "crashed"
    if result.outcome == "not-run":
        return "not run"
    name = _exception_name(result.message)
    if name == "NotImplementedError":
        # Only a function still exactly its stub (functions_left_as_stubs, fixed before the code ran): a
        # name the code chose at run time could carry anything out.
        match = stubgen.STUB_MESSAGE.search(result.message)
        known = match is not None and match["function"] in stubs_left
        return f"not implemented: {match['function']}" if known else "raised NotImplementedError"
    if name in ("AssertionError", "Failed") and result.location is None:
        return "wrong values"  # the test's own assertion
    if name in BUILTIN_EXCEPTIONS:
        return f"raised {name}"
    return "crashed"


def functions_left_as_stubs(grading: Grading) -> frozenset[str]:
    """Names a hidden check may show after "not implemented:": the functions the submission still has
    exactly as their generated stubs (stubgen.functions_left_as_stubs), fixed before its code ran. A
    submission that raises another function's stub message cannot choose the word: that check says
    "raised NotImplementedError". Without a reference there is no stub to compare with, and no name."""
    reference = grading.options.reference
    if reference is None:
        return frozenset()
    return stubgen.functions_left_as_stubs(reference, grading.submission_root, grading.curriculum)


def _suites(results: list[TestResult]) -> dict:
    suites: dict[str, dict] = {}
    for result in results:
        tally = suites.setdefault(result.entry.suite, {"passed": 0, "total": 0})
        tally["total"] += 1
        tally["passed"] += result.outcome == "passed"
    return suites


def _view(run: RunResult) -> dict:
    return {"passed": run.passed(), "total": len(run.results), "problem": run.problem or None}


def _summary(tests: list[dict]) -> dict:
    outcomes = [t["outcome"] for t in tests]
    return {"tests": len(tests), **{key: outcomes.count(key) for key in
                                     ("passed", "failed", "error", "skipped", "not-run")}}


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------- schema and files
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(report: dict) -> None:
    """Raise jsonschema.ValidationError when the report does not follow the schema."""
    import jsonschema

    jsonschema.validate(report, schema(), cls=jsonschema.Draft202012Validator)


def write(report: dict, path: Path) -> Path:
    """Validate, then write atomically (a reader never sees half a report)."""
    validate(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def digest(report: dict) -> str:
    """A fingerprint of what was graded and what it earned (not when): equal for equal grades."""
    stable = [(t["nodeid"], t["outcome"], t["score"]) for t in report["tests"]]
    return hashlib.sha256(json.dumps([report["submission"]["fingerprint"], stable]).encode()).hexdigest()
