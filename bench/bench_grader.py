"""Benchmark: how long grading takes, measured in one run.

  * a full `kata grade` of the reference (every module with tests, isolated + integrated views,
    integration suite) with --jobs 1 and --jobs 2, wall-clock seconds and the speed-up;
  * the price of the sandbox: the same full grade (--jobs 2) inside bubblewrap and without it
    (KATA_SANDBOX=none), run alternately, median of --repeats each;
  * the price of the judged mode: the same full grade (--jobs 2, bubblewrap) judged (tests in a
    trusted process, the submission in a sandboxed worker) and direct (--direct), run alternately,
    median of --repeats each;
  * `kata regrade` throughput on a roster of N copies of the reference (--jobs 2): submissions
    per minute, and the per-submission wall time it implies;
  * with --judged-only: the judged grade alone, in one run: the full grade and module 06 (whose
    gradient checks make the most round trips to the worker), and the CPU time each cost.
Targets on a 2-core machine: a full grade of the reference in under 3 minutes; the sandbox costs at
most 1.3x in wall time; judged costs at most 2x direct; idle, the full judged grade at most 60 s and
module 06 at most 20 s.

Run:  .venv/bin/python bench/bench_grader.py [--copies 20] [--skip-regrade] [--modes-only] [--judged-only]
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grading.authoring import curriculum as curriculum_module  # noqa: E402
from grading.classroom import regrade  # noqa: E402
from grading.engine.grader import GradeOptions, grade  # noqa: E402
from grading.reports import report as report_module  # noqa: E402
from grading.sandbox import confine as sandbox  # noqa: E402


def options(jobs: int, judged: bool = True, modules: list[int] | None = None) -> GradeOptions:
    return GradeOptions(submission=ROOT / "reference", tests_root=ROOT, reference=ROOT / "reference",
                        hidden=ROOT / "hidden_tests", jobs=jobs, judged=judged, modules=modules)


def timed_grade(jobs: int, course, judged: bool = True, modules: list[int] | None = None) -> tuple[float, dict]:
    started = time.perf_counter()
    report = report_module.build(grade(options(jobs, judged, modules), course))
    elapsed = time.perf_counter() - started
    if report["score"] != report["max_score"]:
        raise SystemExit(f"the reference scored {report['score']}/{report['max_score']} ({report['mode']}): "
                         "a benchmark of a failing grade measures nothing")
    return elapsed, report


def timed_grade_isolated(sandboxed: bool, course) -> float:
    """One full grade with --jobs 2, with or without bubblewrap."""
    saved = os.environ.pop(sandbox.FORCE_NONE_VARIABLE, None)
    if not sandboxed:
        os.environ[sandbox.FORCE_NONE_VARIABLE] = "none"
    sandbox.isolation.cache_clear()
    try:
        expected = "bubblewrap" if sandboxed else "none"
        if sandbox.isolation().kind != expected:
            raise SystemExit(f"cannot measure with isolation {expected}: {sandbox.isolation().reason}")
        return timed_grade(2, course)[0]
    finally:
        os.environ.pop(sandbox.FORCE_NONE_VARIABLE, None)
        if saved is not None:
            os.environ[sandbox.FORCE_NONE_VARIABLE] = saved
        sandbox.isolation.cache_clear()


def timed_regrade(copies: int, jobs: int, course) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-roster-") as scratch:
        roster = Path(scratch) / "roster"
        for index in range(copies):
            shutil.copytree(ROOT / "reference" / "tinytorch", roster / f"student{index:03d}" / "tinytorch",
                            ignore=shutil.ignore_patterns("__pycache__"))
        started = time.perf_counter()
        regrade.regrade(roster, Path(scratch) / "out", options(1), course, jobs=jobs, shard=(1, 1), force=True,
                        console=Console(file=io.StringIO()))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="roster size for the regrade measurement")
    parser.add_argument("--skip-regrade", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="full grades per isolation setting (alternating)")
    parser.add_argument("--sandbox-only", action="store_true", help="measure only the price of the sandbox")
    parser.add_argument("--modes-only", action="store_true", help="measure only judged against direct grading")
    parser.add_argument("--judged-only", action="store_true",
                        help="measure only the judged grade: the full grade and module 06, against their targets")
    args = parser.parse_args()
    course = curriculum_module.load()
    console = Console()
    if args.modes_only:
        measure_modes(console, course, args.repeats)
        return
    if args.judged_only:
        measure_judged(console, course)
        return

    table = Table(title="kata grade of the reference")
    for column in ("measurement", "wall time", "ratio"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    isolated, bare = [], []
    for _ in range(args.repeats):
        isolated.append(timed_grade_isolated(True, course))
        bare.append(timed_grade_isolated(False, course))
    with_sandbox, without = statistics.median(isolated), statistics.median(bare)
    table.add_row(f"full grade, --jobs 2, no sandbox (median of {len(bare)})", f"{without:.1f} s", "1.00x")
    table.add_row(f"full grade, --jobs 2, bubblewrap {sandbox.isolation().version} (median of {len(isolated)})",
                  f"{with_sandbox:.1f} s", f"{with_sandbox / without:.2f}x")
    two = with_sandbox
    if not args.sandbox_only:
        one, report = timed_grade(1, course)
        table.title = (f"kata grade reference: {report['summary']['tests']} tests, {len(report['modules'])} runners, "
                       f"score {report['score']:g}/{report['max_score']:g}")
        table.add_row("full grade, --jobs 1", f"{one:.1f} s", f"{one / two:.2f}x the --jobs 2 time")
    if not args.skip_regrade and not args.sandbox_only:
        elapsed = timed_regrade(args.copies, 2, course)
        table.add_row(f"regrade {args.copies} copies, --jobs 2", f"{elapsed:.1f} s",
                      f"{args.copies / elapsed * 60:.1f} submissions/min, {elapsed / args.copies:.1f} s each")
    console.print(table)
    verdict = "met" if two < 180 else "NOT met"
    console.print(f"target (full grade under 180 s with --jobs 2): {verdict} ({two:.1f} s)")
    verdict = "met" if with_sandbox <= 1.3 * without else "NOT met"
    console.print(f"target (the sandbox costs at most 1.3x): {verdict} ({with_sandbox / without:.2f}x)")


def measure_modes(console: Console, course, repeats: int) -> None:
    """Judged against direct: full grades with --jobs 2 in bubblewrap, alternating."""
    if not sandbox.isolation().sandboxed:
        raise SystemExit(f"the modes are compared inside bubblewrap: {sandbox.isolation().reason}")
    judged, direct = [], []
    for _ in range(repeats):
        judged.append(timed_grade(2, course, judged=True)[0])
        direct.append(timed_grade(2, course, judged=False)[0])
    table = Table(title="kata grade of the reference: judged against direct (--jobs 2, bubblewrap)")
    for column in ("mode", "wall time", "ratio"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    fast, slow = statistics.median(direct), statistics.median(judged)
    table.add_row(f"direct: tests and submission in one sandboxed process (median of {repeats})", f"{fast:.1f} s",
                  "1.00x")
    table.add_row(f"judged: trusted tests, submission in a sandboxed worker (median of {repeats})", f"{slow:.1f} s",
                  f"{slow / fast:.2f}x")
    console.print(table)
    verdict = "met" if slow <= 2 * fast else "NOT met"
    console.print(f"target (judged costs at most 2x direct): {verdict} ({slow / fast:.2f}x)")


def measure_judged(console: Console, course) -> None:
    """The judged grade (--jobs 2, bubblewrap): the full grade and module 06 alone, wall and CPU time."""
    table = Table(title="judged grade of the reference (--jobs 2)")
    for column in ("grade", "wall time", "CPU time", "target"):
        table.add_column(column, justify="left" if column == "grade" else "right")
    verdicts = []
    for label, modules, target in (("full grade", None, 60.0), ("module 06 alone", [6], 20.0)):
        cpu_before = _children_cpu()
        elapsed, _ = timed_grade(2, course, judged=True, modules=modules)
        cpu = _children_cpu() - cpu_before
        table.add_row(label, f"{elapsed:.1f} s", f"{cpu:.1f} s", f"at most {target:g} s")
        verdicts.append(f"{label} at most {target:g} s: {'met' if elapsed <= target else 'NOT met'} ({elapsed:.1f} s)")
    console.print(table)
    for verdict in verdicts:
        console.print(f"target ({verdict})")


def _children_cpu() -> float:
    """CPU seconds of this process and every subprocess it has waited for (the grade's sandboxes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


if __name__ == "__main__":
    main()
