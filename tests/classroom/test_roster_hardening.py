"""Collecting and reading students' repositories as a hostile student would shape them: the token goes
to the roster's host only, Git LFS never runs, an oversized clone is removed, and a commit past the
policy's size limits is refused before its files are read into memory."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import replace

import pytest

from grading.authoring import curriculum as curriculum_module
from grading.classroom import roster
from grading.classroom.commits import submission_source
from grading.engine.grader import GradeError
from grading.engine.policy import Policy
from tests.classroom.test_gradebook import commit_all

POLICY = Policy.from_curriculum(curriculum_module.load())
AFTER_EVERYTHING = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


def _git_config(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    return subprocess.run(["git", "config", *arguments], env={**clean, **environment}, capture_output=True, text=True)


def test_the_token_header_is_sent_to_the_rosters_host_and_nowhere_else(monkeypatch):
    monkeypatch.setenv(roster.TOKEN_VARIABLE, "s3cret-token")
    environment = roster._git_environment("https://github.com/")
    assert "http.extraHeader" not in environment.values(), "never a header for every server"
    # git itself decides which URLs the header goes to: ask it.
    for url, expected in (("https://github.com/course/alice", True), ("https://lfs.evil.example/x", False),
                          ("https://github.com.evil.example/x", False), ("http://github.com/course/alice", False)):
        found = _git_config(environment, "--get-urlmatch", "http.extraHeader", url)
        assert ("s3cret-token" not in found.stdout) if not expected else found.stdout.startswith("Authorization: basic "), url
    assert _git_config(environment, "--get", "filter.lfs.smudge").stdout.strip() == ""
    assert _git_config(environment, "--get", "filter.lfs.required").stdout.strip() == "false"
    assert environment["GIT_LFS_SKIP_SMUDGE"] == "1"


def test_without_a_token_lfs_is_still_off_and_no_header_is_set(monkeypatch):
    monkeypatch.delenv(roster.TOKEN_VARIABLE, raising=False)
    environment = roster._git_environment("https://github.com/")
    assert not any("extraHeader" in value for value in environment.values())
    assert environment["GIT_LFS_SKIP_SMUDGE"] == "1"


def test_a_clone_past_the_size_limit_is_removed_and_the_row_says_why(tmp_path, monkeypatch):
    source = tmp_path / "repos" / "course" / "alice"
    (source / "tinytorch").mkdir(parents=True)
    (source / "tinytorch" / "__init__.py").write_text("")
    (source / "data.bin").write_bytes(os.urandom(200_000))  # random: git cannot compress it away
    commit_all(source, "2026-11-01T10:00:00+00:00")
    (tmp_path / "roster.csv").write_text("student,repository\nalice,course/alice\n", encoding="utf-8")
    monkeypatch.setattr(roster, "MAX_REPOSITORY_BYTES", 100_000)
    (result,) = roster.collect(tmp_path / "roster.csv", tmp_path / "into", f"file://{tmp_path / 'repos'}")
    assert not result.ok and "course/alice takes" in result.message and "may take at most" in result.message
    assert list((tmp_path / "into" / "alice").iterdir()) == [], "nothing of the clone is kept"
    assert roster.collection_error(tmp_path / "into" / "alice") == result.message
    monkeypatch.setattr(roster, "MAX_REPOSITORY_BYTES", 10_000_000)
    (tmp_path / "into" / "alice").rmdir()
    (again,) = roster.collect(tmp_path / "roster.csv", tmp_path / "into", f"file://{tmp_path / 'repos'}")
    assert again.ok, again.message


@pytest.mark.parametrize("files, limits, refusal", [
    ({"big.py": "x = 1\n" * 100}, {"max_file_bytes": 500}, "holds tinytorch/big.py of 600 bytes; a file may hold at most 500"),
    ({f"m{i}.py": "x = 1\n" for i in range(5)}, {"max_files": 4}, "holds 6 .py files in tinytorch/; a submission may hold at most 4"),
    ({f"m{i}.py": "x = 1\n" * 50 for i in range(4)}, {"max_total_bytes": 1000},
     "holds 1200 bytes of .py files in tinytorch/; a submission may hold at most 1000"),
], ids=["one-file", "file-count", "total-bytes"])
def test_a_commit_past_the_policys_limits_is_refused_before_it_is_read(tmp_path, files, limits, refusal):
    student = tmp_path / "alice"
    (student / "tinytorch").mkdir(parents=True)
    (student / "tinytorch" / "__init__.py").write_text("")
    for name, text in files.items():
        (student / "tinytorch" / name).write_text(text)
    commit_all(student, "2026-11-01T10:00:00+00:00")
    policy = replace(POLICY, **limits)
    with pytest.raises(GradeError, match=refusal):
        with submission_source(student, AFTER_EVERYTHING, policy):
            pass
    with submission_source(student, AFTER_EVERYTHING, POLICY) as source:  # within the course's own limits
        assert sorted(p.name for p in (source.path / "tinytorch").iterdir()) == sorted(["__init__.py", *files])
