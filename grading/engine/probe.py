"""Import probe: does each module of a submission import at all, and if not, why?

Run by the grader inside the sandbox, before any test, as
    python grading/engine/probe.py fd:3 PACKAGE_ROOT tinytorch tinytorch.core.tensor ...
It imports each dotted name in order and writes one JSON line per name to the grader's channel,
descriptor 3 (or to a file, given a path instead; never stdout, which the submission may flood):
    {"name": ..., "ok": true}  or  {"name": ..., "ok": false, "error": ..., "path": ..., "line": ...}
`path`/`line` point into the submission where the failure happened (a syntax error's own line, or
the deepest traceback frame inside PACKAGE_ROOT). A name with no line at all means the process
ended while importing it (os._exit, a crash or the time limit): the grader reports that.

This file runs by path with only the standard library, so it does not import the kata tool.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path


def _location_in(root: Path, error: BaseException) -> tuple[str, int]:
    if isinstance(error, SyntaxError) and error.filename:
        return _relative(root, error.filename), error.lineno or 0
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if _is_inside(root, frame.filename):
            return _relative(root, frame.filename), frame.lineno or 0
    return "", 0


def _is_inside(root: Path, filename: str) -> bool:
    try:
        Path(filename).resolve().relative_to(root)
        return True
    except ValueError:
        return False


def _relative(root: Path, filename: str) -> str:
    path = Path(filename).resolve()
    return path.relative_to(root).as_posix() if _is_inside(root, filename) else path.name


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"the module called sys.exit({error.code!r}) while being imported"
    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg}"
    return f"{type(error).__name__}: {error}"[:1000]


def probe(results: str, root: Path, names: list[str]) -> None:
    sys.path[:] = [str(root)] + [p for p in sys.path if p and Path(p).resolve() != Path(__file__).resolve().parent]
    # Opened before any submission code runs, line-buffered: each record leaves as soon as it is known.
    channel = os.fdopen(int(results[3:]), "a", encoding="utf-8", buffering=1) if results.startswith("fd:") \
        else open(results, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 -- closed below
    for name in names:
        try:
            importlib.import_module(name)
            record = {"name": name, "ok": True}
        except BaseException as error:  # noqa: BLE001 -- every way an import can fail is reported
            path, line = _location_in(root, error)
            record = {"name": name, "ok": False, "error": _describe(error), "path": path, "line": line}
        channel.write(json.dumps(record) + "\n")
    channel.close()


if __name__ == "__main__":
    probe(sys.argv[1], Path(sys.argv[2]).resolve(), sys.argv[3:])
