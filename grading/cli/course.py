"""`kata release`, `kata roster collect`, `kata classroom` on the command line: delivering a course.

Exit status: 0 on success; 1 when `roster collect` could not clone some repository (the others
are collected); 2 with a one-line reason when the command cannot do its job.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grading import REPO_ROOT
from grading.authoring import curriculum as curriculum_module


def run_release(args: argparse.Namespace) -> int:
    from grading.authoring import course as course_module
    from grading.classroom import release

    curriculum = curriculum_module.load()
    if not (REPO_ROOT / "reference").is_dir() or not (REPO_ROOT / "hidden_tests").is_dir():
        print(f"kata release: {REPO_ROOT} is not the master repository (it needs reference/ and hidden_tests/)",
              file=sys.stderr)
        return 2
    try:
        due = course_module.parse_due(args.due, curriculum)
        course = course_module.build(curriculum, preset=args.course, modules=args.modules, due=due)
        files = release.release(REPO_ROOT, Path(args.out), curriculum, course,
                                Path(args.hidden_bundle) if args.hidden_bundle else None, args.with_reference)
    except (course_module.CourseError, release.ReleaseError) as error:
        print(f"kata release: {error}", file=sys.stderr)
        return 2
    print(f"template: {len(files)} files in {args.out} ({course.title}; no leaks found)")
    if args.hidden_bundle:
        print(f"hidden bundle: {args.hidden_bundle}" + (" (with the reference solution: keep it private)"
                                                         if args.with_reference else ""))
    return 0


def run_roster_collect(args: argparse.Namespace) -> int:
    from grading.classroom import roster

    try:
        results = roster.collect(Path(args.roster), Path(args.into), args.base_url)
    except roster.RosterError as error:
        print(f"kata roster collect: {error}", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result.entry.student}: {result.message}", file=sys.stdout if result.ok else sys.stderr)
    failed = sum(not result.ok for result in results)
    print(f"collected {len(results) - failed} of {len(results)} repositories into {args.into}")
    return 1 if failed else 0


def run_classroom(args: argparse.Namespace) -> int:
    import json

    import jsonschema

    from grading.classroom import payload
    from grading.reports import report as report_module

    try:
        report = json.loads(Path(args.report).read_text(encoding="utf-8"))
        report_module.validate(report)  # the schema, not ad-hoc checks, says what a report is
        sys.stdout.write(payload.github_output_lines(payload.outputs(report)))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, payload.PayloadError) as error:
        print(f"kata classroom: cannot turn {args.report} into reporter outputs: {error}", file=sys.stderr)
        return 2
    except jsonschema.ValidationError as error:
        print(f"kata classroom: {args.report} is not a grade report: {error.message}", file=sys.stderr)
        return 2
    return 0
