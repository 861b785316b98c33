"""The `kata` command line: one subcommand per job, each delegating to its own module."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from grading import REPO_ROOT, in_master_repository
from grading.authoring import curriculum as curriculum_module, stubgen
from grading.authoring.lint.model import CHECKS
from grading.judged import apimap
from grading.reports import submission_schema


MAINTAINERS_ONLY = ("is a maintainers' tool of the course's master repository (it reads reference/); in a "
                    "student template use: kata test, kata status, kata watch, kata grade")


def _stubs(args: argparse.Namespace) -> int:
    if not in_master_repository() and args.reference == str(REPO_ROOT / "reference"):
        print(f"kata stubs {MAINTAINERS_ONLY}", file=sys.stderr)
        return 2
    curriculum = curriculum_module.load()
    reference, stubs = Path(args.reference), Path(args.out)
    try:
        if args.check:
            diff = stubgen.drift(reference, stubs, curriculum)
            generated_drift = [apimap.drift(reference, curriculum.package), submission_schema.drift(reference)]
            if diff or any(generated_drift):
                sys.stdout.write(diff)
                print(f"\nstubs/ is out of sync with {reference}/: run `kata stubs`" if diff
                      else "\n".join(d for d in generated_drift if d), file=sys.stderr)
                return 1
            print(f"stubs, {apimap.API_FILE.name} and {submission_schema.SCHEMA_FILE.name} in sync with {reference}/")
            return 0
        changed = stubgen.write_tree(reference, stubs, curriculum)
        api_changed = apimap.write(reference, curriculum.package)
        schema_changed = submission_schema.write(reference)
    except (stubgen.MarkerError, apimap.ApiError, submission_schema.SchemaError) as error:
        print(f"kata stubs: {error}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"wrote {stubs / path}")
    if api_changed:
        print(f"wrote {apimap.API_FILE} (the judged mode's proxy package is built from it)")
    if schema_changed:
        print(f"wrote {submission_schema.SCHEMA_FILE} (module 20's submission schema, as a file)")
    print(f"{len(changed)} stub file(s) changed")
    return 0


def _lazy(module: str, function: str):
    """A handler that imports its module only when its subcommand runs, so `kata --help` and the
    light subcommands start fast."""
    def handler(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"grading.cli.{module}"), function)(args)
    return handler


def _add_student_loop_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submission", default=None,
                        help="directory containing tinytorch/ (default: reference/ in the master repo, else the "
                             "template's own ./tinytorch)")
    parser.add_argument("--course", default=None,
                        help="course schedule file (default: course.toml beside the tooling; "
                             "without one, every module)")
    parser.add_argument("--no-color", action="store_true", help="no colours or styles (also: NO_COLOR=1)")


def _lint(args: argparse.Namespace) -> int:
    if not in_master_repository() and args.root == str(REPO_ROOT):
        print(f"kata lint {MAINTAINERS_ONLY}", file=sys.stderr)
        return 2
    from grading.authoring import lint
    from grading.authoring.lint.explain import EXPLANATIONS
    from grading.authoring.lint.output import FORMATS

    if args.explain:
        if args.explain not in EXPLANATIONS:
            print(f"kata lint: unknown rule {args.explain!r}; rules: {', '.join(EXPLANATIONS)}", file=sys.stderr)
            return 2
        print(f"{args.explain}: {EXPLANATIONS[args.explain]}")
        return 0
    select = tuple(part.strip() for part in args.select.split(",") if part.strip())
    unknown = [part for part in select if part not in CHECKS]
    if unknown or not select:
        print(f"kata lint: unknown check(s) {unknown}; choose from {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    root = Path(args.root).resolve()
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"kata lint: no such path: {missing[0]}", file=sys.stderr)
        return 2
    result = lint.run(root, select, [Path(p) for p in args.paths] or None)
    print(FORMATS[args.format](result.violations, result.pragmas, result.checked))
    return 1 if result.violations else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description="TinyTorch kata: stubs, tests, grading.")
    commands = parser.add_subparsers(dest="command", required=True)

    stubs = commands.add_parser("stubs", help="regenerate stubs/ from reference/ (or --check for drift)")
    stubs.add_argument("--check", action="store_true", help="exit 1 with a diff if stubs/ is out of date")
    stubs.add_argument("--reference", default=str(REPO_ROOT / "reference"), help="reference root")
    stubs.add_argument("--out", default=str(REPO_ROOT / "stubs"), help="stub root to write/check")
    stubs.set_defaults(handler=_stubs)

    test = commands.add_parser("test", help="run the spec: pass/fail per test, the first failure explained")
    test.add_argument("modules", nargs="?",
                      help="module selection, e.g. 06 or 1-3,tensor (default: every assigned module, one row each)")
    _add_student_loop_options(test)
    test.add_argument("--hidden", action="store_true", help="also run hidden_tests/ (instructor repo)")
    test.set_defaults(handler=_lazy("student", "run_test"))

    status = commands.add_parser("status", help="one row per module (done, in progress, not started, ...), "
                                 "the next module to do and the milestones unlocked")
    _add_student_loop_options(status)
    status.add_argument("--json", action="store_true", help="print the same facts as JSON")
    status.set_defaults(handler=_lazy("student", "run_status"))

    watch = commands.add_parser("watch", help="run `kata test` again whenever a .py file of tinytorch/ changes")
    watch.add_argument("modules", nargs="?", help="module selection, e.g. 06 (default: every assigned module)")
    _add_student_loop_options(watch)
    watch.set_defaults(handler=_lazy("student", "run_watch"))

    milestone = commands.add_parser("milestone", help="run a historical milestone (1958 perceptron ...) on your package",
                                    description="Run milestone N on a tinytorch package; options after N go to the "
                                                "milestone (--submission DIR, --seed, --epochs, --quick, --data-dir).")
    milestone.add_argument("number", type=int, help="which milestone, 1-6")
    milestone.add_argument("options", nargs=argparse.REMAINDER, help="options for the milestone")
    milestone.set_defaults(handler=_lazy("milestone", "run_milestone"))

    lint = commands.add_parser("lint", help="audit prerequisite ordering, concept leakage, patches, docstrings, "
                                            "and the grader's own layering")
    lint.add_argument("paths", nargs="*", help="report only these files/directories (default: everything)")
    lint.add_argument("--root", default=str(REPO_ROOT), help="repository root holding grading/curriculum.toml")
    lint.add_argument("--format", choices=("text", "json", "github"), default="text")
    lint.add_argument("--select", default=",".join(CHECKS),
                      help="comma-separated checks to run")
    lint.add_argument("--explain", metavar="RULE", help="print what a rule protects and how to fix it")
    lint.set_defaults(handler=_lint)

    grade = commands.add_parser("grade", help="grade a submission: sandboxed runs, scores, report.json")
    grade.add_argument("submission", nargs="?", default=None,
                       help="directory containing tinytorch/ (default: reference/ in the master repo, else the "
                            "template's own ./tinytorch)")
    grade.add_argument("--out", default=None, help="report path (default: build/report.json)")
    grade.add_argument("--reference", default=None,
                       help="reference solution root, for isolated mode (default: reference/ when present)")
    grade.add_argument("--hidden", default=None, help="hidden tests root (default: hidden_tests/ when present)")
    grade.add_argument("--modules", default=None,
                       help="module selection, e.g. 1-8,13 (default: the course's assigned modules)")
    grade.add_argument("--course", default=None,
                       help="course schedule file (default: course.toml beside the tooling; without one, every module)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="pytest subprocesses at a time")
    grade.add_argument("--format", choices=("table", "json", "markdown", "github"), default="table",
                       help="what to print (report.json is always written)")
    grade.add_argument("--work-dir", default=None, help="keep the grader's working files under this directory")
    grade.add_argument("--direct", action="store_true",
                       help="run the tests in the same process as the submission (faster, full tracebacks; only "
                            "for code you trust). Default: judged, the submission runs in a sandboxed worker and "
                            "cannot touch the tests or their verdicts")
    grade.set_defaults(handler=_lazy("grade", "run"))

    regrade = commands.add_parser("regrade", help="grade every submission of a roster into a gradebook")
    regrade.add_argument("roster", help="directory with one submission directory per student")
    regrade.add_argument("--out", default="build/regrade", help="reports and gradebook directory")
    regrade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="students graded at a time")
    regrade.add_argument("--shard", default="1/1", help="grade only shard i of n (i/n), e.g. for a CI matrix")
    regrade.add_argument("--force", action="store_true", help="grade again even when a report is up to date")
    regrade.add_argument("--deadline", default=None, metavar="ISO8601",
                         help="grade each student's last commit at or before this moment, e.g. 2026-12-01T23:59:00+00:00 "
                              "(a date alone: the end of that day, UTC); needs every submission to be a git repository")
    regrade.add_argument("--modules", default=None, help="module selection, e.g. 1-8,13")
    regrade.add_argument("--course", default=None, help="course schedule file (default: course.toml beside the tooling)")
    regrade.add_argument("--reference", default=None, help="reference solution root (default: reference/)")
    regrade.add_argument("--hidden", default=None, help="hidden tests root (default: hidden_tests/)")
    regrade.add_argument("--direct", action="store_true",
                       help="run the tests in the same process as the submission (faster, full tracebacks; only "
                            "for code you trust). Default: judged, the submission runs in a sandboxed worker and "
                            "cannot touch the tests or their verdicts")
    regrade.add_argument("--allow-unsandboxed", action="store_true",
                         help="grade even when bubblewrap cannot run here (students' code then runs with your rights)")
    regrade.set_defaults(handler=_lazy("grade", "run_regrade"), submission=None, work_dir=None)

    calibrate = commands.add_parser("calibrate", help="measure each test's CPU cost on the reference (maintainers): "
                                                      "the per-test budgets")
    calibrate.add_argument("--modules", default=None, help="measure only these modules' tests, e.g. 6,9 (the "
                                                           "integration and milestone suites are measured with any)")
    calibrate.add_argument("--repeats", type=int, default=3, help="grades of the reference; each test keeps its largest cost")
    calibrate.add_argument("--jobs", type=int, default=2, help="pytest subprocesses at a time")
    calibrate.add_argument("--check", action="store_true",
                           help="measure nothing: exit 1 when a test has no cost or a cost names a test that is gone")
    calibrate.set_defaults(handler=_lazy("calibrate", "run"))

    check = commands.add_parser("sandbox", help="say whether graded code runs inside bubblewrap here, and if not why")
    check.add_argument("--require", action="store_true", help="exit 1 when there is no working sandbox")
    check.set_defaults(handler=_sandbox)

    gradebook = commands.add_parser("gradebook", help="work with gradebooks written by regrade")
    gradebook_commands = gradebook.add_subparsers(dest="gradebook_command", required=True)
    merge = gradebook_commands.add_parser("merge", help="join the gradebooks of several regrade shards")
    merge.add_argument("folders", nargs="+", help="regrade output directories (each with gradebook.json)")
    merge.add_argument("--out", required=True, help="directory for the merged gradebook")
    merge.set_defaults(handler=_lazy("grade", "run_merge"))
    release = commands.add_parser("release", help="write the student template (and the hidden bundle) for a course")
    release.add_argument("out", help="new directory for the student template")
    which = release.add_mutually_exclusive_group()
    which.add_argument("--modules", default=None, help="assigned modules, e.g. 1-8 (default: every built module)")
    which.add_argument("--course", default=None, help="a course preset from the manifest's [courses] table, "
                       "e.g. foundation, architecture, optimization")
    release.add_argument("--due", action="append", default=[], metavar="MODULE=DATE",
                         help="a due date, e.g. 06=2026-12-01 (repeatable)")
    release.add_argument("--hidden-bundle", default=None, metavar="DIR",
                         help="also write the hidden bundle (hidden tests, manifest, course) into DIR")
    release.add_argument("--with-reference", action="store_true",
                         help="put the reference solution in the hidden bundle (enables isolated-mode grading)")
    release.set_defaults(handler=_lazy("course", "run_release"))

    roster = commands.add_parser("roster", help="work with a course roster (student,repository CSV)")
    roster_commands = roster.add_subparsers(dest="roster_command", required=True)
    collect = roster_commands.add_parser("collect", help="clone every student's repository for `kata regrade`")
    collect.add_argument("roster", help="CSV file with the columns student and repository (owner/name)")
    collect.add_argument("--into", required=True, help="directory that receives one folder per student")
    collect.add_argument("--base-url", default="https://github.com/",
                         help="where owner/name repositories live (default: https://github.com/); a token for "
                              "private ones comes from $KATA_ROSTER_TOKEN")
    collect.set_defaults(handler=_lazy("course", "run_roster_collect"))

    classroom = commands.add_parser("classroom", help="turn report.json into the Classroom reporter's step outputs")
    classroom.add_argument("report", help="the report written by `kata grade`")
    classroom.set_defaults(handler=_lazy("course", "run_classroom"))
    return parser


def _sandbox(args: argparse.Namespace) -> int:
    from grading.sandbox import confine as sandbox

    isolation = sandbox.isolation()
    if isolation.sandboxed:
        print(f"sandbox: bubblewrap {isolation.version}: graded code runs isolated")
        return 0
    print(f"sandbox: none: {isolation.reason}", file=sys.stderr)
    return 1 if args.require else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        # The reader went away (`kata status --json | head`): no traceback; and point stdout at
        # /dev/null so that Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
