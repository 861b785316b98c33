"""`kata test`, `kata status`, `kata watch` on the command line: the student's loop.

Each resolves the course, the module selection and the submission (reference/ in the master
repository, the template's own ./tinytorch otherwise), then hands over to grading/student/progress.py.
Exit status: 0 when every selected test passed, 1 otherwise, 2 for misuse (one line on stderr).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from grading import REPO_ROOT
from grading.authoring import curriculum as curriculum_module


class _LoopMisuse(ValueError):
    """test/status/watch were given something they cannot use; the message says what and why."""


def _loop_inputs(args: argparse.Namespace):
    """The curriculum, course and submission that test/status/watch work on."""
    from grading import default_submission
    from grading.authoring import course as course_module

    curriculum = curriculum_module.load()
    if args.course and not Path(args.course).is_file():
        raise _LoopMisuse(f"--course: expected a course.toml file, got {args.course!r} (no such file)")
    try:
        course = course_module.load(curriculum, Path(args.course) if args.course else None)
    except course_module.CourseError as error:
        raise _LoopMisuse(str(error)) from None
    submission = Path(args.submission).resolve() if args.submission else default_submission()
    if not (submission / curriculum.package / "__init__.py").is_file():
        raise _LoopMisuse(f"--submission: expected a directory containing {curriculum.package}/__init__.py, "
                          f"got {submission}")
    return curriculum, course, submission


def _chosen_modules(args: argparse.Namespace, curriculum, course, notes: Console) -> list[int]:
    """The selection's modules (planned ones have no tests yet), else every assigned module."""
    from grading.authoring.course import NOT_ASSIGNED, span

    if not args.modules:
        return [m.number for m in curriculum.built() if course.is_assigned(m.number)]
    try:
        numbers = curriculum.parse_selection(args.modules)
    except ValueError as error:
        raise _LoopMisuse(str(error)) from None
    planned = [n for n in numbers if n in curriculum.planned]
    numbers = [n for n in numbers if n not in planned]
    if not numbers:
        raise _LoopMisuse(f"module selection {args.modules!r} names only planned modules ({span(planned)}), "
                          "which have no tests yet")
    if planned:
        notes.print(f"skipping module(s) {span(planned)}: planned, no tests yet", style="dim")
    unassigned = [n for n in numbers if not course.is_assigned(n)]
    if unassigned:
        notes.print(f"module(s) {span(unassigned)}: {NOT_ASSIGNED} in this course; running their tests anyway",
                    style="dim")
    return numbers


def _note_default_submission(args: argparse.Namespace, notes: Console) -> None:
    from grading import in_master_repository

    if args.submission is None and in_master_repository():
        notes.print("testing reference/, the instructor's solution; pass --submission DIR for another package",
                    style="dim")


@dataclass
class _Loop:
    """What one run of the student's loop works on."""

    console: Console
    curriculum: curriculum_module.Curriculum
    course: object
    submission: Path
    numbers: list[int]


def _prepare(args: argparse.Namespace, command: str, select_modules: bool) -> _Loop | None:
    """Resolve the inputs, or print `kata COMMAND: reason` and return None (exit status 2)."""
    from grading.student import progress

    console, notes = progress.make_console(args.no_color), progress.make_console(args.no_color, stderr=True)
    try:
        curriculum, course, submission = _loop_inputs(args)
        numbers = _chosen_modules(args, curriculum, course, notes) if select_modules else []
    except _LoopMisuse as error:
        print(f"kata {command}: {error}", file=sys.stderr)
        return None
    _note_default_submission(args, notes)
    return _Loop(console, curriculum, course, submission, numbers)


def run_test(args: argparse.Namespace) -> int:
    from grading.student import progress

    loop = _prepare(args, "test", select_modules=True)
    if loop is None:
        return 2
    roots = ["spec"] + (["hidden_tests"] if args.hidden else [])
    return progress.run(loop.curriculum, REPO_ROOT, loop.submission, loop.numbers, roots, loop.console,
                        one_line_per_test=bool(args.modules))


def run_status(args: argparse.Namespace) -> int:
    from grading.student import progress

    loop = _prepare(args, "status", select_modules=False)
    if loop is None:
        return 2
    return progress.run_status(loop.curriculum, loop.course, REPO_ROOT, loop.submission, loop.console,
                               as_json=args.json)


def run_watch(args: argparse.Namespace) -> int:
    from grading.student import progress, watch

    loop = _prepare(args, "watch", select_modules=True)
    if loop is None:
        return 2

    def run_once() -> int:
        return progress.run(loop.curriculum, REPO_ROOT, loop.submission, loop.numbers, ["spec"], loop.console,
                            one_line_per_test=bool(args.modules))

    package = loop.submission / loop.curriculum.package
    return watch.watch(run_once, package, lambda line: loop.console.print(line, style="dim", markup=False),
                       shown_as=progress.shown_path(package, REPO_ROOT))
