"""`kata calibrate`: measure what each test costs on the reference, for the per-test CPU budgets.

    kata calibrate                  grade the reference (judged) 3 times, write spec/ and hidden_tests/cpu_costs.json
    kata calibrate --modules 6      measure module 06's tests again; every other cost is kept
    kata calibrate --check          exit 1 when a test has no cost or a cost names a test that is gone

A maintainers' tool of the master repository (it grades reference/ with hidden_tests/). Commit
the files it writes: the spec's costs ship with the spec, the hidden tests' with the hidden bundle.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from grading import REPO_ROOT, in_master_repository
from grading.authoring import curriculum as curriculum_module
from grading.engine import calibration
from grading.engine.grader import GradeError, GradeOptions, grade, inventory_of

USAGE = ("kata calibrate is a maintainers' tool of the course's master repository: it grades reference/ with "
         "hidden_tests/")


def _paths() -> tuple[Path, Path, Path]:
    return REPO_ROOT / "reference", REPO_ROOT / "hidden_tests", REPO_ROOT / "spec" / calibration.COSTS_FILE


def run(args: argparse.Namespace) -> int:
    reference, hidden, spec_costs = _paths()
    if not in_master_repository() or not reference.is_dir() or not hidden.is_dir():
        print(USAGE, file=sys.stderr)
        return 2
    curriculum = curriculum_module.load()
    try:
        modules = curriculum.parse_selection(args.modules) if args.modules else None
        if args.repeats < 1 or args.jobs < 1:
            raise GradeError(f"--repeats and --jobs must be at least 1, got {args.repeats} and {args.jobs}")
        if args.check:
            return _check(curriculum, reference, hidden)
        costs = _measure(curriculum, reference, hidden, modules, args.repeats, args.jobs)
    except (GradeError, calibration.CalibrationError, ValueError) as error:
        print(f"kata calibrate: {error}", file=sys.stderr)
        return 2
    kept = calibration.load_costs(REPO_ROOT, hidden)
    if modules is not None:  # a partial calibration keeps every other module's costs
        costs = {**{k: v for k, v in kept.items() if k not in costs}, **costs}
    for path in calibration.write_costs(costs, spec_costs, hidden / calibration.COSTS_FILE, args.repeats):
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    _print_summary(costs, curriculum)
    return 0


def _measure(curriculum, reference: Path, hidden: Path, modules: list[int] | None, repeats: int,
             jobs: int) -> dict[str, float]:
    """Each test's largest CPU time over `repeats` judged grades of the reference. The grades give every
    test the whole run's budget: a budget from an older calibration must not cut a measurement short."""
    generous = replace(curriculum.grading, test_cpu_seconds=curriculum.grading.run_cpu_seconds)
    options = GradeOptions(submission=reference, tests_root=REPO_ROOT, reference=reference, hidden=hidden,
                           modules=modules, jobs=jobs, settings=generous, calibrated=False)
    console = Console(stderr=True, highlight=False)

    def grade_once() -> dict[str, float]:
        grading = grade(options, curriculum)
        costs: dict[str, float] = {}
        for run in grading.runs.values():
            failed = [r for r in run.results if r.outcome != "passed"]
            if run.problem or failed:
                what = run.problem or f"{failed[0].entry.nodeid}: {failed[0].outcome} {failed[0].message[:200]}"
                raise GradeError(f"the reference must pass every test to be measured; {run.plan.run_id}: {what}")
            for result in run.results:
                costs[result.entry.nodeid] = max(costs.get(result.entry.nodeid, 0.0), result.cpu or 0.0)
        return costs

    return calibration.measure(grade_once, repeats,
                               lambda done, total: console.print(f"[{done}/{total}] graded the reference"))


def _check(curriculum, reference: Path, hidden: Path) -> int:
    """Every collected test has a cost, and every cost names a collected test."""
    collected = {entry.nodeid for entry in inventory_of(reference, REPO_ROOT, hidden, curriculum)}
    costs = calibration.load_costs(REPO_ROOT, hidden)
    missing, stale = sorted(collected - set(costs)), sorted(set(costs) - collected)
    for nodeid in missing:
        print(f"no calibrated cost: {nodeid}")
    for nodeid in stale:
        print(f"cost of a test that is gone: {nodeid}")
    if missing or stale:
        print(f"{len(missing)} test(s) without a cost, {len(stale)} stale cost(s): run `kata calibrate` "
              "(or `kata calibrate --modules N` for the modules whose tests changed)", file=sys.stderr)
        return 1
    print(f"every one of the {len(collected)} tests has a calibrated CPU cost")
    return 0


def _print_summary(costs: dict[str, float], curriculum) -> None:
    settings = curriculum.grading
    budgets = calibration.budgets(costs, settings)
    at_floor = sum(b == settings.test_cpu_floor for b in budgets.values())
    dearest = sorted(costs, key=costs.get, reverse=True)[:5]
    print(f"{len(costs)} tests; {at_floor} get the floor of {settings.test_cpu_floor:g} s; the dearest:")
    for nodeid in dearest:
        print(f"  {costs[nodeid]:8.3f} s  (budget {budgets[nodeid]:g} s)  {nodeid}")
