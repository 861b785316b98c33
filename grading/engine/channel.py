"""What may arrive on a sandbox's result channel, checked before the grader uses any of it.

The bytes come from a process that runs the submission's code, so they are untrusted input:
every line must be a flat JSON object whose fields have the types the grader's own writers
(grading/engine/pytest_plugin.py, grading/engine/probe.py) give them. Anything else (a deeply nested value, a
list where a string belongs, a huge number, an unknown event) marks the whole channel malformed;
the grader then discards the run as tampered instead of tripping over the value later.
"""
from __future__ import annotations

import json
import math

MAX_LINE_BYTES = 1 << 20  # the plugin's longest line is a few KiB (messages are clipped at 2,000 characters)
MAX_TEXT = 10_000  # characters in any one string field
MAX_FRAMES = 1_000


def _text(value) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 31


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value < 1e9


def _frames(value) -> bool:
    return isinstance(value, list) and len(value) <= MAX_FRAMES and all(
        isinstance(frame, list) and len(frame) == 2 and _text(frame[0]) and _count(frame[1]) for frame in value)


# Per journal event: {field: check}; fields marked optional may be absent.
_OPTIONAL = {"message", "frames", "crash", "cpu"}
JOURNAL_EVENTS = {
    "collected": {"nodeid": _text, "modules": lambda v: isinstance(v, list) and len(v) <= 20 and all(map(_count, v)),
                  "points": _number, "path": _text, "line": _count},
    "collection-error": {"nodeid": _text, "message": _text},
    "start": {"nodeid": _text},
    "phase": {"nodeid": _text, "when": lambda v: v in ("setup", "call", "teardown"),
              "outcome": lambda v: v in ("passed", "failed", "skipped"), "duration": _number, "message": _text,
              "frames": _frames, "crash": lambda v: isinstance(v, list) and len(v) == 2 and _text(v[0])
              and (v[1] is None or (isinstance(v[1], int) and abs(v[1]) < 1 << 31))},
    "finish": {"nodeid": _text, "cpu": _number},
    "end": {"exitstatus": lambda v: isinstance(v, int) and not isinstance(v, bool) and -1024 < v < 1024},
}
PROBE_RECORD = {"name": _text, "ok": lambda v: isinstance(v, bool), "error": _text, "path": _text, "line": _count}


def json_lines(data: bytes) -> tuple[list[dict], bool, bool]:
    """The JSON objects of newline-terminated lines: (objects, any other line seen, last line torn)."""
    lines = data.split(b"\n")
    torn = bool(lines.pop())  # the bytes after the last newline: b"" when the data ends with one
    objects, malformed = [], False
    for line in lines:
        try:
            value = json.loads(line) if len(line) <= MAX_LINE_BYTES else None
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            objects.append(value)
        else:
            malformed = True
    return objects, malformed, torn


def _conforms(record: dict, fields: dict, optional: set[str]) -> bool:
    if not set(record) <= set(fields) or not all(name in record for name in set(fields) - optional):
        return False
    return all(check(record[name]) for name, check in fields.items() if name in record)


def journal_events(data: bytes) -> tuple[list[dict], bool, bool]:
    """Journal events in order: (events, malformed, torn). An event of an unknown kind or with a
    field of the wrong type makes the journal malformed."""
    objects, malformed, torn = json_lines(data)
    events = []
    for record in objects:
        kind = record.get("event")
        fields = JOURNAL_EVENTS.get(kind) if isinstance(kind, str) else None
        if fields is None or not _conforms({k: v for k, v in record.items() if k != "event"}, fields, _OPTIONAL):
            malformed = True
            continue
        events.append(record)
    return events, malformed, torn


def probe_records(data: bytes) -> tuple[list[dict], bool]:
    """Import-probe records: (records, malformed)."""
    objects, malformed, _ = json_lines(data)
    records = [r for r in objects if _conforms(r, PROBE_RECORD, {"error", "path", "line"})]
    return records, malformed or len(records) < len(objects)
