"""Render lint results as text (people), JSON (tools) or GitHub annotations (Actions)."""
from __future__ import annotations

import json

from grading.authoring.lint.model import Pragma, Violation


def as_text(violations: list[Violation], pragmas: list[Pragma], files: int) -> str:
    lines = []
    for v in violations:
        allowed = f" [allowed modules: {', '.join(str(n) for n in v.allowed)}]" if v.allowed else ""
        lines.append(f"{v.path}:{v.line}: {v.rule}: {v.message}{allowed}")
    for p in pragmas:
        lines.append(f"{p.path}:{p.line}: pragma: allows {p.term!r} -- {p.reason}")
    verdict = f"{len(violations)} violation(s)" if violations else "clean"
    lines.append(f"kata lint: {files} file(s) checked, {len(pragmas)} pragma(s), {verdict}")
    return "\n".join(lines)


def as_json(violations: list[Violation], pragmas: list[Pragma], files: int) -> str:
    return json.dumps({
        "files_checked": files,
        "violations": [{"path": v.path, "line": v.line, "rule": v.rule, "check": v.check, "message": v.message,
                        "name": v.name, "allowed": list(v.allowed)} for v in violations],
        "pragmas": [{"path": p.path, "line": p.line, "term": p.term, "reason": p.reason} for p in pragmas],
    }, indent=2)


def _escape(text: str) -> str:
    # Workflow-command data escaping: %, CR and LF must be encoded.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def as_github(violations: list[Violation], pragmas: list[Pragma], files: int) -> str:
    lines = [f"::error file={v.path},line={v.line},title={v.rule}::{_escape(v.message)}" for v in violations]
    lines.append(f"kata lint: {files} file(s) checked, {len(violations)} violation(s)")
    return "\n".join(lines)


FORMATS = {"text": as_text, "json": as_json, "github": as_github}
