"""The GitHub workflows, run for real under act on this machine, and linted by actionlint.

act runs each job on the host (`-P ubuntu-latest=-self-hosted`, no Docker) and every remote action
is replaced by the local stand-in of the same name in tests/classroom/act/ (see its README): checkout copies
local git repositories, the reporter stand-in decodes the payloads exactly as Classroom's reporter
does and records the points it would send to the gradebook.

The template is released with two assigned modules (03-04, on the reference's 01-02) so that each run
grades in seconds.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading import REPO_ROOT
from grading.authoring import course as course_module, curriculum as curriculum_module
from grading.classroom import release as release_module

BIN = Path(sys.executable).parent
ACT, ACTIONLINT = BIN / "act", BIN / "actionlint"
STANDINS = REPO_ROOT / "tests" / "classroom" / "act"
LOCAL_ACTIONS = {
    "actions/checkout@v6": "checkout",
    "actions/setup-python@v6": "setup-python",
    "actions/upload-artifact@v6": "upload-artifact",
    "actions/download-artifact@v7": "download-artifact",
    "classroom-resources/autograding-grading-reporter@v1": "reporter",
}
HIDDEN_REPOSITORY = "course/tinytorch-hidden"
CURRICULUM = curriculum_module.load()
ASSIGNED = "3-4"  # two modules that grade in about a second each; 01-02 ship pre-built


def git(folder: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "kata", "GIT_AUTHOR_EMAIL": "kata@example.org",
           "GIT_COMMITTER_NAME": "kata", "GIT_COMMITTER_EMAIL": "kata@example.org"}
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def commit_all(folder: Path, message: str, date: str | None = None) -> None:
    if not (folder / ".git").is_dir():
        git(folder, "init", "--quiet", "--initial-branch=main")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "--allow-empty", "-m", message, date=date)


def run_act(root: Path, out: Path, *args: str, event: str = "push", workflow: str | None = None,
            repos: Path | None = None, venv: Path | None = None) -> subprocess.CompletedProcess:
    """Run one event of a repository's workflows under act; `out` receives artifacts and reporter.json.
    With `venv`, the run's copy of `root` starts with that .venv (hard-linked into `root`, then copied
    by act with the other files .gitignore names), so the workflow's install step finds it done."""
    out.mkdir(parents=True, exist_ok=True)
    if venv and not (root / ".venv").exists():
        shutil.copytree(venv, root / ".venv", symlinks=True, copy_function=os.link)
    command = [str(ACT), event, "-P", "ubuntu-latest=-self-hosted", "--no-cache-server",
               "--env", f"KATA_ACT_MAIN={root}", "--env", f"KATA_ACT_REPOS={repos or out / 'repos'}",
               "--env", f"KATA_ACT_OUT={out}", "--env", f"KATA_ACT_PYTHON_BIN={Path(sys._base_executable).parent}"]
    if venv:
        command += ["--use-gitignore=false"]
    for action, folder in LOCAL_ACTIONS.items():
        command += ["--local-repository", f"{action}={STANDINS / folder}"]
    if workflow:
        command += ["-W", str(root / ".github" / "workflows" / workflow)]
    done = subprocess.run([*command, *args], cwd=root, capture_output=True, text=True, timeout=900)
    (out / "act.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    return done


def reporter(out: Path) -> dict:
    return json.loads((out / "reporter.json").read_text(encoding="utf-8"))


def uploaded_report(out: Path) -> dict:
    return json.loads((out / "artifacts" / "grade-report" / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict[str, Path]:
    """A released template (modules 03-04) as a git repository, its hidden bundle (with the
    reference) as the private repository course/tinytorch-hidden, and the .venv that the template's
    `make setup` installs, made once and handed to every run (tests/classroom/test_release.py installs
    a template from nothing)."""
    base = tmp_path_factory.mktemp("classroom")
    template, repos = base / "template", base / "repos"
    bundle = repos / HIDDEN_REPOSITORY
    chosen = course_module.build(CURRICULUM, modules=ASSIGNED)
    release_module.release(REPO_ROOT, template, CURRICULUM, chosen, bundle, with_reference=True)
    commit_all(template, "template")
    commit_all(bundle, "hidden bundle")
    setup = subprocess.run(["make", "setup"], cwd=template, capture_output=True, text=True)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return {"template": template, "repos": repos, "venv": template / ".venv"}


def student_copy(course: dict[str, Path], tmp_path: Path, implemented: list[str]) -> Path:
    """A student's repository: the template with some reference files copied in, committed."""
    student = tmp_path / "student"
    shutil.copytree(course["template"], student, ignore=shutil.ignore_patterns(".git", ".venv"))
    for relative in implemented:
        shutil.copy2(REPO_ROOT / "reference" / relative, student / relative)
    commit_all(student, "my work")
    return student


HIDDEN_CONFIGURED = ("--var", f"KATA_HIDDEN_REPOSITORY={HIDDEN_REPOSITORY}", "--secret", "KATA_HIDDEN_TOKEN=t0ken")


# ---------------------------------------------------------------- actionlint
def test_every_workflow_passes_actionlint(course):
    workflows = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
    workflows.append(course["template"] / ".github" / "workflows" / "classroom.yml")
    assert {w.name for w in workflows} == {"ci.yml", "regrade.yml", "classroom.yml"}
    done = subprocess.run([str(ACTIONLINT), "-no-color", *map(str, workflows)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_is_not_a_rubber_stamp(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ steps.nope.outputs.x }}\n", encoding="utf-8")
    done = subprocess.run([str(ACTIONLINT), "-no-color", str(broken)], capture_output=True, text=True)
    assert done.returncode == 1 and 'property "nope" is not defined' in done.stdout


# ---------------------------------------------------------------- classroom.yml
def test_pristine_template_run_succeeds_with_zero_points_and_says_what_to_do_first(course, tmp_path):
    out = tmp_path / "act"
    done = run_act(course["template"], out, repos=course["repos"], venv=course["venv"])
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    seen = reporter(out)
    assert seen["runners"] == "m03,m04"
    assert (seen["totalPoints"], seen["maxPoints"]) == (0, 20)
    assert "::notice title=Autograding complete::Points 0.0/20" in log
    # The summary: visible spec only (no hidden repository configured), and the first thing to do.
    assert "visible-only grade: no hidden tests were available" in log
    assert "### What to fix first" in log
    assert "m03**: test_03_layers.py::" in log and "implement Linear.__init__" in log
    report = uploaded_report(out)
    assert report["grader"]["hidden"] is False
    assert report["course"]["assigned"] == [3, 4]
    assert report["course"]["not_assigned"] == [1, 2, *range(5, 21)]


def test_reference_copied_in_gets_full_marks_with_the_hidden_tests(course, tmp_path):
    student = student_copy(course, tmp_path, [m.relative_file.as_posix() for m in CURRICULUM.built()])
    out = tmp_path / "act"
    done = run_act(student, out, *HIDDEN_CONFIGURED, repos=course["repos"], venv=course["venv"])
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    report = uploaded_report(out)
    assert report["grader"]["hidden"] is True and report["grader"]["reference"] is True
    assert report["score"] == report["max_score"] == 20
    seen = reporter(out)
    assert (seen["totalPoints"], seen["maxPoints"]) == (20, 20), "the gradebook gets exactly the report's total"
    hidden = [t for r in seen["results"].values() for t in r["tests"] if t["name"].startswith("hidden check")]
    assert hidden and all(t["status"] == "pass" for t in hidden)


def test_one_module_implemented_earns_exactly_that_modules_points(course, tmp_path):
    student = student_copy(course, tmp_path, ["tinytorch/core/layers.py"])
    out = tmp_path / "act"
    done = run_act(student, out, *HIDDEN_CONFIGURED, repos=course["repos"], venv=course["venv"])
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    seen = reporter(out)
    assert (seen["totalPoints"], seen["maxPoints"]) == (CURRICULUM.module(3).points, 20)
    scores = {runner: sum(t["score"] for t in result["tests"]) for runner, result in seen["results"].items()}
    assert scores == {"m03": 10, "m04": 0}


def test_classroom_bot_pushes_do_not_run_the_grader(course, tmp_path):
    out = tmp_path / "act"
    done = run_act(course["template"], out, "--actor", "github-classroom[bot]", repos=course["repos"])
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert not (out / "reporter.json").exists(), "Classroom's own commits (the template copy) are not graded"


# ---------------------------------------------------------------- regrade.yml
def master_copy(target: Path) -> Path:
    """The master repository as its files stand (tracked and new, not ignored), as a git repository."""
    listed = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for relative in filter(None, listed):
        source = REPO_ROOT / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    return target


def student_repository(repos: Path, name: str, commits: list[tuple[str, list[str]]]) -> None:
    """course/tinytorch-<name>: the stubs, then one dated commit per (date, reference files copied in)."""
    folder = repos / "course" / f"tinytorch-{name}"
    shutil.copytree(REPO_ROOT / "stubs", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for date, implemented in commits:
        for relative in implemented:
            shutil.copy2(REPO_ROOT / "reference" / relative, folder / relative)
        commit_all(folder, f"work of {date}", date=date)


def test_regrade_workflow_grades_a_roster_at_the_deadline(tmp_path):
    repos, out = tmp_path / "repos", tmp_path / "act"
    every_module = [m.relative_file.as_posix() for m in CURRICULUM.built()]
    student_repository(repos, "alice", [("2026-11-01T10:00:00+00:00", every_module)])
    student_repository(repos, "bob", [("2026-11-01T10:00:00+00:00", [])])
    # Carol committed the stubs before the deadline and finished everything a day after it.
    student_repository(repos, "carol", [("2026-11-01T10:00:00+00:00", []),
                                        ("2026-11-03T10:00:00+00:00", every_module)])
    master = master_copy(tmp_path / "master")
    (master / "roster.csv").write_text("student,repository\nalice,course/tinytorch-alice\n"
                                       "bob,course/tinytorch-bob\ncarol,course/tinytorch-carol\n", encoding="utf-8")
    # The course assigns module 03 only (it grades in about a second): the regrade grades that module
    # and nothing else.
    (master / "course.toml").write_text(course_module.dumps(course_module.build(CURRICULUM, modules="3")),
                                        encoding="utf-8")
    commit_all(master, "course master")
    done = run_act(master, out, "--input", "deadline=2026-11-02",
                   "--var", f"KATA_GIT_BASE=file://{repos}", "--secret", "KATA_ROSTER_TOKEN=t0ken",
                   event="workflow_dispatch", workflow="regrade.yml", repos=repos)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    book = json.loads((out / "artifacts" / "gradebook" / "gradebook.json").read_text(encoding="utf-8"))
    rows = {row["student"]: row for row in book["rows"]}
    assert sorted(rows) == ["alice", "bob", "carol"], "two shards, merged: every student exactly once"
    assert (rows["alice"]["total"], rows["alice"]["max"], rows["alice"]["status"]) == (10, 10, "complete")
    assert (rows["bob"]["total"], rows["bob"]["status"]) == (0, "incomplete")
    assert (rows["carol"]["total"], rows["carol"]["status"]) == (0, "incomplete"), \
        "the commit after the deadline does not count"
    carol = repos / "course" / "tinytorch-carol"
    first = git(carol, "rev-list", "--max-parents=0", "HEAD")
    assert rows["carol"]["commit"] == first
    assert all(row["isolation"] == "bubblewrap" for row in rows.values())
    assert book["columns"][:4] == ["student", "total", "max", "m03"] and "m01" not in book["columns"]
