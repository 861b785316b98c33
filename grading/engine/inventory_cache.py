"""The inventory of a grade (every test to expect, collected against the reference), kept between grades.

Collecting the tests costs a pytest process per secrecy group, a second or more of CPU each, in every
grade. What it finds is a function of what is collected (the tests, manifest and conftest: the tests'
fingerprint, and which files), of the package they are collected against (the reference's fingerprint)
and of the software that collects (Python, pytest, Hypothesis, NumPy and the grader's own code). A
grade whose key matches all of those reads the entries kept by an earlier one; a file that is missing,
unreadable or malformed is ignored, and the tests are collected again.

Only collections against the reference, in a sandboxed grade, are kept: a student's package never
decides what a later grade expects, and without a sandbox a submission could write the cache itself.
The cache lives in $KATA_CACHE_DIR, else $XDG_CACHE_HOME/tinytorch-kata, else ~/.cache/tinytorch-kata.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from grading.engine.runner import TestEntry
from grading.engine.workspace import fingerprint

FORMAT = 1  # of the cache files; a change makes every older file a miss
GRADER_SOURCE = Path(__file__).resolve().parents[1]  # grading/: the plugin, pytest.ini and the runner decide what is collected
DISTRIBUTIONS = ("pytest", "hypothesis", "numpy")


def folder() -> Path:
    """Where kept inventories live (see the module docstring)."""
    if os.environ.get("KATA_CACHE_DIR"):
        return Path(os.environ["KATA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tinytorch-kata"


def key(tests_fingerprint: str, reference_package: Path, files: list[str]) -> str:
    """A name for the inventory of `files` collected against `reference_package` by this software."""
    parts = [f"format {FORMAT}", tests_fingerprint, fingerprint(reference_package), fingerprint(GRADER_SOURCE),
             sys.version, *(f"{name} {metadata.version(name)}" for name in DISTRIBUTIONS), *files]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def read(name: str) -> list[TestEntry] | None:
    """The inventory kept under `name`, or None when there is none that reads back whole."""
    try:
        stored = json.loads((folder() / f"inventory-{name}.json").read_text(encoding="utf-8"))
        if stored["format"] != FORMAT or stored["key"] != name:
            return None
        return [_entry(row) for row in stored["entries"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(name: str, entries: list[TestEntry]) -> None:
    """Keep `entries` under `name` (atomically: a grade reading at the same time sees all or nothing).
    A cache that cannot be written only costs the next grade a collection."""
    rows = [{"nodeid": e.nodeid, "modules": list(e.modules), "points": e.points, "path": e.path, "line": e.line}
            for e in entries]
    target = folder() / f"inventory-{name}.json"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".inventory-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump({"format": FORMAT, "key": name, "entries": rows}, stream)
        os.replace(temporary, target)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def _entry(row: dict) -> TestEntry:
    nodeid, path, line, points = row["nodeid"], row["path"], row["line"], row["points"]
    modules = row["modules"]
    if not (isinstance(nodeid, str) and isinstance(path, str) and type(line) is int
            and type(points) in (int, float) and isinstance(modules, list) and all(type(m) is int for m in modules)):
        raise TypeError(f"malformed inventory row {str(row)[:200]}")
    return TestEntry(nodeid, tuple(modules), float(points), path, line)
