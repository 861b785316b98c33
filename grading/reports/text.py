"""Student-written text as data in every output: what each format must do to a message before showing it.

A visible test's message, a runner's message and a policy finding can quote what the submission
raised or printed. In a terminal an ESC byte starts an escape sequence; in the Actions log a line that
begins with `::` is a workflow command; in a Markdown job summary `<img ...>`, `[text](url)` and
`**` are markup. Each function below makes text inert for one of those places; `printable`
(grading/sandbox/untrusted_text.py) is applied once, when the report is built, so no report carries
a control character.
"""
from __future__ import annotations

import re

from rich.markup import escape as rich_escape

from grading.sandbox.untrusted_text import printable

# What can start markup inside a line: links and images need "[", code "`", emphasis "*" or a "_" that
# is not inside a word (GitHub leaves snake_case alone), tables "|", mentions "@".
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]!|~@]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_AUTOLINK = re.compile(r"(://|www\.)", re.IGNORECASE)  # GitHub links bare URLs


def no_workflow_commands(text: str) -> str:
    """`text` that cannot form a GitHub workflow command (`::name ...::`) wherever a line break puts it."""
    return text.replace("::", ":\u200b:")


def markdown_inline(text: str) -> str:
    """`text` shown literally inside one line of Markdown (not at its start): HTML escaped, the
    punctuation that starts markup backslash-escaped, bare URLs broken, so no tag, link, image,
    emphasis or table cell boundary comes of it."""
    flat = " ".join(printable(text).split())
    html_safe = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    unlinked = _AUTOLINK.sub(lambda match: match.group(1)[:-1] + "\u200b" + match.group(1)[-1], html_safe)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked)


def terminal(text: str) -> str:
    """`text` for a Rich console: its markup (`[link=...]`) escaped, no control characters, no workflow command."""
    return rich_escape(no_workflow_commands(printable(text)))
