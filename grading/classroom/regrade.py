"""`kata regrade` and `kata gradebook merge`: the authoritative grade of a whole roster.

A roster is a directory with one submission directory per student (named after the student),
each holding `tinytorch/`. Every student gets a report in `OUT/reports/` (the same report
`kata grade` writes: `<student>.json` for a full grade, `<student>.m06.json` or
`<student>.m01+m02.json` for a `--modules` selection, so the report behind a column kept from an
earlier run is never overwritten) and a row in `OUT/gradebook.csv` and `OUT/gradebook.json`.

  * parallel: `--jobs` students at a time, each graded with one test process at a time;
  * resumable: a student whose report already matches the submission's fingerprint, the tests'
    fingerprint and the module selection is not graded again (unless `--force`);
  * shardable: `--shard i/n` takes every n-th student starting at the i-th (sorted by name), so a
    GitHub Actions matrix of n runners grades disjoint parts; `kata gradebook merge` joins them.
A student directory that cannot be graded at all (no tinytorch/) gets a row with status `error`
and the reason; it never stops the roster.

Merge rule. Writing a gradebook into a directory that already holds one merges into it, for
`kata regrade --out DIR` and `kata gradebook merge --out DIR` alike:
  * a run re-grades a set of columns: with `--modules`, the selected modules' columns plus
    `integration` and `milestones` (graded in every run); without `--modules`, every column (the
    whole row is replaced);
  * for each student in the run, those columns are replaced by the run's values (a column the run
    could not fill, e.g. because the submission could not be graded, becomes empty); the student's
    other columns keep their values;
  * students not in the run keep their rows untouched;
  * `total`, `max` and `status` are recomputed from the row's per-module columns; `commit`,
    `committed`, `isolation`, `mode`, `report` and `message` describe the latest run, and each
    column's own commit and report stay in gradebook.json (`rows[].modules`).
To start afresh, grade into a new `--out` or delete its gradebook.json.

Row status:
  * `complete`: every graded module at full marks (each module's report status `pass`);
  * `incomplete`: graded, but some module below full marks (report status `fail`): a student
    who is on schedule and has not reached a module yet is not labelled a failure;
  * `error`: the submission could not be graded (no tinytorch/, no commit before the deadline),
    or a module could not be (report status `error`: import failure, policy violation, crash).

gradebook.csv layout: one header line, one row per student, sorted by name.
  student, total (/T), max, m01 (/P1), ..., integration (/Pi), milestones (/Pm),
  status, commit, committed, isolation, mode, report, message
Each score column's header states its maximum ("m06 (/10)"); `total (/T)` adds up the columns'
maxima, while `max` is what the student could earn in the columns graded for them. Scores are
exact multiples of 1/score_quantum, written the way the report's views write them
(grading/reports/render.py). A column a student was not graded in is empty. `commit` and `committed`
are the graded commit's SHA and commit time (ISO 8601), empty when the student's directory is not
a git repository (its own `.git`, not an enclosing repository's). `isolation` is `bubblewrap` or
`none`; `mode` is how the grade was made (`direct` today). gradebook.json holds the same rows as
numbers, `columns` (the CSV's names without the maxima), `max` (each score column's maximum) and
`replaces` (the columns the latest run re-graded; null for every column).

Deadline. With `--deadline`, each student's directory must be a git repository; the tree of the
last commit at or before the deadline is read straight from git's objects (`git ls-tree` and
`git cat-file`: no checkout, no hooks, no filters, the student's repository is never modified)
into a temporary directory and graded there. Without `--deadline`, the working directory is graded
as it stands and `commit` is its HEAD (uncommitted changes are graded too). Commit timestamps are set by the student's own machine (the
time GitHub received a push is not in git), so a student can backdate a commit: the instructor's
collection must run at the deadline (a scheduled workflow that clones or fetches every repository
then); the deadline filter is a second line of defence.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from grading.authoring.curriculum import SUITE_IDS, Curriculum
from grading.classroom import roster
from grading.classroom.commits import Source, submission_source
from grading.engine.grader import GradeError, GradeOptions, grade
from grading.engine.policy import Policy
from grading.engine.workspace import fingerprint, tests_fingerprint
from grading.reports import render, report as report_module
from grading.sandbox.confine import Isolation, isolation

GRADEBOOK_FORMAT = "tinytorch-kata/gradebook"
GRADEBOOK_VERSION = 2  # 2: per-module detail in every row, so a later run can merge into it
LEADING_COLUMNS = ("student", "total", "max")
TRAILING_COLUMNS = ("status", "commit", "committed", "isolation", "mode", "report", "message")


# ---------------------------------------------------------------- roster and options
def parse_shard(text: str) -> tuple[int, int]:
    """"2/5" -> (2, 5); ValueError with the expected form otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard expects i/n with whole numbers, like 2/5; got {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard i/n needs 1 <= i <= n; got {text!r}")
    return index, count


def parse_deadline(text: str) -> dt.datetime:
    """An ISO 8601 moment with a UTC offset; a date alone means the end of that day, UTC."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--deadline expects ISO 8601 like 2026-12-01T23:59:00+00:00, or a date like "
                         f"2026-12-01; got {text!r}") from None
    if moment.tzinfo is None:
        # A deadline without an offset would mean a different moment on every grading machine.
        raise ValueError(f"--deadline needs a UTC offset, like 2026-12-01T23:59:00+00:00 or ...Z; got {text!r}")
    return moment


def students(roster: Path, shard: tuple[int, int] = (1, 1)) -> list[Path]:
    """The roster's submission directories, sorted by name, restricted to one shard."""
    if not roster.is_dir():
        raise GradeError(f"roster {roster} is not a directory")
    every = sorted(p for p in roster.iterdir() if p.is_dir() and not p.name.startswith("."))
    index, count = shard
    return every[index - 1 :: count]


def require_isolation(isolation: Isolation, allow_unsandboxed: bool) -> None:
    """The authoritative grade runs students' code only inside the sandbox, unless told otherwise."""
    if not isolation.sandboxed and not allow_unsandboxed:
        raise GradeError(f"refusing to regrade without a sandbox: {isolation.reason}. Fix that, or pass "
                         "--allow-unsandboxed to run every student's code with your own rights")


def report_name(student: str, modules: list[int] | None, curriculum: Curriculum) -> str:
    """`alice.json` for a full grade, `alice.m06.json` for a selection (see the module docstring)."""
    if modules is None:
        return f"{student}.json"
    return f"{student}.{'+'.join(curriculum.module(n).runner_id for n in modules)}.json"


def replaced_columns(modules: list[int] | None, curriculum: Curriculum) -> frozenset[str] | None:
    """The columns a run re-grades: the selection's plus the suites; None (every column) without one."""
    if modules is None:
        return None
    return frozenset(curriculum.module(n).runner_id for n in modules) | frozenset(SUITE_IDS)  # the suites are graded in every run


# ---------------------------------------------------------------- rows
def row_status(graded: bool, modules: dict[str, dict]) -> str:
    """complete / incomplete / error from the modules' report statuses (pass / fail / error)."""
    statuses = [detail["status"] for detail in modules.values()]
    if not graded or "error" in statuses:
        return "error"
    return "complete" if statuses and all(s == "pass" for s in statuses) else "incomplete"


def finish_row(row: dict) -> dict:
    """The row's score columns, total, max and status, recomputed from its per-module detail."""
    modules = row["modules"]
    stale = [key for key in row if key not in (*LEADING_COLUMNS, *TRAILING_COLUMNS, "graded", "modules")]
    finished = {key: value for key, value in row.items() if key not in stale}
    finished.update({module_id: detail["score"] for module_id, detail in modules.items()})
    finished["total"] = sum(detail["score"] for detail in modules.values())
    finished["max"] = sum(detail["max"] for detail in modules.values())
    finished["status"] = row_status(row["graded"], modules)
    return finished


def _commit_fields(source: Source | None) -> dict:
    commit = source.commit if source else None
    return {"commit": commit.sha if commit else "", "committed": commit.committed if commit else ""}


def row_from_report(student: str, report: dict, report_path: str, source: Source | None = None) -> dict:
    commit = _commit_fields(source)["commit"]
    modules = {runner["id"]: {"score": runner["score"], "max": runner["max_score"], "status": runner["status"],
                              "commit": commit, "report": report_path} for runner in report["modules"]}
    notes = [*report["notices"], *([source.note] if source and source.note else [])]
    return finish_row({"student": student, **_commit_fields(source), "isolation": report["isolation"]["kind"],
                       "mode": report.get("mode", "direct"), "report": report_path, "message": "; ".join(notes),
                       "graded": True, "modules": modules})


def error_row(student: str, message: str, source: Source | None = None) -> dict:
    return finish_row({"student": student, **_commit_fields(source), "isolation": "", "mode": "", "report": "",
                       "message": message, "graded": False, "modules": {}})


def merge_row(old: dict, new: dict, replaced: frozenset[str] | None) -> dict:
    """The new row, keeping the old row's columns the new run did not re-grade (the merge rule)."""
    if replaced is None:
        return new
    kept = {module_id: detail for module_id, detail in old["modules"].items() if module_id not in replaced}
    return finish_row({**new, "modules": {**kept, **new["modules"]}})


def merge_rows(old_rows: list[dict], new_rows: list[dict], replaced: frozenset[str] | None) -> list[dict]:
    """Every student of both, sorted by name; a student in `new_rows` merged by `merge_row`."""
    merged = {row["student"]: row for row in old_rows}
    for row in new_rows:
        old = merged.get(row["student"])
        merged[row["student"]] = row if old is None else merge_row(old, row, replaced)
    return [merged[name] for name in sorted(merged)]


# ---------------------------------------------------------------- grading a roster
@dataclass(frozen=True)
class RosterRun:
    """One `kata regrade`: what every student is graded with."""

    out: Path
    base: GradeOptions
    curriculum: Curriculum
    tests: str  # the tests' fingerprint
    force: bool
    deadline: dt.datetime | None

    def grade_student(self, student_dir: Path) -> tuple[dict, str]:
        """(row, note for the progress line); never raises: one submission must never stop the roster."""
        not_collected = roster.collection_error(student_dir)
        if not_collected is not None:  # `kata roster collect` could not clone this student's repository
            return error_row(student_dir.name, not_collected), "not collected"
        try:
            with submission_source(student_dir, self.deadline, Policy.from_curriculum(self.curriculum)) as source:
                return self._grade_source(student_dir, source)
        except GradeError as error:
            return error_row(student_dir.name, str(error)), "not graded"
        except Exception as error:  # noqa: BLE001 -- one submission must never stop the roster
            return error_row(student_dir.name, _grader_failure(error)), "grader error"

    def _grade_source(self, student_dir: Path, source: Source) -> tuple[dict, str]:
        report_path = self.out / "reports" / report_name(student_dir.name, self.base.modules, self.curriculum)
        relative = report_path.relative_to(self.out).as_posix()
        started = time.monotonic()
        existing = None if self.force else _up_to_date(report_path, source.path, self.curriculum.package,
                                                       self.base.modules, self.tests)
        if existing is not None:
            return row_from_report(student_dir.name, existing, relative, source), "up to date"
        try:
            grading = grade(replace(self.base, submission=source.path, jobs=1), self.curriculum)
            report = report_module.build(grading)
            if source.path != student_dir:
                # The export is deleted after grading: the report names the student and the commit instead.
                report["submission"]["path"] = f"{student_dir}@{source.commit.sha}"
            report_module.write(report, report_path)
        except GradeError as error:
            return error_row(student_dir.name, str(error), source), "not graded"
        except Exception as error:  # noqa: BLE001 -- one submission must never stop the roster
            return error_row(student_dir.name, _grader_failure(error), source), "grader error"
        note = f"graded in {time.monotonic() - started:.0f}s"
        return row_from_report(student_dir.name, report, relative, source), note


def _grader_failure(error: Exception) -> str:
    return f"the grader failed on this submission ({type(error).__name__}: {str(error)[:300]}); please report it"


def _up_to_date(report_path: Path, submission: Path, package: str, modules: list[int] | None,
                tests: str) -> dict | None:
    """The existing report when it was made from this exact submission, tests and selection."""
    try:
        existing = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    grader = existing.get("grader", {})
    same_code = existing.get("submission", {}).get("fingerprint") == fingerprint(submission / package)
    same_tests = grader.get("tests_fingerprint") == tests
    same_modules = modules is None or grader.get("modules") == modules
    # A grade made without the sandbox is made again once the sandbox works.
    same_isolation = existing.get("isolation", {}).get("kind") == isolation().kind
    # A suite the machine was too busy to grade was not graded: it is graded again.
    complete = not any(runner.get("overloaded") for runner in existing.get("modules", []))
    return existing if same_code and same_tests and same_modules and same_isolation and complete else None


def regrade(roster: Path, out: Path, base: GradeOptions, curriculum: Curriculum, jobs: int,
            shard: tuple[int, int], force: bool, console: Console, deadline: dt.datetime | None = None) -> list[dict]:
    """Grade the shard's students and merge their rows into OUT's gradebook; returns their merged rows."""
    chosen = students(roster, shard)
    previous = existing_rows(out)  # read first: an unreadable gradebook stops us before hours of grading
    (out / "reports").mkdir(parents=True, exist_ok=True)
    tests = tests_fingerprint(base.tests_root, Path(curriculum.source), base.hidden)
    run = RosterRun(out, base, curriculum, tests, force, deadline)
    rows: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run.grade_student, student_dir): student_dir for student_dir in chosen}
        for done, future in enumerate(as_completed(futures), start=1):
            row, note = future.result()
            rows[futures[future].name] = row
            _progress(console, row, note, done, len(chosen))
    replaced = replaced_columns(base.modules, curriculum)
    merged = merge_rows(previous, [rows[s.name] for s in chosen], replaced)
    write_gradebook(merged, out, curriculum, replaced)
    return [row for row in merged if row["student"] in rows]


def _progress(console: Console, row: dict, note: str, done: int, total: int) -> None:
    score = f"{render.points(row['total'])}/{render.points(row['max'])}" if row["max"] else "-"
    console.print(f"[{done}/{total}] {row['student']}: {score} {row['status']} ({note})", highlight=False)


# ---------------------------------------------------------------- gradebook files
def score_columns(rows: list[dict], curriculum: Curriculum) -> list[str]:
    """The module and suite columns any row has, in curriculum order (unknown ids, from an older
    manifest, last)."""
    present = {module_id for row in rows for module_id in row["modules"]}
    known = curriculum.runner_ids()
    return [c for c in known if c in present] + sorted(present - set(known))


def column_maxima(rows: list[dict], scored: list[str]) -> dict[str, float]:
    """Each score column's maximum (the largest, should runs with other weights have been merged)
    and the total's: the sum of the columns' maxima."""
    maxima = {column: max(row["modules"][column]["max"] for row in rows if column in row["modules"])
              for column in scored}
    return {"total": sum(maxima.values()), **maxima}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula


def _cell(value) -> str:
    # Numbers are scores: written the report's own way, so the CSV and the report agree to the digit.
    if isinstance(value, (int, float)):
        return render.points(value)
    text = str(value)
    # Text (a student's folder name, an error message) that would start a formula is quoted.
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def gradebook_csv(rows: list[dict], fields: list[str], maxima: dict[str, float]) -> str:
    headers = [f"{field} (/{render.points(maxima[field])})" if field in maxima else field for field in fields]
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180 line ends, as spreadsheets expect
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_cell(row.get(field, "")) for field in fields])
    return buffer.getvalue()


def _ordered(row: dict, fields: list[str]) -> dict:
    """The row with its keys in column order, then the detail a later merge needs."""
    return {**{field: row[field] for field in fields if field in row}, "graded": row["graded"],
            "modules": row["modules"]}


def write_gradebook(rows: list[dict], out: Path, curriculum: Curriculum, replaces: frozenset[str] | None) -> None:
    scored = score_columns(rows, curriculum)
    fields = [*LEADING_COLUMNS, *scored, *TRAILING_COLUMNS]
    maxima = column_maxima(rows, scored)
    book = {"format": GRADEBOOK_FORMAT, "version": GRADEBOOK_VERSION, "columns": fields, "max": maxima,
            "replaces": sorted(replaces) if replaces is not None else None,
            "rows": [_ordered(row, fields) for row in rows]}
    out.mkdir(parents=True, exist_ok=True)
    _write_atomically(out / "gradebook.csv", gradebook_csv(rows, fields, maxima))
    _write_atomically(out / "gradebook.json", json.dumps(book, indent=2) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    """A reader (a spreadsheet, a CI step) never sees half a gradebook."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8", newline="")  # the CSV's own line ends, untranslated
    partial.replace(path)


def read_gradebook(path: Path) -> dict:
    try:
        book = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GradeError(f"cannot read {path}: {error}") from None
    if not isinstance(book, dict):
        raise GradeError(f"{path}: expected a JSON object (a gradebook), found {type(book).__name__}")
    if (book.get("format"), book.get("version")) != (GRADEBOOK_FORMAT, GRADEBOOK_VERSION):
        raise GradeError(f"{path}: expected a {GRADEBOOK_FORMAT} version {GRADEBOOK_VERSION} gradebook (with "
                         f"per-module detail to merge with), found format {book.get('format')!r} version "
                         f"{book.get('version')!r}; grade into another --out, or move it away to start afresh")
    return book


def existing_rows(out: Path) -> list[dict]:
    """The rows of the gradebook already in OUT (none when there is none yet)."""
    path = out / "gradebook.json"
    return read_gradebook(path)["rows"] if path.exists() else []


def _rebased(row: dict, folder: Path) -> dict:
    """Report paths made absolute, so they stay valid from the merged gradebook."""
    def absolute(path: str) -> str:
        return (folder / path).resolve().as_posix() if path else path

    modules = {module_id: {**detail, "report": absolute(detail.get("report", ""))}
               for module_id, detail in row["modules"].items()}
    return {**row, "report": absolute(row.get("report", "")), "modules": modules}


def merge(folders: list[Path], out: Path, curriculum: Curriculum) -> list[dict]:
    """Join the gradebooks of several shards into OUT's (by the merge rule); a student graded in two
    shards is an error."""
    books = [(folder, read_gradebook(folder / "gradebook.json")) for folder in folders]
    seen: dict[str, Path] = {}
    for folder, book in books:
        for row in book["rows"]:
            if row["student"] in seen:
                raise GradeError(f"student {row['student']!r} appears in more than one gradebook "
                                 f"({seen[row['student']]} and {folder}); expected each student in exactly one shard")
            seen[row["student"]] = folder
    rows = existing_rows(out)
    replaced_all: set[str] | None = set()
    for folder, book in books:
        replaces = frozenset(book["replaces"]) if book["replaces"] is not None else None
        rows = merge_rows(rows, [_rebased(row, folder) for row in book["rows"]], replaces)
        replaced_all = None if replaces is None or replaced_all is None else replaced_all | replaces
    write_gradebook(rows, out, curriculum, frozenset(replaced_all) if replaced_all is not None else None)
    return rows
