"""`kata grade`, `kata regrade`, `kata gradebook merge` on the command line.

`kata grade` resolves defaults, grades, writes report.json and prints a view.

Exit status: 0 whenever a report was written, whatever the score (a grade is not an error);
2 with a one-line reason when the grader itself is misused (missing path, unknown module).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console

from grading import REPO_ROOT, default_submission
from grading.authoring import course as course_module, curriculum as curriculum_module
from grading.engine.grader import GradeError, GradeOptions, grade
from grading.reports import render, report as report_module
from grading.sandbox import confine as sandbox


def _default_dir(name: str) -> Path | None:
    path = REPO_ROOT / name
    return path if path.is_dir() else None


def options_from(args: argparse.Namespace, curriculum: curriculum_module.Curriculum) -> GradeOptions:
    submission = Path(args.submission) if args.submission else default_submission()
    reference = Path(args.reference) if args.reference else _default_dir("reference")
    hidden = Path(args.hidden) if args.hidden else _default_dir("hidden_tests")
    try:
        modules = curriculum.parse_selection(args.modules) if args.modules else None
    except ValueError as error:
        raise GradeError(str(error)) from None
    if args.jobs < 1:
        raise GradeError(f"--jobs must be at least 1, got {args.jobs}")
    try:
        course = course_module.load(curriculum, Path(args.course) if getattr(args, "course", None) else None)
    except course_module.CourseError as error:
        raise GradeError(str(error)) from None
    return GradeOptions(submission=submission, tests_root=REPO_ROOT, reference=reference, hidden=hidden,
                        modules=modules, jobs=args.jobs, work_dir=Path(args.work_dir) if args.work_dir else None,
                        course=course, judged=not getattr(args, "direct", False))


def progress_line(result, done: int, total: int) -> str:
    """One line per finished run, e.g. `[ 3/27] m06 isolated    61/61 passed  8.1s`."""
    plan = result.plan
    runner_id, mode = plan.run_id.rsplit("-", 1)
    outcome = result.problem[:80] if result.problem else f"{result.passed()}/{len(result.results)} passed"
    return f"[{done:>2}/{total}] {runner_id:<11} {mode:<10} {outcome}  {result.duration:.1f}s"


def run(args: argparse.Namespace) -> int:
    curriculum = curriculum_module.load()
    out = Path(args.out) if args.out else Path("build") / "report.json"
    progress = Console(stderr=True, highlight=False)
    try:
        options = options_from(args, curriculum)
        options.on_run_done = lambda result, done, total: progress.print(progress_line(result, done, total))
        grading = grade(options, curriculum)
    except GradeError as error:
        print(f"kata grade: {error}", file=sys.stderr)
        return 2
    report = report_module.build(grading)
    report_module.write(report, out)
    show(report, args.format, grading.submission_root)
    print(f"report written to {out}", file=sys.stderr)
    return 0


def show(report: dict, form: str, submission: Path) -> None:
    if form == "json":
        print(json.dumps(report, indent=2))
    elif form == "markdown":
        print(render.markdown(report), end="")
    elif form == "github":
        print(render.annotations(report, render.submission_prefix(submission, Path.cwd())), end="")
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(render.markdown(report))
    else:
        render.table(report, Console())


def run_regrade(args: argparse.Namespace) -> int:
    from grading.classroom import regrade

    curriculum = curriculum_module.load()
    console = Console()
    try:
        regrade.require_isolation(sandbox.isolation(), args.allow_unsandboxed)
        shard = regrade.parse_shard(args.shard)
        deadline = regrade.parse_deadline(args.deadline) if args.deadline else None
        base = options_from(args, curriculum)  # --jobs: students at a time, each graded with one process
        rows = regrade.regrade(Path(args.roster), Path(args.out), base, curriculum, args.jobs, shard, args.force,
                               console, deadline=deadline)
    except (GradeError, ValueError) as error:
        print(f"kata regrade: {error}", file=sys.stderr)
        return 2
    tally = {status: sum(row["status"] == status for row in rows) for status in ("complete", "incomplete", "error")}
    console.print(f"{len(rows)} submission(s) in shard {args.shard}: {tally['complete']} complete, "
                  f"{tally['incomplete']} incomplete, {tally['error']} with errors; "
                  f"gradebook: {Path(args.out) / 'gradebook.csv'}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from grading.classroom import regrade

    curriculum = curriculum_module.load()
    try:
        rows = regrade.merge([Path(f) for f in args.folders], Path(args.out), curriculum)
    except GradeError as error:
        print(f"kata gradebook merge: {error}", file=sys.stderr)
        return 2
    print(f"merged {len(args.folders)} gradebook(s) into {Path(args.out) / 'gradebook.csv'}: {len(rows)} row(s)")
    return 0
