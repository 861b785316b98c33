"""`kata roster collect`: clone every student's repository of a roster, for `kata regrade`.

The roster is a CSV file with a header row and (at least) the columns `student` and `repository`:

    student,repository
    alice,my-course/tinytorch-alice

`student` names the folder the submission lands in (letters, digits, `.`, `_`, `-`); `repository`
is `owner/name` under `--base-url` (default https://github.com/). Each repository is cloned with its
full history, so `kata regrade --deadline` can pick the last commit before a deadline. A token for
private repositories comes from the environment variable KATA_ROSTER_TOKEN and reaches git as an
HTTP header through git's environment (GIT_CONFIG_*), scoped to the roster's host: never in a URL,
a command line (which other users of the machine can read) or a log line, and never to another
server a repository's configuration names. Git LFS is off; a clone larger than MAX_REPOSITORY_BYTES
is removed again, with the reason in the student's row.

A repository that cannot be cloned leaves an empty folder behind and the reason in
`.collect/<student>.txt` beside the folders, outside anything a student controls, so the student
still gets a gradebook row (status `error`, with the reason) instead of vanishing from it.
"""
from __future__ import annotations

import base64
import csv
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from grading.classroom.commits import GitError, run_git

STUDENT_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
REPOSITORY_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
ERRORS_DIR = ".collect"  # kata regrade skips folders starting with "."
TOKEN_VARIABLE = "KATA_ROSTER_TOKEN"
CLONE_SECONDS = 300
# A student's repository is the template's files and their commits: a few MiB. One far past that (a
# dataset or a binary committed) is removed after the clone and the student's row says why.
MAX_REPOSITORY_BYTES = 256 * 1024 * 1024


class RosterError(ValueError):
    """The roster file is malformed: the message names the line and what was expected."""


@dataclass(frozen=True)
class Entry:
    student: str
    repository: str


@dataclass(frozen=True)
class Collected:
    entry: Entry
    ok: bool
    message: str


def read(path: Path) -> list[Entry]:
    """The roster's entries, validated; duplicates of a student are an error."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # spreadsheets often add a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(f"cannot read roster {path}: {error}") from None
    rows = csv.DictReader(lines)
    missing = {"student", "repository"} - set(rows.fieldnames or [])
    if missing:
        raise RosterError(f"{path}: the header must name the columns student and repository; "
                          f"found {rows.fieldnames or 'no header'}")
    entries: list[Entry] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        student, repository = (row.get("student") or "").strip(), (row.get("repository") or "").strip()
        if not STUDENT_NAME.match(student):
            raise RosterError(f"{path}:{number}: student {student!r} must be letters, digits, '.', '_' or '-'")
        if not REPOSITORY_NAME.match(repository):
            raise RosterError(f"{path}:{number}: repository {repository!r} must look like owner/name")
        if student in seen:
            raise RosterError(f"{path}:{number}: student {student!r} appears twice")
        seen.add(student)
        entries.append(Entry(student, repository))
    return entries


# Git LFS never runs during a collection: a student's .lfsconfig could name another server, and the
# grader reads only the package's .py files from git's own objects anyway.
NO_LFS = {"GIT_LFS_SKIP_SMUDGE": "1"}
NO_LFS_CONFIG = (("filter.lfs.smudge", ""), ("filter.lfs.process", ""), ("filter.lfs.required", "false"))


def _git_environment(base_url: str) -> dict[str, str]:
    """git configuration, passed through the environment: LFS off, and, when a token is set, the token
    as a header sent to the roster's own https host only (never to a server a repository names)."""
    settings = list(NO_LFS_CONFIG)
    token = os.environ.get(TOKEN_VARIABLE, "")
    if token and base_url.startswith("https://"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        settings.append((f"http.{_host_url(base_url)}.extraHeader", f"Authorization: basic {basic}"))
    environment = {**NO_LFS, "GIT_CONFIG_COUNT": str(len(settings))}
    for index, (key, value) in enumerate(settings):
        environment[f"GIT_CONFIG_KEY_{index}"], environment[f"GIT_CONFIG_VALUE_{index}"] = key, value
    return environment


def _host_url(base_url: str) -> str:
    """"https://github.com/" for "https://github.com/some/path": git matches http.<url>.* by prefix."""
    scheme, _, rest = base_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/"


def clone(entry: Entry, into: Path, base_url: str) -> Collected:
    target = into / entry.student
    url = f"{base_url.rstrip('/')}/{entry.repository}"
    if target.exists() and any(target.iterdir()):
        return Collected(entry, False, f"{target} already exists and is not empty")
    try:
        done = run_git(into, ["clone", "--quiet", "--no-tags", url, entry.student],
                       extra_env=_git_environment(base_url), timeout=CLONE_SECONDS)
    except GitError as error:
        return _failed(entry, into, str(error))
    if done.returncode != 0:
        reason = " ".join(done.stderr.decode(errors="replace").split())[:300] or f"git exited with {done.returncode}"
        return _failed(entry, into, f"cannot clone {entry.repository}: {reason}")
    size = _bytes_below(target)
    if size > MAX_REPOSITORY_BYTES:
        shutil.rmtree(target)
        return _failed(entry, into, f"{entry.repository} takes {size / 2**20:.0f} MiB once cloned; a student's "
                                    f"repository may take at most {MAX_REPOSITORY_BYTES // 2**20} MiB (remove large "
                                    "files from its history)")
    return Collected(entry, True, f"cloned {entry.repository}")


def _bytes_below(folder: Path) -> int:
    """The bytes of every regular file below `folder` (symbolic links not followed)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def _failed(entry: Entry, into: Path, message: str) -> Collected:
    (into / entry.student).mkdir(parents=True, exist_ok=True)
    errors = into / ERRORS_DIR
    errors.mkdir(exist_ok=True)
    (errors / f"{entry.student}.txt").write_text(message + "\n", encoding="utf-8")
    return Collected(entry, False, message)


def collection_error(student_dir: Path) -> str | None:
    """Why `collect` could not clone this student's repository, or None."""
    path = student_dir.parent / ERRORS_DIR / f"{student_dir.name}.txt"
    return path.read_text(encoding="utf-8", errors="replace").strip()[:500] if path.is_file() else None


def collect(roster: Path, into: Path, base_url: str) -> list[Collected]:
    entries = read(roster)
    if into.exists() and not into.is_dir():
        raise RosterError(f"--into {into} is a file; expected a directory (new or holding earlier clones)")
    into.mkdir(parents=True, exist_ok=True)
    return [clone(entry, into, base_url) for entry in entries]
