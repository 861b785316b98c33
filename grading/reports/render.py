"""Ways to show a report: a terminal table, Markdown for $GITHUB_STEP_SUMMARY, GitHub annotations.

All three read the report dict (grading/reports/report.py), so what a student sees in the terminal, in
the Actions summary and next to their code is the same grade.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from grading.authoring import curriculum as curriculum_module
from grading.authoring.course import NOT_ASSIGNED
from grading.reports.text import markdown_inline, no_workflow_commands, terminal

# GitHub shows at most 10 error annotations per step: a handful per module keeps them useful.
ANNOTATIONS_PER_MODULE = 3


def points(value: float) -> str:
    return f"{value:.12g}"  # exact for every multiple of 1/16 a course can total


def _tally(tally: dict | None) -> str:
    return f"{tally['passed']}/{tally['total']}" if tally else "-"


def _rows(report: dict) -> list[dict]:
    """One row per runner: the numbers every view shows."""
    rows = []
    for runner in report["modules"]:
        suites = runner["suites"]
        rows.append({
            "id": runner["id"], "title": runner["title"], "status": runner["status"],
            "visible": _tally(suites.get("visible")),
            "hidden": _tally(suites.get("hidden") or suites.get("integration") or suites.get("milestone")),
            "integrated": _tally(runner["views"]["integrated"]),
            "score": f"{points(runner['score'])}/{points(runner['max_score'])}",
            "time": f"{runner['duration']:.1f}s",
            "message": runner["message"] or "",
        })
    return rows


def _not_assigned(report: dict) -> list[tuple[str, str]]:
    """(runner id, title) of each built module the course does not assign yet."""
    curriculum = curriculum_module.load()
    return [(curriculum.module(n).runner_id, curriculum.module(n).title) for n in report["course"]["not_assigned"]]


STATUS_STYLE = {"pass": "green", "fail": "yellow", "error": "red"}


def table(report: dict, console: Console) -> None:
    grid = Table(title=f"TinyTorch grade: {points(report['score'])}/{points(report['max_score'])}")
    for column, justify in (("module", "left"), ("title", "left"), ("visible", "right"), ("hidden", "right"),
                            ("integrated", "right"), ("score", "right"), ("time", "right")):
        grid.add_column(column, justify=justify)
    for row in _rows(report):
        style = STATUS_STYLE[row["status"]]
        grid.add_row(row["id"], row["title"], row["visible"], row["hidden"], row["integrated"],
                     f"[{style}]{row['score']}[/]", row["time"])
    for runner_id, title in _not_assigned(report):
        grid.add_row(f"[dim]{runner_id}[/]", f"[dim]{title}[/]", "", "", "", f"[dim]{NOT_ASSIGNED}[/]", "")
    grid.add_section()
    grid.add_row("total", "", "", "", "", f"[bold]{points(report['score'])}/{points(report['max_score'])}[/]",
                 f"{report['duration']:.1f}s")
    console.print(grid)
    for notice in report["notices"]:
        console.print(f"[yellow]note:[/] {terminal(notice)}", highlight=False)
    for row in _rows(report):
        if row["status"] != "pass" and row["message"]:
            console.print(f"[bold]{row['id']}[/]: {terminal(_one_line(row['message']))}", highlight=False)


def markdown(report: dict) -> str:
    lines = [f"## TinyTorch grade: {points(report['score'])} / {points(report['max_score'])}", ""]
    lines += [f"> {notice}" for notice in report["notices"]]  # the grader's own words
    lines += ["", "| module | title | visible | hidden | integrated | score | time |",
              "|---|---|---:|---:|---:|---:|---:|"]
    icon = {"pass": "✅", "fail": "❌", "error": "⚠️"}
    for row in _rows(report):
        lines.append(f"| {icon[row['status']]} {row['id']} | {row['title']} | {row['visible']} | {row['hidden']} | "
                     f"{row['integrated']} | {row['score']} | {row['time']} |")
    for runner_id, title in _not_assigned(report):
        lines.append(f"| ⏳ {runner_id} | {title} | | | | {NOT_ASSIGNED} | |")
    failing = [row for row in _rows(report) if row["status"] != "pass" and row["message"]]
    if failing:
        lines += ["", "### What to fix first", ""]
        lines += [f"- **{row['id']}**: {markdown_inline(_one_line(row['message']))}" for row in failing]
    return "\n".join(lines) + "\n"


def annotations(report: dict, submission_prefix: str = "") -> str:
    """One `::notice` with the score, one `::warning` per notice (e.g. a grade made without a sandbox),
    then `::error` lines at the student's file and line: at most ANNOTATIONS_PER_MODULE per module
    (the first failures; the summary and report.json have the rest)."""
    out = [f"::notice title=kata grade::{_escape_data(_score_line(report))}"]
    out += [f"::warning title=kata grade::{_escape_data(_one_line(notice, 1000))}" for notice in report["notices"]]
    shown: dict[str, int] = {}
    for test in report["tests"]:
        if test["status"] == "pass" or not test["filename"].startswith("tinytorch/"):
            continue
        if shown.get(test["runner"], 0) >= ANNOTATIONS_PER_MODULE:
            continue
        shown[test["runner"]] = shown.get(test["runner"], 0) + 1
        path = f"{submission_prefix}{test['filename']}"
        title = _escape_property(f"{test['runner']}: {test['name']}")
        message = _escape_data(no_workflow_commands(_one_line(test["message"] or test["outcome"])))
        out.append(f"::error file={_escape_property(path)},line={test['line_no']},title={title}::{message}")
    for runner in report["modules"]:
        if runner["status"] == "error" and runner["message"]:
            out.append(f"::error title={_escape_property(runner['id'] + ' could not be graded')}::"
                       f"{_escape_data(no_workflow_commands(_one_line(runner['message'])))}")
    return "\n".join(out) + ("\n" if out else "")


def _score_line(report: dict) -> str:
    """"Score 37.5/150: 3 of 13 modules complete, 1 with errors; 2 not yet assigned"."""
    runners = [r for r in report["modules"] if r["module"] is not None]
    complete = sum(r["status"] == "pass" for r in runners)
    errors = sum(r["status"] == "error" for r in report["modules"])
    line = (f"Score {points(report['score'])}/{points(report['max_score'])}: "
            f"{complete} of {len(runners)} modules complete")
    line += f", {errors} with errors" if errors else ""
    waiting = len(report["course"]["not_assigned"])
    return line + (f"; {waiting} not yet assigned" if waiting else "")


def submission_prefix(submission: Path, cwd: Path) -> str:
    """The submission's path relative to the working directory ("" when it is the working directory)."""
    try:
        relative = submission.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return ""
    return "" if relative == "." else relative + "/"


def _one_line(text: str, limit: int = 300) -> str:
    first = " ".join(text.split())
    return first if len(first) <= limit else first[: limit - 3] + "..."


# GitHub workflow-command escaping (the runner's own rules for data and property values).
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
