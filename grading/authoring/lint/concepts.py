"""Rule group `concepts`: text must not name concepts before the curriculum teaches them.

Docstrings, comments and string literals (error and test messages) of a file belonging to
module N may use a glossary term only if the term's module is in N's closure. A deliberate
preview carries a pragma on that line: `# lint: allow TERM -- reason`.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator

from grading.authoring.curriculum import Curriculum
from grading.authoring.lint.model import Pragma, SourceFile, Violation

PRAGMA = re.compile(r"#\s*lint:\s*allow\s+(?P<term>[^#]+?)\s*(?:--\s*(?P<reason>.*\S))?\s*$")


def text_lines(source: SourceFile) -> Iterator[tuple[int, int, str]]:
    """(line, last line of its statement, text) for each comment line and each line of a string literal."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source.text).readline))
    except (tokenize.TokenError, SyntaxError):
        return
    for token in tokens:
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.start[0], token.string
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for offset, line in enumerate(node.value.splitlines()):
                yield node.lineno + offset, node.end_lineno, line


def pragmas(source: SourceFile) -> dict[int, list[tuple[str, str | None]]]:
    """Pragmas by line: [(term, reason or None)]."""
    found: dict[int, list[tuple[str, str | None]]] = {}
    for number, line in enumerate(source.text.splitlines(), start=1):
        match = PRAGMA.search(line)
        if match:
            found.setdefault(number, []).append((match["term"].strip().lower(), match["reason"]))
    return found


def _term_pattern(term: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.IGNORECASE)


def check(files: list[SourceFile], curriculum: Curriculum, pragma_log: list[Pragma]) -> Iterator[Violation]:
    glossary = [(term, owner, _term_pattern(term)) for term, owner in curriculum.glossary().items()]
    for source in files:
        if source.tree is None or not source.modules or source.kind == "support":
            continue
        known = [n for n in source.modules if n in {m.number for m in curriculum}]
        allowed: set[int] = set()
        for number in known:
            allowed |= curriculum.allowed(number)
        file_pragmas = pragmas(source)
        for line, entries in file_pragmas.items():
            for term, reason in entries:
                if reason:
                    pragma_log.append(Pragma(source.relative, line, term, reason))
                else:
                    yield Violation(source.relative, line, "pragma-no-reason",
                                    f"pragma allowing {term!r} gives no reason: write `# lint: allow {term} -- why`",
                                    name=term)
        reported: set[tuple[int, str]] = set()
        for line, statement_end, text in text_lines(source):
            if PRAGMA.search(text):
                text = PRAGMA.sub("", text)
            for term, owner, pattern in glossary:
                if owner in allowed or (line, term) in reported or not pattern.search(text):
                    continue
                excused = {t for ln in {line, statement_end} for t, _ in file_pragmas.get(ln, [])}
                if term in excused:
                    continue
                reported.add((line, term))
                yield Violation(
                    source.relative, line, "concept-leak",
                    f"{term!r} is taught in module {owner:02d}, outside this file's modules' closure",
                    name=term, allowed=tuple(sorted(allowed)),
                )
