"""`kata grade`: policy scan, import probes, sandboxed test runs, scores, report.

The steps, each in its own module:
  1. the submission's `tinytorch/` is copied (only .py files) into a fresh work directory next to
     the grader's own tests and configuration (grading/engine/workspace.py);
  2. the policy scan reads the student's files without running them (grading/engine/policy.py);
  3. each package variant is imported once in a sandbox (grading/engine/probe.py) so an import that fails,
     hangs or exits is reported once, clearly, instead of as a wall of test failures;
  4. one pytest subprocess per (module, mode), `jobs` at a time (grading/engine/runner.py);
  5. points and statuses (grading/engine/scoring.py), then the report (grading/reports/report.py).
"""
from __future__ import annotations

import builtins
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from grading.authoring.course import Course, full_course
from grading.authoring.curriculum import SUITE_IDS, Curriculum, GradingSettings, Module
from grading.engine import calibration, channel, inventory_cache, policy, runner
from grading.engine.runner import RunPlan, RunResult, TestEntry
from grading.engine.workspace import Workspace, fingerprint, python_files
from grading.sandbox import confine as sandbox
from grading.sandbox.launcher import CHANNEL_FD


BUILTIN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                               if isinstance(value, type) and issubclass(value, BaseException))


class GradeError(ValueError):
    """The grader was misused (bad paths, unknown modules): exit 2 with this one-line reason."""


@dataclass
class GradeOptions:
    submission: Path
    tests_root: Path  # holds conftest.py and spec/
    reference: Path | None  # holds tinytorch/ (enables isolated mode)
    hidden: Path | None  # holds unit/, integration/, milestones/
    modules: list[int] | None = None
    jobs: int = 2
    work_dir: Path | None = None  # kept for inspection when given; a temporary directory otherwise
    settings: GradingSettings | None = None  # limits and weights; default: the manifest's [grading] table
    course: Course | None = None  # assigned modules (graded when `modules` is None); default: every built module
    on_run_done: Callable[[RunResult, int, int], None] | None = None  # progress: (result, done, total)
    judged: bool = True  # tests in a trusted process, the submission in a sandboxed worker (False: --direct)
    calibrated: bool = True  # per-test CPU budgets from the calibrated costs (False: test_cpu_seconds for every test)


@dataclass
class ProbeResult:
    ok: bool
    message: str = ""
    path: str = ""
    line: int = 0


@dataclass
class Grading:
    """Everything a report is made from."""

    options: GradeOptions
    curriculum: Curriculum
    settings: GradingSettings
    submission_root: Path
    fingerprint: str
    tests_fingerprint: str
    modules: list[Module]
    runs: dict[str, RunResult] = field(default_factory=dict)
    violations: list = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    isolation: sandbox.Isolation = field(default_factory=lambda: sandbox.isolation())
    durations: dict[str, float] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)  # nodeid -> CPU seconds (calibrated tests only)


def resolve_submission(path: Path, package: str) -> Path:
    """The directory that contains `package`/ (accepts that package directory itself too)."""
    path = path.expanduser()
    if not path.exists():
        raise GradeError(f"submission {path} does not exist")
    if not path.is_dir():
        raise GradeError(f"submission {path} is a file; expected a directory containing {package}/")
    path = path.resolve()
    if path.name == package and (path / "__init__.py").is_file():
        return path.parent
    if not (path / package).is_dir():
        raise GradeError(f"submission {path} has no {package}/ directory")
    return path


def grade(options: GradeOptions, curriculum: Curriculum) -> Grading:
    started = time.monotonic()
    package = curriculum.package
    submission = resolve_submission(options.submission, package)
    reference = options.reference.resolve() if options.reference else None
    if reference is not None and not (reference / package / "__init__.py").is_file():
        raise GradeError(f"--reference {reference} has no {package}/__init__.py")
    hidden = options.hidden.resolve() if options.hidden else None
    if hidden is not None and not hidden.is_dir():
        raise GradeError(f"--hidden {hidden} is not a directory")

    _check_nothing_secret_is_mounted(options, reference, hidden)
    if options.work_dir is not None:
        options.work_dir.mkdir(parents=True, exist_ok=True)
        return _grade_in(Path(tempfile.mkdtemp(prefix="grade-", dir=options.work_dir)), options, curriculum,
                         submission, reference, hidden, started)
    with tempfile.TemporaryDirectory(prefix="kata-grade-") as scratch:
        return _grade_in(Path(scratch), options, curriculum, submission, reference, hidden, started)


def _check_nothing_secret_is_mounted(options: GradeOptions, reference: Path | None, hidden: Path | None) -> None:
    """Refuse to grade when the sandbox's own mounts (the interpreter, the virtualenv, /usr) would
    show every submission the hidden tests, the reference or the grader's work directory."""
    if not sandbox.isolation().sandboxed:
        return
    secrets = [p for p in (hidden, reference, options.work_dir, options.tests_root / "hidden_tests",
                           Path(tempfile.gettempdir())) if p is not None and p.exists()]
    for path, mount in sandbox.exposed(secrets):
        raise GradeError(f"{path} lies inside {mount}, which every sandbox sees read-only (it holds the "
                         "interpreter or its packages): move it, or the virtualenv, elsewhere")


def _grade_in(root: Path, options: GradeOptions, curriculum: Curriculum, submission: Path,
              reference: Path | None, hidden: Path | None, started: float) -> Grading:
    workspace = Workspace(root)
    workspace.install_tests(options.tests_root, hidden, Path(curriculum.source))
    course = options.course or full_course(curriculum)
    selection = options.modules if options.modules is not None else list(course.assigned)
    graded = _modules_with_tests(workspace, curriculum, selection)
    settings = options.settings or curriculum.grading
    grading = Grading(options, curriculum, settings, submission, fingerprint(submission / curriculum.package),
                      workspace.tests_fingerprint(), graded)
    if not grading.isolation.sandboxed:
        grading.notices.append(f"graded WITHOUT a sandbox (isolation: none): {grading.isolation.reason}. The "
                               "submission's code ran with the grader's own rights, so this grade is not "
                               "protected against tampering")
    if not options.judged:
        grading.notices.append("graded in direct mode (--direct): the tests ran in the same process as the "
                               "submission's code, which could have changed their verdicts; grades that count "
                               "should be judged (the default)")
    if hidden is None:
        grading.notices.append("visible-only grade: no hidden tests were available (hidden and integration "
                               "suites not run); the final grade may differ")
    if reference is None:
        grading.notices.append("no reference solution available: unit suites ran on the whole submission "
                               "(integrated mode), so a bug in an early module also costs later modules")
    grading.violations = policy.scan(submission, curriculum)
    try:
        if options.calibrated:
            grading.budgets = calibration.budgets(calibration.load_costs(options.tests_root, hidden), settings)
    except calibration.CalibrationError as error:
        raise GradeError(str(error)) from None
    variants = _package_variants(workspace, submission, reference, graded, curriculum)
    keep = reference is not None and grading.isolation.sandboxed  # see inventory_cache's docstring
    inventory = _timed(grading, "inventory", _inventory, workspace, variants, reference, graded, settings, curriculum,
                       grading.tests_fingerprint if keep else None)
    probes = _timed(grading, "probes", _probe_all, workspace, variants, settings, options.jobs)
    plans = _plans(grading, inventory, variants, probes, reference is not None, submission)
    _timed(grading, "tests", _run_all, grading, plans, workspace, settings)
    grading.durations["total"] = time.monotonic() - started
    return grading


def _timed(grading: Grading, step: str, function, *args):
    """Run one step of the grade and record how long it took (reported in report.json)."""
    mark = time.monotonic()
    result = function(*args)
    grading.durations[step] = time.monotonic() - mark
    return result


def _package_variants(workspace: Workspace, submission: Path, reference: Path | None, graded: list[Module],
                      curriculum: Curriculum) -> dict[str, tuple[Path, list[str]]]:
    """{variant name: (package root, dotted modules to probe)}: the student's whole package, and
    with a reference one isolated package per graded module."""
    variants = {"integrated": (workspace.integrated_package(submission, curriculum.package),
                               [m.path for m in graded])}
    if reference is not None:
        for module in graded:
            variants[f"isolated-{module.label}"] = (
                workspace.isolated_package(reference, submission, module, curriculum), [module.path])
    return variants


def _inventory(workspace: Workspace, variants: dict, reference: Path | None, graded: list[Module],
               settings: GradingSettings, curriculum: Curriculum, tests_fingerprint: str | None) -> list[TestEntry]:
    """Every test to expect, collected against a package that imports (the reference when there is one).
    With `tests_fingerprint`, a collection against the reference is kept for later grades (inventory_cache)."""
    files = _test_files(workspace, graded)
    if reference is not None:
        inventory = _collected_against_reference(workspace, reference, files, settings, tests_fingerprint)
    else:  # the student's own package: files that do not collect become placeholders that score zero
        inventory, _ = runner.collect_inventory(workspace, variants["integrated"][0], files, settings)
    return inventory + _placeholders(inventory, files, curriculum)


def _collected_against_reference(workspace: Workspace, reference: Path, files: list[str], settings: GradingSettings,
                                 tests_fingerprint: str | None) -> list[TestEntry]:
    """The tests in `files` as collected against the reference; GradeError when they do not collect.
    With `tests_fingerprint`, what was collected is kept for later grades, and read from there (inventory_cache)."""
    name = inventory_cache.key(tests_fingerprint, reference, files) if tests_fingerprint else None
    entries = inventory_cache.read(name) if name else None
    if entries is None:
        entries, errors = runner.collect_inventory(workspace, reference, files, settings)
        if errors:
            raise GradeError(f"the tests do not collect against the reference: {next(iter(errors.values()))[:300]}")
        if name:
            inventory_cache.write(name, entries)
    return entries


def _run_all(grading: Grading, plans: list[RunPlan], workspace: Workspace, settings: GradingSettings) -> None:
    canary = workspace.write_canary()
    options = grading.options
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        # Longest first: the slowest suites start early, so the parallel jobs finish together.
        ordered = sorted(plans, key=lambda p: -len(p.entries))
        futures = [pool.submit(runner.execute, plan, workspace, canary, settings, options.judged, grading.budgets)
                   for plan in ordered]
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            grading.runs[result.plan.run_id] = result
            if options.on_run_done:
                options.on_run_done(result, done, len(futures))
    _retry_overloaded(grading, workspace, canary, settings)


def _retry_overloaded(grading: Grading, workspace: Workspace, canary, settings: GradingSettings) -> None:
    """Run again, one at a time, every run that the machine was too busy to grade; a run that is
    starved again stays "not graded" (status `error`), never a failure of the student's."""
    for run_id, result in list(grading.runs.items()):
        if runner.is_overloaded_run(result.problem):
            grading.runs[run_id] = runner.execute(result.plan, workspace, canary, settings, grading.options.judged,
                                                  grading.budgets)


def inventory_of(reference: Path, tests_root: Path, hidden: Path | None, curriculum: Curriculum) -> list[TestEntry]:
    """Every test of every module with tests (and the integration and milestone suites), as
    collected against the reference: what `kata calibrate --check` compares the costs with."""
    with tempfile.TemporaryDirectory(prefix="kata-inventory-") as scratch:
        workspace = Workspace(Path(scratch))
        workspace.install_tests(tests_root, hidden.resolve() if hidden else None, Path(curriculum.source))
        files = _test_files(workspace, _modules_with_tests(workspace, curriculum, None))
        # No submission runs here, so what was collected may be kept whether or not there is a sandbox.
        return _collected_against_reference(workspace, reference.resolve(), files, curriculum.grading,
                                            workspace.tests_fingerprint())


# ---------------------------------------------------------------- what to grade
def _modules_with_tests(workspace: Workspace, curriculum: Curriculum, selection: list[int] | None) -> list[Module]:
    chosen = [m for m in curriculum if (workspace.root / "spec" / m.spec_file).is_file()]
    if selection is not None:
        chosen = [m for m in chosen if m.number in selection]
        if not chosen:
            raise GradeError(f"none of the selected modules {selection} has tests yet")
    return chosen


def _test_files(workspace: Workspace, modules: list[Module]) -> list[str]:
    files = [f"spec/{m.spec_file}" for m in modules]
    for module in modules:
        files += sorted(p.relative_to(workspace.root).as_posix()
                        for p in (workspace.root / "hidden_tests" / "unit").glob(f"test_{module.label}_*.py"))
    for suite in SUITE_IDS:
        files += sorted(p.relative_to(workspace.root).as_posix()
                        for p in (workspace.root / "hidden_tests" / suite).glob("test_*.py"))
    return files


def _placeholders(inventory: list[TestEntry], files: list[str], curriculum: Curriculum) -> list[TestEntry]:
    """One stand-in entry per test file that collected nothing (only possible without a reference,
    when the student's own package breaks collection): the module still counts at its full weight
    and scores zero with the collection error, instead of vanishing from the report."""
    collected = {entry.path for entry in inventory}
    stand_ins = []
    for path in files:
        if path not in collected:
            module = curriculum.module_for_path(path) if path.startswith(("spec/", "hidden_tests/unit/")) else None
            stand_ins.append(TestEntry(path, (module.number,) if module else (), 1.0, path, 0))
    return stand_ins


def owner(entry: TestEntry, curriculum: Curriculum) -> Module | None:
    """The module whose unit suite a test belongs to (None for integration and milestone tests)."""
    if entry.suite in ("integration", "milestone"):
        return None
    return curriculum.module_for_path(entry.path)


# ---------------------------------------------------------------- probes
def _probe_all(workspace: Workspace, variants: dict, settings: GradingSettings, jobs: int) -> dict[str, dict]:
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = pool.map(lambda item: (item[0], _probe(workspace, item[0], *item[1], settings)), variants.items())
        return dict(results)


def _probe(workspace: Workspace, name: str, package: Path, names: list[str], settings: GradingSettings) -> dict:
    """Import each dotted name in the package variant; {name: ProbeResult}."""
    folder = workspace.run_folder(f"probe-{name}")
    command = [sys.executable, str(Path(__file__).with_name("probe.py")), f"fd:{CHANNEL_FD}",
               str(package), *names]
    outcome = sandbox.run(command, view=sandbox.View((package,), package), env=runner.subprocess_env(workspace),
                          limits=runner.limits(settings, settings.import_cpu_seconds), output_path=folder / "output.txt")
    (folder / "imports.jsonl").write_bytes(outcome.channel)  # a copy for people to read
    records, malformed = channel.probe_records(outcome.channel)
    if malformed:
        return {dotted: ProbeResult(False, f"{runner.TAMPERING_DETECTED}: the import probe's results were not "
                                           "the grader's") for dotted in names}
    found = {}
    for record in records:
        if record["name"] in names and record["name"] not in found:
            found[record["name"]] = ProbeResult(record["ok"], record.get("error", ""), record.get("path", ""),
                                                record.get("line", 0))
    for dotted in names:
        if dotted not in found:
            found[dotted] = ProbeResult(False, f"importing it did not finish: the process {outcome.describe()}")
    return found


PROBE_MESSAGE_LIMIT = 1000


def _import_problem(probe: dict, names: list[str], package: Path, curriculum: Curriculum, isolated: bool,
                    own_package: dict | None = None) -> str:
    """Why a package variant cannot run its tests, or "". In isolated mode the student's code ran
    beside the reference's prerequisites, so what it raised there is not shown (it could quote
    them): the message comes from the student's own package (`own_package`, the integrated probe)
    when the import failed there too, else only the place and the builtin exception's name."""
    for dotted in names:
        result = probe[dotted]
        if not result.ok and isolated and own_package is not None and not own_package[dotted].ok:
            result = own_package[dotted]
            isolated = False
        if not result.ok:
            module = curriculum.module_for_import(dotted)
            expected = package / module.relative_file if module else None
            if expected is not None and not expected.is_file():
                return f"{module.relative_file.as_posix()} is missing from the submission"
            where = f"{result.path}:{result.line}: " if result.path else ""
            message = result.message[:PROBE_MESSAGE_LIMIT]
            if isolated and not message.startswith(("importing it did not finish", runner.TAMPERING_DETECTED)):
                kind = message.split(":", 1)[0]
                shown = kind if kind in BUILTIN_EXCEPTIONS or kind == "SyntaxError" else "an error"
                message = f"{shown} (in isolated mode, beside the reference's other modules; see the integrated view)"
            return f"{where}could not import {dotted}: {message}"
    return ""


# ---------------------------------------------------------------- plans
def _plans(grading: Grading, inventory: list[TestEntry], variants: dict, probes: dict, isolated: bool,
           submission: Path) -> list[RunPlan]:
    curriculum = grading.curriculum
    selected = {m.number for m in grading.modules}
    student_all = frozenset(f"{curriculum.package}/{p.as_posix()}" for p in python_files(submission / curriculum.package))
    any_violation = _policy_block(grading.violations)
    plans: list[RunPlan] = []
    integrated_package, integrated_names = variants["integrated"]
    integrated_block = any_violation or _import_problem(probes["integrated"], integrated_names,
                                                        integrated_package, curriculum, isolated=False)
    for module in grading.modules:
        entries = tuple(e for e in inventory if (o := owner(e, curriculum)) is not None and o.number == module.number)
        if isolated:
            package, names = variants[f"isolated-{module.label}"]
            own = [v for v in grading.violations if v.module == module.number]
            blocked = _policy_block(own) or _import_problem(
                probes[f"isolated-{module.label}"], names, package, curriculum, isolated=True,
                own_package=probes["integrated"])
            plans.append(RunPlan(f"{module.runner_id}-isolated", "isolated", package,
                                 frozenset({f"{module.relative_file.as_posix()}"}), entries, blocked))
        plans.append(RunPlan(f"{module.runner_id}-integrated", "integrated", integrated_package, student_all,
                             entries, integrated_block))
    for suite, runner_id in (("integration", "integration"), ("milestone", "milestones")):
        entries = tuple(e for e in inventory if e.suite == suite and set(e.modules) <= selected)
        if entries:
            plans.append(RunPlan(f"{runner_id}-integrated", "integrated", integrated_package, student_all, entries,
                                 integrated_block))
    return plans


def _policy_block(violations: list) -> str:
    if not violations:
        return ""
    first = violations[0]
    more = f" (and {len(violations) - 1} more policy finding(s))" if len(violations) > 1 else ""
    return f"not run: {first.path}:{first.line}: {first.message}{more}"
