"""The `kata` command line: one subcommand per job, each delegating to its own module."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from grading import REPO_ROOT, curriculum as curriculum_module, stubgen


def _stubs(args: argparse.Namespace) -> int:
    curriculum = curriculum_module.load()
    reference, stubs = Path(args.reference), Path(args.out)
    try:
        if args.check:
            diff = stubgen.drift(reference, stubs, curriculum)
            if diff:
                sys.stdout.write(diff)
                print(f"\nstubs/ is out of sync with {reference}/: run `kata stubs`", file=sys.stderr)
                return 1
            print(f"stubs in sync with {reference}/")
            return 0
        changed = stubgen.write_tree(reference, stubs, curriculum)
    except stubgen.MarkerError as error:
        print(f"kata stubs: {error}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"wrote {stubs / path}")
    print(f"{len(changed)} stub file(s) changed")
    return 0


def _test(args: argparse.Namespace) -> int:
    from grading import progress

    curriculum = curriculum_module.load()
    try:
        modules = curriculum.parse_selection(args.modules) if args.modules else None
    except ValueError as error:
        print(f"kata test: {error}", file=sys.stderr)
        return 2
    submission = Path(args.submission).resolve()
    if not (submission / curriculum.package / "__init__.py").is_file():
        print(f"kata test: {submission} has no {curriculum.package}/ package", file=sys.stderr)
        return 2
    roots = ["spec"] + (["hidden_tests"] if args.hidden else [])
    return progress.run(curriculum, REPO_ROOT, submission, modules, roots, Console())


def _lint(args: argparse.Namespace) -> int:
    from grading import lint
    from grading.lint.explain import EXPLANATIONS
    from grading.lint.model import CHECKS
    from grading.lint.output import FORMATS

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
    print(FORMATS[args.format](result.violations, result.pragmas, len(result.files)))
    return 1 if result.violations else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description="TinyTorch kata: stubs, tests, grading.")
    commands = parser.add_subparsers(dest="command", required=True)

    stubs = commands.add_parser("stubs", help="regenerate stubs/ from reference/ (or --check for drift)")
    stubs.add_argument("--check", action="store_true", help="exit 1 with a diff if stubs/ is out of date")
    stubs.add_argument("--reference", default=str(REPO_ROOT / "reference"), help="reference root")
    stubs.add_argument("--out", default=str(REPO_ROOT / "stubs"), help="stub root to write/check")
    stubs.set_defaults(handler=_stubs)

    test = commands.add_parser("test", help="run the spec for some modules and show a progress table")
    test.add_argument("modules", nargs="?", help="module selection, e.g. 06 or 1-3,tensor (default: all)")
    test.add_argument("--submission", default=str(REPO_ROOT / "reference"),
                      help="directory containing tinytorch/ (default: reference/)")
    test.add_argument("--hidden", action="store_true", help="also run hidden_tests/ (instructor repo)")
    test.set_defaults(handler=_test)

    lint = commands.add_parser("lint", help="audit prerequisite ordering, concept leakage, patches, docstrings")
    lint.add_argument("paths", nargs="*", help="report only these files/directories (default: everything)")
    lint.add_argument("--root", default=str(REPO_ROOT), help="repository root holding grading/curriculum.toml")
    lint.add_argument("--format", choices=("text", "json", "github"), default="text")
    lint.add_argument("--select", default="imports,concepts,patches,docstrings,manifest",
                      help="comma-separated checks to run")
    lint.add_argument("--explain", metavar="RULE", help="print what a rule protects and how to fix it")
    lint.set_defaults(handler=_lint)

    grade = commands.add_parser("grade", help="grade a submission: sandboxed runs, scores, report.json")
    grade.add_argument("submission", nargs="?", default=None,
                       help="directory containing tinytorch/ (default: reference/ in the master repo, else .)")
    grade.add_argument("--out", default=None, help="report path (default: build/report.json)")
    grade.add_argument("--reference", default=None,
                       help="reference solution root, for isolated mode (default: reference/ when present)")
    grade.add_argument("--hidden", default=None, help="hidden tests root (default: hidden_tests/ when present)")
    grade.add_argument("--modules", default=None, help="module selection, e.g. 1-8,13 (default: every module with tests)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="pytest subprocesses at a time")
    grade.add_argument("--format", choices=("table", "json", "markdown", "github"), default="table",
                       help="what to print (report.json is always written)")
    grade.add_argument("--work-dir", default=None, help="keep the grader's working files under this directory")
    grade.set_defaults(handler=_grade)

    regrade = commands.add_parser("regrade", help="grade every submission of a roster into a gradebook")
    regrade.add_argument("roster", help="directory with one submission directory per student")
    regrade.add_argument("--out", default="build/regrade", help="reports and gradebook directory")
    regrade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="students graded at a time")
    regrade.add_argument("--shard", default="1/1", help="grade only shard i of n (i/n), e.g. for a CI matrix")
    regrade.add_argument("--force", action="store_true", help="grade again even when a report is up to date")
    regrade.add_argument("--modules", default=None, help="module selection, e.g. 1-8,13")
    regrade.add_argument("--reference", default=None, help="reference solution root (default: reference/)")
    regrade.add_argument("--hidden", default=None, help="hidden tests root (default: hidden_tests/)")
    regrade.add_argument("--allow-unsandboxed", action="store_true",
                         help="grade even when bubblewrap cannot run here (students' code then runs with your rights)")
    regrade.set_defaults(handler=_regrade, submission=None, work_dir=None)

    check = commands.add_parser("sandbox", help="say whether graded code runs inside bubblewrap here, and if not why")
    check.add_argument("--require", action="store_true", help="exit 1 when there is no working sandbox")
    check.set_defaults(handler=_sandbox)

    gradebook = commands.add_parser("gradebook", help="work with gradebooks written by regrade")
    gradebook_commands = gradebook.add_subparsers(dest="gradebook_command", required=True)
    merge = gradebook_commands.add_parser("merge", help="join the gradebooks of several regrade shards")
    merge.add_argument("folders", nargs="+", help="regrade output directories (each with gradebook.json)")
    merge.add_argument("--out", required=True, help="directory for the merged gradebook")
    merge.set_defaults(handler=_gradebook_merge)
    return parser


def _grade(args: argparse.Namespace) -> int:
    from grading import cli_grade

    return cli_grade.run(args)


def _regrade(args: argparse.Namespace) -> int:
    from grading import cli_grade

    return cli_grade.run_regrade(args)


def _sandbox(args: argparse.Namespace) -> int:
    from grading import sandbox

    isolation = sandbox.isolation()
    if isolation.sandboxed:
        print(f"sandbox: bubblewrap {isolation.version}: graded code runs isolated")
        return 0
    print(f"sandbox: none: {isolation.reason}", file=sys.stderr)
    return 1 if args.require else 0


def _gradebook_merge(args: argparse.Namespace) -> int:
    from grading import cli_grade

    return cli_grade.run_merge(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
