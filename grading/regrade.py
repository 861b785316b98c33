"""`kata regrade` and `kata gradebook merge`: the authoritative grade of a whole roster.

A roster is a directory with one submission directory per student (named after the student),
each holding `tinytorch/`. Every student gets `OUT/reports/<student>.json` (the same report
`kata grade` writes) and a row in `OUT/gradebook.csv` and `OUT/gradebook.json`.

  * parallel: `--jobs` students at a time, each graded with one test process at a time;
  * resumable: a student whose report already matches the submission's fingerprint, the tests'
    fingerprint and the module selection is not graded again (unless `--force`);
  * shardable: `--shard i/n` takes every n-th student starting at the i-th (sorted by name), so a
    GitHub Actions matrix of n runners grades disjoint parts; `kata gradebook merge` joins them.
A student directory that cannot be graded at all (no tinytorch/) gets a row with status `error`
and the reason; it never stops the roster.
"""
from __future__ import annotations

import csv
import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from grading import report as report_module
from grading.sandbox import Isolation, isolation
from grading.curriculum import Curriculum
from grading.grader import GradeError, GradeOptions, grade
from grading.workspace import fingerprint, tests_fingerprint

GRADEBOOK_FIELDS = ("student", "total", "max", "status", "report", "message")


def parse_shard(text: str) -> tuple[int, int]:
    """"2/5" -> (2, 5); ValueError with the expected form otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard expects i/n with whole numbers, like 2/5; got {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard i/n needs 1 <= i <= n; got {text!r}")
    return index, count


def students(roster: Path, shard: tuple[int, int] = (1, 1)) -> list[Path]:
    """The roster's submission directories, sorted by name, restricted to one shard."""
    if not roster.is_dir():
        raise GradeError(f"roster {roster} is not a directory")
    every = sorted(p for p in roster.iterdir() if p.is_dir() and not p.name.startswith("."))
    index, count = shard
    return every[index - 1 :: count]


def _up_to_date(report_path: Path, student_dir: Path, package: str, modules: list[int] | None,
                tests: str) -> dict | None:
    """The existing report when it was made from this exact submission, tests and selection."""
    try:
        existing = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    grader = existing.get("grader", {})
    same_code = existing.get("submission", {}).get("fingerprint") == fingerprint(student_dir / package)
    same_tests = grader.get("tests_fingerprint") == tests
    same_modules = modules is None or grader.get("modules") == modules
    # A grade made without the sandbox is made again once the sandbox works.
    same_isolation = existing.get("isolation", {}).get("kind") == isolation().kind
    return existing if same_code and same_tests and same_modules and same_isolation else None


def require_isolation(isolation: Isolation, allow_unsandboxed: bool) -> None:
    """The authoritative grade runs students' code only inside the sandbox, unless told otherwise."""
    if not isolation.sandboxed and not allow_unsandboxed:
        raise GradeError(f"refusing to regrade without a sandbox: {isolation.reason}. Fix that, or pass "
                         "--allow-unsandboxed to run every student's code with your own rights")


def row_from_report(student: str, report: dict, report_path: str) -> dict:
    row = {"student": student, "total": report["score"], "max": report["max_score"], "status": report["status"],
           "isolation": report["isolation"]["kind"], "report": report_path, "message": "; ".join(report["notices"])}
    for runner in report["modules"]:
        row[runner["id"]] = runner["score"]
    return row


def error_row(student: str, message: str) -> dict:
    return {"student": student, "total": 0, "max": 0, "status": "error", "isolation": "", "report": "",
            "message": message}


def regrade(roster: Path, out: Path, base: GradeOptions, curriculum: Curriculum, jobs: int,
            shard: tuple[int, int], force: bool, console: Console) -> list[dict]:
    chosen = students(roster, shard)
    reports_dir = out / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    current_tests = tests_fingerprint(base.tests_root / "conftest.py", Path(curriculum.source),
                                      base.tests_root / "spec", base.hidden)

    def one(student_dir: Path) -> tuple[dict, str]:
        report_path = reports_dir / f"{student_dir.name}.json"
        relative = report_path.relative_to(out).as_posix()
        started = time.monotonic()
        existing = None if force else _up_to_date(report_path, student_dir, curriculum.package, base.modules,
                                                  current_tests)
        if existing is not None:
            return row_from_report(student_dir.name, existing, relative), "up to date"
        try:
            grading = grade(replace(base, submission=student_dir, jobs=1), curriculum)
        except GradeError as error:
            return error_row(student_dir.name, str(error)), "not graded"
        except Exception as error:  # noqa: BLE001 -- one submission must never stop the roster
            return error_row(student_dir.name, f"the grader failed on this submission ({type(error).__name__}: "
                                               f"{str(error)[:300]}); please report it"), "grader error"
        report = report_module.build(grading)
        report_module.write(report, report_path)
        return row_from_report(student_dir.name, report, relative), f"graded in {time.monotonic() - started:.0f}s"

    rows: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(one, student_dir): student_dir for student_dir in chosen}
        for done, future in enumerate(as_completed(futures), start=1):
            row, note = future.result()
            rows[futures[future].name] = row
            _progress(console, row, note, done, len(chosen))
    ordered = [rows[s.name] for s in chosen]
    write_gradebook(ordered, out, curriculum)
    return ordered


def _progress(console: Console, row: dict, note: str, done: int, total: int) -> None:
    score = f"{row['total']:g}/{row['max']:g}" if row["max"] else "-"
    console.print(f"[{done}/{total}] {row['student']}: {score} {row['status']} ({note})", highlight=False)


def columns(rows: list[dict], curriculum: Curriculum) -> list[str]:
    runner_ids = [m.runner_id for m in curriculum] + ["integration", "milestones"]
    present = [rid for rid in runner_ids if any(rid in row for row in rows)]
    return ["student", "total", "max", *present, "status", "isolation", "report", "message"]


def write_gradebook(rows: list[dict], out: Path, curriculum: Curriculum) -> None:
    fields = columns(rows, curriculum)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "gradebook.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()})
    (out / "gradebook.json").write_text(json.dumps({"columns": fields, "rows": rows}, indent=2) + "\n",
                                        encoding="utf-8")


def merge(folders: list[Path], out: Path, curriculum: Curriculum) -> list[dict]:
    """Join the gradebooks of several shards; a student graded in two shards is an error."""
    rows: dict[str, dict] = {}
    for folder in folders:
        path = folder / "gradebook.json"
        try:
            book = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise GradeError(f"cannot read {path}: {error}") from None
        for row in book["rows"]:
            if row["student"] in rows:
                raise GradeError(f"student {row['student']!r} appears in more than one gradebook ({path})")
            # Report paths stay valid relative to the merged gradebook.
            if row.get("report"):
                row = {**row, "report": (folder / row["report"]).resolve().as_posix()}
            rows[row["student"]] = row
    ordered = [rows[name] for name in sorted(rows)]
    write_gradebook(ordered, out, curriculum)
    return ordered
