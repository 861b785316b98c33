"""Which commit of a student's repository is graded, read straight from git's objects.

`kata regrade` grades a student's working tree as it stands (recording HEAD), or with a deadline
the tree of the last commit at or before it: the package's files are read with `git ls-tree` and
`git cat-file` into a temporary directory (no checkout, no hooks, no filters), so the student's
repository is never modified. The blobs' sizes are read first, and a commit past the policy's limits
(a file, all files, how many) is refused before any of it is read into memory. Every git command runs without the caller's GIT_* variables and
with a time limit; `run_git` is the one way this package starts git.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grading.engine.grader import GradeError
from grading.engine.policy import Policy

GIT_TIMEOUT = 60  # seconds for one git command on one student's repository

class GitError(GradeError):
    """git could not answer about a student's repository: the message says what it was asked."""


@dataclass(frozen=True)
class Commit:
    sha: str
    committed: str  # ISO 8601 commit time, as the student's machine set it


def is_git_repository(directory: Path) -> bool:
    """The directory is a repository of its own (a `.git` inside it, directory or file), so an
    enclosing repository (a roster kept in the instructor's repository) never lends its commits."""
    return (directory / ".git").exists()


def git_environment() -> dict[str, str]:
    # GIT_DIR, GIT_INDEX_FILE and the like (set when kata runs from a git hook) would point every
    # command at another repository than the student's.
    return {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}


def run_git(directory: Path, arguments: list[str], stdin: bytes = b"", extra_env: dict[str, str] | None = None,
            timeout: float = GIT_TIMEOUT) -> subprocess.CompletedProcess:
    """git in `directory`, never prompting for a password; GitError when git is missing or hangs."""
    command = ["git", "-C", str(directory), *arguments]
    env = {**git_environment(), "GIT_TERMINAL_PROMPT": "0", **(extra_env or {})}
    try:
        return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, env=env)
    except FileNotFoundError:
        raise GitError("git is not installed here; it is needed to read the students' repositories") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {arguments[0]} did not answer within {timeout:g} s in {directory}") from None


def _git(directory: Path, *arguments: str) -> str:
    done = run_git(directory, list(arguments))
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise GitError(f"git {' '.join(arguments)} failed in {directory}: {reason[0]}")
    return done.stdout.decode(errors="replace").strip()


def _head(directory: Path) -> str | None:
    """HEAD's commit SHA, or None in a repository without commits yet."""
    done = run_git(directory, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
    if done.returncode == 1 and not done.stderr.strip():  # --quiet: no such commit, nothing else wrong
        return None
    if done.returncode != 0:
        return _git(directory, "rev-parse", "--verify", "HEAD^{commit}")  # raises, with git's reason
    return done.stdout.decode().strip()


def _commit(directory: Path, sha: str) -> Commit:
    # --no-show-signature: a repository's log.showSignature must not make git start gpg here.
    return Commit(sha, _git(directory, "log", "-1", "--no-show-signature", "--format=%cI", sha))


def head_commit(directory: Path) -> Commit | None:
    head = _head(directory)
    return _commit(directory, head) if head else None


def commit_at(directory: Path, deadline: dt.datetime) -> Commit | None:
    """The last commit on HEAD's history whose commit time is at or before the deadline (inclusive)."""
    head = _head(directory)
    if head is None:
        return None
    # git's own raw form, seconds since the epoch: no reading of ISO dates left to git's parser.
    before = f"--before=@{int(deadline.timestamp())} +0000"
    sha = _git(directory, "rev-list", "-1", before, head)
    return _commit(directory, sha) if sha else None


def _tree_entries(directory: Path, sha: str, package: str) -> list[tuple[str, PurePosixPath]]:
    """(blob id, path) of every regular .py file below `package`/ in the commit's tree."""
    listing = run_git(directory, ["ls-tree", "-r", "-z", "--full-tree", sha, "--", package])
    if listing.returncode != 0:
        raise GitError(f"git ls-tree {sha} failed in {directory}: {listing.stderr.decode(errors='replace').strip()}")
    entries = []
    for record in filter(None, listing.stdout.split(b"\0")):
        header, _, raw_path = record.partition(b"\t")
        mode, kind, blob = header.split(b" ")
        path = PurePosixPath(os.fsdecode(raw_path))
        # The grader copies regular .py files only; symlinks (120000) and submodules are left out alike.
        if kind == b"blob" and mode in (b"100644", b"100755") and path.suffix == ".py":
            if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
                raise GradeError(f"commit {sha} holds the path {str(path)!r}; expected paths inside {package}/")
            entries.append((blob.decode(), path))
    return entries


def _blob_sizes(directory: Path, ids: list[str]) -> list[int]:
    """The size in bytes of each blob (`git cat-file --batch-check`: reads no content)."""
    done = run_git(directory, ["cat-file", "--batch-check=%(objectsize)"], stdin="".join(f"{i}\n" for i in ids).encode())
    sizes = done.stdout.split()
    if done.returncode != 0 or len(sizes) != len(ids) or not all(size.isdigit() for size in sizes):
        raise GitError(f"git cat-file --batch-check failed in {directory}: {done.stderr.decode(errors='replace').strip()}")
    return [int(size) for size in sizes]


def _within_limits(commit: Commit, entries: list[tuple[str, PurePosixPath]], sizes: list[int], policy: Policy) -> None:
    """GradeError for a commit the grader would not read whole: the policy's limits on one file, on
    every file together and on their number, checked before any content is read."""
    where = f"commit {commit.sha} ({commit.committed})"
    if policy.max_files is not None and len(entries) > policy.max_files:
        raise GradeError(f"{where} holds {len(entries)} .py files in {policy.package}/; a submission may hold at "
                         f"most {policy.max_files}")
    for (_, path), size in zip(entries, sizes):
        if size > policy.max_file_bytes:
            raise GradeError(f"{where} holds {path} of {size} bytes; a file may hold at most {policy.max_file_bytes}")
    if policy.max_total_bytes is not None and sum(sizes) > policy.max_total_bytes:
        raise GradeError(f"{where} holds {sum(sizes)} bytes of .py files in {policy.package}/; a submission may "
                         f"hold at most {policy.max_total_bytes}")


def _blobs(directory: Path, ids: list[str]) -> list[bytes]:
    """The raw bytes of each blob (`git cat-file --batch`: no filters, no line-ending conversion)."""
    done = run_git(directory, ["cat-file", "--batch"], stdin="".join(f"{i}\n" for i in ids).encode())
    if done.returncode != 0:
        raise GitError(f"git cat-file failed in {directory}: {done.stderr.decode(errors='replace').strip()}")
    output, position, contents = done.stdout, 0, []
    for blob in ids:
        end = output.index(b"\n", position)
        fields = output[position:end].split(b" ")
        if len(fields) != 3 or fields[1] != b"blob":
            got = output[position:end].decode(errors="replace")
            raise GitError(f"git cat-file in {directory}: expected blob {blob}, got {got!r}")
        size = int(fields[2])
        contents.append(output[end + 1 : end + 1 + size])
        position = end + 1 + size + 1  # the content is followed by one newline
    return contents


def export_package(directory: Path, commit: Commit, policy: Policy, destination: Path) -> None:
    """Write the .py files of the package as of `commit` below `destination`, reading only git's objects
    and only within the policy's size limits."""
    package = policy.package
    entries = _tree_entries(directory, commit.sha, package)
    if not entries:
        raise GradeError(f"commit {commit.sha} ({commit.committed}) has no .py files in {package}/; expected "
                         f"the submission's package at {package}/ in the repository's root")
    _within_limits(commit, entries, _blob_sizes(directory, [blob for blob, _ in entries]), policy)
    for (_, path), content in zip(entries, _blobs(directory, [blob for blob, _ in entries])):
        target = destination.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


@dataclass(frozen=True)
class Source:
    """What is graded for one student."""

    path: Path  # the student's directory, or the deadline commit's exported tree
    commit: Commit | None
    note: str = ""  # why no commit is recorded although the directory is a git repository


def _recorded_head(student_dir: Path) -> Source:
    """The working directory as it stands, with HEAD recorded when there is one (git never fails the row)."""
    if not is_git_repository(student_dir):
        return Source(student_dir, None)
    try:
        return Source(student_dir, head_commit(student_dir))
    except GradeError as error:
        return Source(student_dir, None, f"commit not recorded: {error}")


@contextmanager
def submission_source(student_dir: Path, deadline: dt.datetime | None, policy: Policy) -> Iterator[Source]:
    """The directory to grade; with a deadline, a temporary export of the last commit before it."""
    if deadline is None:
        yield _recorded_head(student_dir)
        return
    if not is_git_repository(student_dir):
        raise GradeError(f"--deadline needs the submission's git history, but {student_dir.name}/ is not a git "
                         "repository (no .git in it)")
    commit = commit_at(student_dir, deadline)
    if commit is None:
        raise GradeError(f"no commit at or before {deadline.isoformat()}")
    with tempfile.TemporaryDirectory(prefix="kata-deadline-") as scratch:
        export_package(student_dir, commit, policy, Path(scratch))
        yield Source(Path(scratch), commit)


