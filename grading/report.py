"""Build `report.json` from a finished grading, and check it against its schema.

The schema (grading/schemas/report.schema.json) is the single source of truth for the format.
Every object in `modules` is a GitHub Classroom reporter runner payload as it stands (`version`,
`status`, numeric `max_score`, `tests[]` with numeric `score` and `line_no`), under the runner
ids m01...m20, `integration` and `milestones`. The top-level `tests` list is the concatenation
of the modules' tests. Hidden tests are listed under generic names, without their code, test
names or expected values; the message of a hidden test shows only what the student's own code
raised, never the test's assertion.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import re
from importlib import metadata
from pathlib import Path

from grading import scoring
from grading.grader import Grading
from grading.runner import RunResult, TestResult

SCHEMA_PATH = Path(__file__).with_name("schemas") / "report.schema.json"
SCHEMA_ID = "tinytorch-kata/grade-report"
SCHEMA_VERSION = 1
# Cross-module suites, each one Classroom runner: (runner id, title, weight in [grading]).
SUITE_RUNNERS = (("integration", "Integration", "integration_points"), ("milestones", "Milestones", "milestone_points"))
HIDDEN_LABEL = {"hidden": "hidden check", "integration": "integration check", "milestone": "milestone check"}


def build(grading: Grading) -> dict:
    """The report as a JSON-ready dict."""
    settings = grading.settings
    runners = []
    for module in grading.modules:
        isolated = grading.runs.get(f"{module.runner_id}-isolated")
        integrated = grading.runs[f"{module.runner_id}-integrated"]
        scored = isolated or integrated
        runner = _runner(module.runner_id, f"{module.label} {module.slug}", module.title, module.points,
                         scored, settings.score_quantum, module.number)
        runner["mode"] = "isolated" if isolated else "integrated"
        runner["views"] = {"integrated": _view(integrated)}
        if isolated:
            runner["views"]["isolated"] = _view(isolated)
        runner["duration"] = round(sum(r.duration for r in (isolated, integrated) if r), 3)
        runners.append(runner)
    for runner_id, title, weight_key in SUITE_RUNNERS:
        run = grading.runs.get(f"{runner_id}-integrated")
        if run is not None:
            runner = _runner(runner_id, runner_id, title, getattr(settings, weight_key), run, settings.score_quantum)
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
        "environment": {"python": platform.python_version(), "platform": platform.platform(),
                        **{name: _version(name) for name in ("numpy", "pytest", "hypothesis")}},
        "summary": _summary(tests),
        "notices": list(grading.notices),
        "policy": [{"path": v.path, "line": v.line, "rule": v.rule, "message": v.message, "module": v.module}
                   for v in grading.violations],
        "modules": runners,
        "tests": tests,
    }


def _runner(runner_id: str, name: str, title: str, weight: float, run: RunResult, quantum: int,
            number: int | None = None) -> dict:
    maxima = scoring.max_scores([r.entry.points for r in run.results], weight, quantum)
    tests = [_test(result, maximum, runner_id, number, run, index)
             for index, (result, maximum) in enumerate(zip(run.results, maxima), start=1)]
    outcomes = [r.outcome for r in run.results]
    first_failure = next((t for t in tests if t["status"] != "pass"), None)
    message = run.problem or (f"{first_failure['name']}: {first_failure['message']}" if first_failure else None)
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
        "tests": tests,
    }


def _test(result: TestResult, maximum: float, runner_id: str, number: int | None, run: RunResult, index: int) -> dict:
    entry = result.entry
    hidden = entry.suite != "visible"
    if hidden:
        name = f"{HIDDEN_LABEL[entry.suite]} {index} ({runner_id})"
        nodeid = f"{entry.suite}/{runner_id}/{index}"
    else:
        name = entry.nodeid.removeprefix("spec/")
        nodeid = entry.nodeid
    filename, line = result.location if result.location else ("", 0) if hidden else (entry.path, entry.line)
    return {
        "name": name,
        "status": {"passed": "pass", "error": "error", "not-run": "error"}.get(result.outcome, "fail"),
        "score": scoring.earned(maximum, result.outcome),
        "max_score": maximum,
        "message": _message(result, hidden) or None,
        "line_no": line,
        "filename": filename,
        "duration": round(result.duration, 6),
        "nodeid": nodeid,
        "module": number,
        "runner": runner_id,
        "suite": entry.suite,
        "mode": run.plan.mode,
        "outcome": result.outcome,
        "timed_out": result.timed_out,
    }


_EXCEPTION_NAME = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|Failed)\b")


def _exception_name(message: str) -> str:
    """The exception type a failure message starts with ("assert ..." is pytest's AssertionError)."""
    if message.startswith("assert "):
        return "AssertionError"
    match = _EXCEPTION_NAME.match(message)
    return match.group(1) if match else ""


_HIDDEN_PATH = re.compile(r"hidden_tests/[\w/.\[\]:-]*")


def _message(result: TestResult, hidden: bool) -> str:
    """What the student is told. For hidden tests: the grader's own explanations, or what the
    student's code raised (when the failure happened inside their file); never the test's assertion,
    name or file."""
    text = _explain(result, hidden)
    return _HIDDEN_PATH.sub("a hidden test file", text) if hidden else text


def _explain(result: TestResult, hidden: bool) -> str:
    if result.outcome == "passed":
        return ""
    if result.timed_out:
        return "a hidden check ran out of time" if hidden else f"ran out of time ({result.message})"
    if "[Errno 27] File too large" in result.message:  # the sandbox's file-size limit (RLIMIT_FSIZE)
        return "the code wrote more output than the grader allows (print less)"
    if result.message.startswith("NotImplementedError") and (not hidden or result.location is not None):
        return "not implemented: " + result.message.removeprefix("NotImplementedError").lstrip(": ")
    if not hidden or result.outcome == "not-run" or result.location is not None:
        return result.message
    name = _exception_name(result.message)
    if result.outcome == "error" and not name:
        return result.message  # the grader's own explanation (crash, tampering)
    return f"a hidden check failed ({name})" if name else "a hidden check failed"


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


def runner_payload(runner: dict, message_limit: int = 1000) -> dict:
    """A module object trimmed for the Classroom reporter (each payload must stay far below 128 KiB)."""
    keep = ("name", "status", "score", "max_score", "message", "line_no", "filename", "duration")
    tests = [{k: (t[k][:message_limit] if k == "message" and t[k] else t[k]) for k in keep} for t in runner["tests"]]
    return {"version": 1, "status": runner["status"], "max_score": runner["max_score"], "tests": tests}


def digest(report: dict) -> str:
    """A fingerprint of what was graded and what it earned (not when): equal for equal grades."""
    stable = [(t["nodeid"], t["outcome"], t["score"]) for t in report["tests"]]
    return hashlib.sha256(json.dumps([report["submission"]["fingerprint"], stable]).encode()).hexdigest()
