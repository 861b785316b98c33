"""Text that comes out of the sandbox (what a submission raised or printed), made safe to keep.

Everything else a grader shows is built from it, so it loses its control characters here, once: an
ESC byte would start a terminal escape sequence, a NUL or a bidirectional override would hide or
reorder what a reader sees. Each output format then escapes what is markup for it (reports/text.py).
"""
from __future__ import annotations

import re

# C0 and C1 control characters and DEL, except tab and newline (tab becomes a space; newline is kept),
# and the Unicode bidirectional overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` without control characters (tab as a space, newlines kept)."""
    return _CONTROL.sub("", text.replace("\t", " "))
