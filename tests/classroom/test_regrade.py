"""`kata regrade` and `kata gradebook merge`: rosters, resumability, shards, merged gradebooks."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from grading import REPO_ROOT
from grading.authoring import curriculum as curriculum_module
from grading.classroom import regrade
from grading.engine.grader import GradeError, GradeOptions

COURSE = curriculum_module.load()


@pytest.fixture(scope="module")
def roster(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("roster")
    for student, source in (("alice", "reference"), ("bob", "stubs")):
        shutil.copytree(REPO_ROOT / source / "tinytorch", root / student / "tinytorch",
                        ignore=shutil.ignore_patterns("__pycache__"))
    (root / "carol").mkdir()  # handed in nothing
    (root / ".git").mkdir()  # not a student
    return root


def base_options() -> GradeOptions:
    return GradeOptions(submission=Path("."), tests_root=REPO_ROOT, reference=REPO_ROOT / "reference",
                        hidden=REPO_ROOT / "hidden_tests", modules=[7])


def run(roster: Path, out: Path, shard=(1, 1), force=False) -> tuple[list[dict], str]:
    console = Console(file=io.StringIO(), width=200)
    rows = regrade.regrade(roster, out, base_options(), COURSE, jobs=2, shard=shard, force=force, console=console)
    return rows, console.file.getvalue()


@pytest.fixture(scope="module")
def first_run(roster, tmp_path_factory):
    out = tmp_path_factory.mktemp("regrade")
    rows, log = run(roster, out)
    return out, rows, log


def test_every_student_gets_a_row_and_a_report(first_run):
    out, rows, _ = first_run
    by_student = {row["student"]: row for row in rows}
    assert list(by_student) == ["alice", "bob", "carol"]
    assert (by_student["alice"]["total"], by_student["alice"]["m07"]) == (10, 10)
    assert by_student["alice"]["status"] == "complete"
    assert (by_student["bob"]["total"], by_student["bob"]["status"]) == (0, "incomplete")
    assert by_student["carol"]["status"] == "error" and "no tinytorch/" in by_student["carol"]["message"]
    for student in ("alice", "bob"):
        report = json.loads((out / by_student[student]["report"]).read_text())
        assert report["score"] == by_student[student]["total"]


def test_gradebook_csv_and_json_agree(first_run):
    out, rows, _ = first_run
    with (out / "gradebook.csv").open() as handle:
        table = list(csv.DictReader(handle))
    book = json.loads((out / "gradebook.json").read_text())
    assert book["columns"] == ["student", "total", "max", "m07", "status", "commit", "committed", "isolation", "mode",
                               "report", "message"]
    assert [r["student"] for r in table] == [r["student"] for r in book["rows"]] == ["alice", "bob", "carol"]
    assert table[0]["total (/10)"] == "10" and table[1]["m07 (/10)"] == "0" and table[2]["m07 (/10)"] == ""


def test_second_run_reuses_up_to_date_reports_and_regrades_a_changed_submission(roster, first_run):
    out, _, _ = first_run
    _, log = run(roster, out)
    assert log.count("up to date") == 2
    target = roster / "bob" / "tinytorch" / "core" / "optimizers.py"
    original = target.read_text()
    try:
        shutil.copyfile(REPO_ROOT / "reference" / "tinytorch" / "core" / "optimizers.py", target)
        rows, log = run(roster, out)
    finally:
        target.write_text(original)
    assert "bob: 10/10 complete (graded in" in log and "alice: 10/10 complete (up to date)" in log
    assert {r["student"]: r["total"] for r in rows}["bob"] == 10


def test_force_grades_everyone_again(roster, first_run):
    out, _, _ = first_run
    _, log = run(roster, out, force=True)
    assert "up to date" not in log and log.count("graded in") == 2


def test_shards_are_disjoint_and_cover_the_roster(roster):
    names = [[p.name for p in regrade.students(roster, (i, 3))] for i in (1, 2, 3)]
    assert sorted(sum(names, [])) == ["alice", "bob", "carol"]
    assert all(len(part) == 1 for part in names)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1-2", "a/b", "2"])
def test_bad_shard_specs_are_rejected(text):
    with pytest.raises(ValueError, match="--shard"):
        regrade.parse_shard(text)


def test_merge_joins_shards_and_refuses_duplicates(roster, tmp_path):
    parts = [tmp_path / "shard1", tmp_path / "shard2"]
    run(roster, parts[0], shard=(1, 2))
    run(roster, parts[1], shard=(2, 2))
    merged = regrade.merge(parts, tmp_path / "merged", COURSE)
    assert [r["student"] for r in merged] == ["alice", "bob", "carol"]
    assert all(Path(r["report"]).is_file() for r in merged if r["report"]), "report paths survive the merge"
    with pytest.raises(GradeError, match="more than one gradebook"):
        regrade.merge([parts[0], parts[0]], tmp_path / "again", COURSE)


def test_cli_regrade_and_merge(roster, tmp_path):
    out = tmp_path / "cli"
    completed = subprocess.run([sys.executable, "-m", "grading", "regrade", str(roster), "--out", str(out),
                                "--modules", "7", "--shard", "2/2"], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert "1 submission(s) in shard 2/2" in completed.stdout and "bob: 0/10" in completed.stdout
    merged = subprocess.run([sys.executable, "-m", "grading", "gradebook", "merge", str(out), "--out",
                             str(tmp_path / "m")], capture_output=True, text=True)
    assert merged.returncode == 0 and (tmp_path / "m" / "gradebook.csv").is_file()
    bad = subprocess.run([sys.executable, "-m", "grading", "regrade", str(tmp_path / "nope")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "is not a directory" in bad.stderr


def test_regrade_refuses_to_run_without_the_sandbox_unless_allowed(roster, tmp_path):
    env = {**__import__("os").environ, "KATA_SANDBOX": "none"}
    command = [sys.executable, "-m", "grading", "regrade", str(roster), "--modules", "7", "--jobs", "2",
               "--out", str(tmp_path / "out")]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO_ROOT)
    assert refused.returncode == 2 and refused.stderr.startswith("kata regrade: refusing to regrade without a sandbox")
    assert "--allow-unsandboxed" in refused.stderr and not (tmp_path / "out" / "gradebook.csv").exists()
    allowed = subprocess.run(command + ["--allow-unsandboxed"], env=env, capture_output=True, text=True, cwd=REPO_ROOT)
    assert allowed.returncode == 0, allowed.stderr
    rows = {row["student"]: row for row in json.loads((tmp_path / "out" / "gradebook.json").read_text())["rows"]}
    assert rows["alice"]["isolation"] == rows["bob"]["isolation"] == "none"
    assert "graded WITHOUT a sandbox" in rows["alice"]["message"]
