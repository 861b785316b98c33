"""The gradebook of `kata regrade`: merging into an existing one, commits, statuses, maxima, deadlines."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from grading import REPO_ROOT
from grading.authoring import curriculum as curriculum_module
from grading.classroom import commits, regrade
from grading.engine.grader import GradeError, GradeOptions

COURSE = curriculum_module.load()
# Modules 03 and 04: any two would do, and these two grade in about a second each.
M03, M04 = COURSE.module(3), COURSE.module(4)
DEADLINE = "2026-11-22"  # a date alone: the end of that day, UTC
DEADLINE_SHOWN = "2026-11-22T23:59:59+00:00"


# ---------------------------------------------------------------- building rosters
def copy_package(source: str, student_dir: Path) -> Path:
    """A submission made of the reference's or the stubs' tinytorch/."""
    shutil.rmtree(student_dir / "tinytorch", ignore_errors=True)
    shutil.copytree(REPO_ROOT / source / "tinytorch", student_dir / "tinytorch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return student_dir


def git(directory: Path, *arguments: str, when: str | None = None) -> str:
    """Run git in a test repository; `when` sets both the author and the committer date."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    if when:
        env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    command = ["git", "-c", "user.name=Kata Test", "-c", "user.email=kata@example.com", "-c", "commit.gpgsign=false",
               "-c", "init.defaultBranch=main", "-C", str(directory), *arguments]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()


def commit_all(directory: Path, when: str) -> str:
    """Commit the whole working tree at the given date; returns the new commit's SHA."""
    if not (directory / ".git").exists():
        git(directory, "init", "-q")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", f"work of {when}", when=when)
    return git(directory, "rev-parse", "HEAD")


def options(modules: list[int]) -> GradeOptions:
    return GradeOptions(submission=Path("."), tests_root=REPO_ROOT, reference=REPO_ROOT / "reference",
                        hidden=REPO_ROOT / "hidden_tests", modules=modules)


def run(roster: Path, out: Path, modules: list[int], deadline: str | None = None) -> dict[str, dict]:
    """Regrade the roster; the rows of this run by student."""
    console = Console(file=io.StringIO(), width=200)
    rows = regrade.regrade(roster, out, options(modules), COURSE, jobs=2, shard=(1, 1), force=False, console=console,
                           deadline=regrade.parse_deadline(deadline) if deadline else None)
    return {row["student"]: row for row in rows}


def book_rows(out: Path) -> dict[str, dict]:
    return {row["student"]: row for row in json.loads((out / "gradebook.json").read_text())["rows"]}


def csv_table(out: Path) -> tuple[list[str], list[dict]]:
    with (out / "gradebook.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


# ---------------------------------------------------------------- merging, commits, statuses, maxima
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A first run of modules 3-4, then a second run of module 4 alone on a roster with ada only,
    after ada replaced her module 4 with the stub."""
    roster = tmp_path_factory.mktemp("roster")
    ada = copy_package("reference", roster / "ada")
    ada_sha = commit_all(ada, "2026-11-20T10:00:00+00:00")
    copy_package("stubs", roster / "bo")  # not a git repository
    (roster / "cy").mkdir()  # handed in nothing
    out = tmp_path_factory.mktemp("gradebook")
    first = run(roster, out, [3, 4])
    first_book = json.loads((out / "gradebook.json").read_text())

    later = tmp_path_factory.mktemp("later")
    shutil.copytree(ada, later / "ada")
    shutil.copyfile(REPO_ROOT / "stubs" / M04.relative_file, later / "ada" / M04.relative_file)
    ada_later_sha = commit_all(later / "ada", "2026-11-21T10:00:00+00:00")
    second = run(later, out, [4])
    return {"out": out, "first": first, "first_book": first_book, "second": second, "ada_sha": ada_sha,
            "ada_later_sha": ada_later_sha}


def test_rows_carry_status_commit_isolation_and_mode(graded):
    ada, bo, cy = (graded["first"][name] for name in ("ada", "bo", "cy"))
    assert (ada["status"], ada["m03"], ada["m04"]) == ("complete", M03.points, M04.points)
    assert (ada["commit"], ada["committed"]) == (graded["ada_sha"], "2026-11-20T10:00:00+00:00")
    assert bo["status"] == "incomplete" and bo["m03"] < M03.points, "an unfinished submission is not a failure"
    assert (bo["commit"], bo["committed"]) == ("", ""), "a directory without .git has no commit, and no error"
    assert cy["status"] == "error" and "no tinytorch/" in cy["message"] and cy["max"] == 0
    for row in (ada, bo):
        assert (row["isolation"], row["mode"]) == ("bubblewrap", "judged")


def test_csv_header_states_each_columns_maximum(graded):
    book = graded["first_book"]
    assert book["max"] == {"total": M03.points + M04.points, "m03": M03.points, "m04": M04.points}
    assert book["columns"][:5] == ["student", "total", "max", "m03", "m04"]
    header = csv_table(graded["out"])[0]
    assert header[:5] == ["student", f"total (/{M03.points + M04.points})", "max", f"m03 (/{M03.points})",
                          f"m04 (/{M04.points})"]
    assert header[5:] == ["status", "commit", "committed", "isolation", "mode", "report", "message"]


def test_a_module_selection_merges_into_the_existing_gradebook(graded):
    rows = book_rows(graded["out"])
    ada = rows["ada"]
    assert ada["m03"] == M03.points, "the column this run did not grade keeps its value"
    assert ada["m04"] < M04.points, "the re-graded column is replaced"
    assert (ada["total"], ada["max"]) == (ada["m03"] + ada["m04"], M03.points + M04.points)
    assert ada["status"] == "incomplete" and ada["commit"] == graded["ada_later_sha"]
    assert ada["modules"]["m03"]["commit"] == graded["ada_sha"], "each column keeps the commit it was graded at"
    first_books_rows = {row["student"]: row for row in graded["first_book"]["rows"]}
    assert rows["bo"] == first_books_rows["bo"] and rows["cy"] == first_books_rows["cy"], \
        "students not in the run keep their rows"
    assert list(rows) == ["ada", "bo", "cy"]


def test_every_kept_column_still_has_its_report(graded):
    out = graded["out"]
    ada = book_rows(out)["ada"]
    assert ada["modules"]["m03"]["report"] == "reports/ada.m03+m04.json"
    assert ada["modules"]["m04"]["report"] == ada["report"] == "reports/ada.m04.json"
    for detail in ada["modules"].values():
        report = json.loads((out / detail["report"]).read_text())
        assert any(module["id"] in ada["modules"] for module in report["modules"])


def test_csv_and_json_agree_after_the_merge(graded):
    out = graded["out"]
    header, table = csv_table(out)
    rows = book_rows(out)
    for line in table:
        row = rows[line["student"]]
        assert float(line[header[1]]) == row["total"] and line["status"] == row["status"]
        if "m03" in row:
            assert float(line[header[3]]) == row["m03"]
        else:
            assert line[header[3]] == ""


# ---------------------------------------------------------------- the merge rule on its own
def detail(score: float, maximum: float, status: str) -> dict:
    return {"score": score, "max": maximum, "status": status, "commit": "", "report": ""}


def row(student: str, graded: bool = True, **modules: dict) -> dict:
    return regrade.finish_row({"student": student, "commit": "", "committed": "", "isolation": "bubblewrap",
                               "mode": "direct", "report": "", "message": "", "graded": graded, "modules": modules})


def test_an_error_row_empties_the_columns_it_regraded_and_keeps_the_others():
    old = row("ada", m01=detail(10, 10, "pass"), m02=detail(7.5625, 10, "fail"))
    new = regrade.error_row("ada", "no commit at or before 2026-11-22T23:59:59+00:00")
    merged, = regrade.merge_rows([old], [new], regrade.replaced_columns([1], COURSE))
    assert "m01" not in merged and merged["m02"] == 7.5625 and (merged["total"], merged["max"]) == (7.5625, 10)
    assert merged["status"] == "error" and merged["message"].startswith("no commit at or before")


def test_a_full_run_replaces_the_whole_row():
    old = row("ada", m01=detail(10, 10, "pass"), m02=detail(3, 10, "fail"))
    new = row("ada", m01=detail(10, 10, "pass"))
    merged, = regrade.merge_rows([old], [new], regrade.replaced_columns(None, COURSE))
    assert list(merged["modules"]) == ["m01"] and merged["status"] == "complete"


def test_scores_are_written_exactly_as_the_report_writes_them(tmp_path):
    rows = [row("ada", m01=detail(7.5625, 10, "fail"), m02=detail(0.0625, 2.5, "fail"))]
    regrade.write_gradebook(rows, tmp_path, COURSE, None)
    header, table = csv_table(tmp_path)
    assert header[:5] == ["student", "total (/12.5)", "max", "m01 (/10)", "m02 (/2.5)"]
    assert (table[0]["total (/12.5)"], table[0]["m01 (/10)"], table[0]["m02 (/2.5)"]) == ("7.625", "7.5625", "0.0625")



def test_large_totals_keep_every_sixteenth_and_text_cannot_become_a_formula(tmp_path):
    rows = [row("=cmd", m01=detail(149.9375, 150, "fail"))]
    rows[0]["message"] = "@SUM(A1:A9)"
    regrade.write_gradebook(rows, tmp_path, COURSE, None)
    header, table = csv_table(tmp_path)
    assert table[0]["m01 (/150)"] == "149.9375" and table[0]["total (/150)"] == "149.9375"
    assert (table[0]["student"], table[0]["message"]) == ("'=cmd", "'@SUM(A1:A9)")


def test_gradebook_merge_folds_shards_into_an_existing_gradebook(tmp_path):
    whole, shard = tmp_path / "whole", tmp_path / "shard"
    regrade.write_gradebook([row("ada", m01=detail(10, 10, "pass"), m02=detail(1, 10, "fail")),
                             row("bo", m01=detail(2, 10, "fail"))], whole, COURSE, None)
    regrade.write_gradebook([row("ada", m02=detail(10, 10, "pass"))], shard, COURSE,
                            regrade.replaced_columns([2], COURSE))
    merged = {r["student"]: r for r in regrade.merge([shard], whole, COURSE)}
    assert (merged["ada"]["m01"], merged["ada"]["m02"], merged["ada"]["status"]) == (10, 10, "complete")
    assert merged["bo"]["m01"] == 2 and book_rows(whole)["ada"]["total"] == 20


def test_a_gradebook_of_an_older_format_is_not_overwritten(tmp_path):
    roster, out = tmp_path / "roster", tmp_path / "out"
    (roster / "ada").mkdir(parents=True)
    out.mkdir()
    old = json.dumps({"columns": ["student", "total"], "rows": [{"student": "zed", "total": 3}]})
    (out / "gradebook.json").write_text(old)
    with pytest.raises(GradeError, match="expected a tinytorch-kata/gradebook version 2 gradebook"):
        run(roster, out, [3])
    assert (out / "gradebook.json").read_text() == old


# ---------------------------------------------------------------- git: recording and deadlines
def test_a_broken_or_missing_git_never_fails_the_row(tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ".git").write_text("not a gitfile\n")
    source = commits._recorded_head(broken)
    assert source.commit is None and source.note.startswith("commit not recorded: git rev-parse")
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    source = commits._recorded_head(broken)
    assert source.commit is None and "git is not installed" in source.note


@pytest.fixture(scope="module")
def deadline_roster(tmp_path_factory):
    roster = tmp_path_factory.mktemp("deadline")
    dee = copy_package("stubs", roster / "dee")
    early = commit_all(dee, "2026-11-20T10:00:00+00:00")
    copy_package("reference", dee)
    late = commit_all(dee, "2026-11-25T10:00:00+00:00")  # after the deadline: must not count
    eve = copy_package("reference", roster / "eve")
    eve_sha = commit_all(eve, "2026-11-21T08:00:00+01:00")
    commit_all(copy_package("reference", roster / "fay"), "2026-11-23T00:00:00+00:00")  # only after it
    copy_package("reference", roster / "gus")  # no git at all
    git(copy_package("reference", roster / "hal"), "init", "-q")  # a repository without commits
    return {"roster": roster, "early": early, "late": late, "eve": eve_sha}


@pytest.fixture(scope="module")
def deadline_run(deadline_roster, tmp_path_factory):
    return run(deadline_roster["roster"], tmp_path_factory.mktemp("deadline-out"), [3], deadline=DEADLINE)


def test_the_deadline_grades_the_last_commit_before_it_not_a_later_one(deadline_roster, deadline_run):
    dee = deadline_run["dee"]
    assert (dee["commit"], dee["committed"]) == (deadline_roster["early"], "2026-11-20T10:00:00+00:00")
    assert dee["status"] == "incomplete" and dee["m03"] < M03.points, "the later commit's reference did not count"
    eve = deadline_run["eve"]
    assert (eve["commit"], eve["committed"], eve["status"]) == (deadline_roster["eve"], "2026-11-21T08:00:00+01:00",
                                                                "complete")


def test_no_commit_before_the_deadline_is_an_error_row(deadline_run):
    for student in ("fay", "hal"):
        assert deadline_run[student]["status"] == "error"
        assert deadline_run[student]["message"] == f"no commit at or before {DEADLINE_SHOWN}"
        assert deadline_run[student]["commit"] == ""
    gus = deadline_run["gus"]
    assert gus["status"] == "error" and "needs the submission's git history" in gus["message"]
    assert "gus/ is not a git repository" in gus["message"]


def test_the_deadline_leaves_the_students_repository_as_it_was(deadline_roster, deadline_run):
    dee = deadline_roster["roster"] / "dee"
    assert git(dee, "rev-parse", "HEAD") == deadline_roster["late"]
    assert git(dee, "status", "--porcelain") == ""
    assert git(dee, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert (dee / M03.relative_file).read_text() == (REPO_ROOT / "reference" / M03.relative_file).read_text()


def test_a_commit_exactly_at_the_deadline_counts(deadline_roster):
    dee = deadline_roster["roster"] / "dee"
    at = commits.commit_at(dee, regrade.parse_deadline("2026-11-25T10:00:00Z"))
    just_before = commits.commit_at(dee, regrade.parse_deadline("2026-11-25T10:59:59+01:00"))
    assert (at.sha, just_before.sha) == (deadline_roster["late"], deadline_roster["early"])


@pytest.mark.parametrize("text, shown", [("2026-12-01", "2026-12-01T23:59:59+00:00"),
                                          ("2026-12-01T23:59:00Z", "2026-12-01T23:59:00+00:00"),
                                          ("2026-12-01T09:00:00-05:00", "2026-12-01T09:00:00-05:00")])
def test_deadlines_are_parsed_as_one_moment(text, shown):
    assert regrade.parse_deadline(text).isoformat() == shown


@pytest.mark.parametrize("text, expected", [("2026-12-01T23:59", "needs a UTC offset"),
                                            ("next friday", "expects ISO 8601")])
def test_bad_deadlines_say_what_was_expected(text, expected):
    with pytest.raises(ValueError, match=expected):
        regrade.parse_deadline(text)


def test_cli_regrade_with_a_deadline(deadline_roster, tmp_path):
    roster = tmp_path / "roster"
    for student in ("fay", "gus"):  # neither gets graded: the command's wiring in seconds
        shutil.copytree(deadline_roster["roster"] / student, roster / student)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grading", "regrade", str(roster), "--modules", "1", "--out", str(out)]
    done = subprocess.run(command + ["--deadline", DEADLINE], capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert "2 submission(s) in shard 1/1: 0 complete, 0 incomplete, 2 with errors" in done.stdout
    assert book_rows(out)["fay"]["message"] == f"no commit at or before {DEADLINE_SHOWN}"
    bad = subprocess.run(command + ["--deadline", "2026-12-01T23:59"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert bad.returncode == 2 and bad.stderr.startswith("kata regrade: --deadline needs a UTC offset")
