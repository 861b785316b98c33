"""`kata roster collect`: clone every student's repository of a roster, for `kata regrade`.

The roster is a CSV file with a header row and (at least) the columns `student` and `repository`:

    student,repository
    alice,my-course/tinytorch-alice

`student` names the folder the submission lands in (letters, digits, `.`, `_`, `-`); `repository`
is `owner/name` under `--base-url` (default https://github.com/). Each repository is cloned with its
full history, so `kata regrade --deadline` can pick the last commit before a deadline. A token for
private repositories comes from the environment variable KATA_ROSTER_TOKEN and travels in an HTTP
header, never in a URL or a log line.

A repository that cannot be cloned leaves an empty folder behind with the reason in
`COLLECT_ERROR.txt`, so the student still gets a gradebook row (status `error`) instead of silently
vanishing from it.
"""
from __future__ import annotations

import base64
import csv
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

STUDENT_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
REPOSITORY_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
ERROR_FILE = "COLLECT_ERROR.txt"
TOKEN_VARIABLE = "KATA_ROSTER_TOKEN"
CLONE_SECONDS = 300


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
        lines = path.read_text(encoding="utf-8").splitlines()
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


def _auth_options(base_url: str) -> list[str]:
    """`-c http.extraHeader=...` with the token, for https remotes when a token is set."""
    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token or not base_url.startswith("https://"):
        return []
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return ["-c", f"http.extraHeader=Authorization: basic {basic}"]


def clone(entry: Entry, into: Path, base_url: str) -> Collected:
    target = into / entry.student
    url = f"{base_url.rstrip('/')}/{entry.repository}"
    if target.exists() and any(target.iterdir()):
        return Collected(entry, False, f"{target} already exists and is not empty")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # never wait for a password
    try:
        done = subprocess.run(["git", *_auth_options(base_url), "clone", "--quiet", "--no-tags", url, str(target)],
                              capture_output=True, text=True, env=env, timeout=CLONE_SECONDS)
    except subprocess.TimeoutExpired:
        return _failed(entry, target, f"cloning {entry.repository} took more than {CLONE_SECONDS} s")
    if done.returncode != 0:
        reason = " ".join(done.stderr.split())[:300] or f"git exited with code {done.returncode}"
        return _failed(entry, target, f"cannot clone {entry.repository}: {reason}")
    return Collected(entry, True, f"cloned {entry.repository}")


def _failed(entry: Entry, target: Path, message: str) -> Collected:
    target.mkdir(parents=True, exist_ok=True)
    (target / ERROR_FILE).write_text(message + "\n", encoding="utf-8")
    return Collected(entry, False, message)


def collect(roster: Path, into: Path, base_url: str) -> list[Collected]:
    entries = read(roster)
    into.mkdir(parents=True, exist_ok=True)
    return [clone(entry, into, base_url) for entry in entries]
