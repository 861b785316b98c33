"""The grader's policy scan: what a submission's `tinytorch/` may not contain, checked before any of it runs.

The scan reads files and parses them with `ast`; it never imports or executes student code, never
follows a symlink and never opens anything but regular files. Every list it checks comes from the
manifest's `[policy]` table (`grading/curriculum.toml`); a missing key switches its check off, except for
the two limits that keep the scan itself bounded: `max_file_bytes` (default 1 MiB) and
`scan_steps_per_file` (default 2,000,000).

The scan is advisory: a fast, friendly first message about code that could not be graded fairly. The
boundary that has to hold against a determined submission is the sandbox its tests run in.

Its cost is bounded by work, never by time, so the same file gets the same findings on an idle machine
and on a busy one: nothing here reads a clock. Every check takes time linear in the file: strings are
searched with `str.find`, never with a regular expression that can backtrack, and no step multiplies two
things the student controls. A file is never read past `max_file_bytes`. The scan of one file may take
`scan_steps_per_file` steps (a step: one AST node visited or one string expression folded); a file that
needs more is reported instead of scanned. The reference's largest module takes about 10,000 steps, a
1 MiB file of dense generated code up to 3.4 million.

CPython's parser is the one part that cannot be stopped midway, so its work is predicted before it starts.
Measured on 3.11, 3.12 and 3.13 it is linear in the file for every shape tried (long operator, comparison
and attribute chains, calls with 80,000 arguments, deep nesting, 80,000 statements on one line, big number
and string literals, syntax errors that make it parse twice) except f-strings. For each `{...}`
placeholder, 3.11 walks from the start of the f-string to the placeholder to work out its line and column
(one f-string of 150,000 `{a}` takes 14 CPU seconds), and 3.12 and 3.13 measure the rest of the source
at each placeholder (measured here: 2,000 one-line f-strings followed by 2 MB take 0.6 s; 3.12's own
`tokenize` does the same to the rest of the line). Both walks stay within what _fstring_parse_bytes counts
before parsing: for every `{` in an f-string, the bytes from the f-string's line to the end of the file.
It finds the f-strings with `tokenize`, unless counting every `{` in the file already stays under the
limit. A file whose count passes _MAX_FSTRING_PARSE_BYTES (about 0.25 s of parsing) is reported instead
of parsed, with the same verdict on every Python version. Files bigger than _IN_PROCESS_BYTES are parsed
and scanned in a child process whose CPU time the kernel caps: a safety net against a slow input nobody
has found yet, set far above what any file within these limits takes; a file it stops is reported as
stopped by it.

Rules (the `rule` field of a violation):
  forbidden-import  `import X` / `from X[.sub] import ...` with X in `forbidden_imports`, anywhere in the file
  dynamic-code      a mention of a name in `dynamic_code` (`eval(...)`, `builtins.exec`, `x.__import__`,
                    `pkgutil.resolve_name`)
  builtins-tamper   a mention of a name in `builtins_tamper` (`__builtins__`, `sys.modules`, `sys.settrace`);
                    assigning, deleting or changing in place a name in `no_assign` (`sys.stdout = ...`,
                    `sys.path.insert(...)`); `from sys import *`
  process-control   a mention of a name in `process_control` (`os._exit`, `os.exec*`); `from os import *`
  introspection     an attribute in `introspection` (`f.__globals__`, `frame.f_locals`), also via getattr
  monkeypatch       assigning or deleting an attribute of anything imported from outside the package
                    (`np.testing.assert_allclose = ...`, `setattr(math, ...)`): the tests compare with those
                    libraries; patching the package's own classes (module 06's Tensor) stays allowed
  module-as-value   a module named by the rules above (os, sys, ...) used other than as `module.attribute`,
                    e.g. `m = os` or `vars(os)`: it would hide which of its functions are called
  reads-tests       a non-docstring string constant containing a `forbidden_strings` entry (plain text,
                    any case; `/` also stands for `\\` and for either end of the string, one `*` for a run
                    of file-name characters)
  file-type         a file under tinytorch/ that is not Python source (compiled code is named as such),
                    or that is not a regular file
  symlink           a symbolic link anywhere in the tree (never followed)
  file-size         a Python file larger than `max_file_bytes` (the scan reads no further)
  submission-size   more than `max_files` files or `max_total_bytes` of Python under tinytorch/ (the scan
                    stops there, so a huge submission cannot stall the grader)
  encoding          a Python file that is not UTF-8 or declares another encoding
  unscannable       a Python file too deeply nested to analyse, one the scan gave up on after
                    `scan_steps_per_file` steps, one whose f-strings would take the parser too long, one
                    that binds a name to more modules than the scan follows, one with more findings than
                    the scan lists (it stops there), or a file or directory that cannot be read

Files with a syntax error are skipped: the runner reports them with file and line.
"""
from __future__ import annotations

import ast
import gc
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import tokenize
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path, PurePosixPath

from grading import REPO_ROOT
from grading.authoring.curriculum import Curriculum, ManifestError

_ATTR_FUNCTIONS = ("getattr", "setattr", "delattr", "hasattr")
_MUTATING_METHODS = frozenset({
    "append", "insert", "extend", "remove", "pop", "clear", "update", "setdefault", "popitem", "sort",
    "reverse", "__setitem__", "__delitem__", "__iadd__", "__setattr__", "__delattr__",
})
_PLACEHOLDER = "\x00"  # stands for a part of a string that is only known at run time
_STRING_LIKE = (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Call)  # the nodes a string can be folded from
_SNIPPET = 60
# Deeper string expressions are folded in pieces, so the scan's own recursion stays far below Python's
# limit for any file the compiler accepts; dotted names keep only their last _MAX_PARTS parts.
_MAX_DEPTH = 100
_MAX_PARTS = 16
# A name that imports bind to more modules than this is reported rather than followed: each use of the
# name is resolved once per module, so 30,000 `import mN as x` and 60,000 uses of `x` would be 1.8e9 steps.
_MAX_BINDINGS = 8
# Past this many findings in one file the scan stops: one finding already zeroes the module, and a file of
# 200,000 `eval` lines would otherwise put 200,000 entries in the report.
_MAX_FINDINGS_PER_FILE = 100
_DEFAULT_MAX_FILE_BYTES = 1 << 20
_DEFAULT_SCAN_STEPS = 2_000_000  # see scan_steps_per_file in grading/curriculum.toml
# The most bytes CPython's parser may scan to place the f-string placeholders of one file, as counted by
# _fstring_parse_bytes (see the module docstring). Measured, 3.11 scans them at 1.9e9 a CPU second or faster,
# 3.12 and 3.13 at 5.6e9: at most about 0.25 s of parsing. The reference's largest count is 3.4e6.
_MAX_FSTRING_PARSE_BYTES = 500_000_000
# Files up to this size are scanned in this process: with the f-string placeholders bounded, CPython parsed
# every input measured at 0.6 MiB a CPU second or faster, so this much source parses in about 0.1 s at most.
# Bigger files go to a child process, whose CPU time the kernel can cap and whose memory is freed when it ends.
_IN_PROCESS_BYTES = 64 * 1024
# The child's CPU-time cap: a safety net, not a budget. The slowest 1 MiB files measured take about 5 s of
# CPU to parse and scan up to the work budget, so the net fires only on an input far slower than any measured.
_SAFETY_NET_CPU_SECONDS = 60

Finding = tuple[int, str, str]  # (line, rule, message) within one file


@dataclass(frozen=True)
class PolicyViolation:
    path: str  # relative to the submission root, POSIX style: "tinytorch/core/tensor.py"
    line: int  # 1-based; 0 when not line-specific (a forbidden file type)
    rule: str  # short id: "forbidden-import"
    message: str  # one sentence: what was found, why it is not allowed, what to do
    module: int | None  # curriculum module owning the file; None for shared files (tinytorch/__init__.py)


# ---------------------------------------------------------------------------------------------- patterns
# The characters `*` stands for in a forbidden_strings entry: letters, digits, `_`, `-` and the glob
# characters `*?[]`, so 'test_*.py' also catches the glob '**/test_[0-9]*.py'. This expression is only
# ever used to find the next character *outside* that set: a single character class, nothing to
# backtrack, so each search costs the distance it covers.
_NOT_FILE_NAME_CHARACTER = re.compile(r"[^\w*?\[\]-]")


def _searchable(text: str) -> str:
    """`text` as forbidden_strings entries are searched in: lower case, `\\` written `/`, and a `/` added
    at each end, so that '/spec/' matches 'spec', '../spec/x.py' and 'grading\\spec' alike."""
    return "/" + text.lower().replace("\\", "/") + "/"


@dataclass(frozen=True)
class TextPattern:
    """One forbidden_strings entry, split at its `*`; searched with str.find, so the cost is linear in
    the text whatever the text (the regular expressions this replaced backtracked for minutes)."""

    entry: str
    head: str
    tail: str | None  # the text after the `*`; None when the entry has no `*`

    @classmethod
    def parse(cls, entry: str) -> "TextPattern":
        if entry.count("*") > 1 or not entry.strip("/*") or "\0" in entry:
            raise ManifestError(f"[policy] forbidden_strings: {entry!r} must be text with at most one '*' "
                                f"(plain text is searched, not a regular expression)")
        head, star, tail = entry.lower().replace("\\", "/").partition("*")
        return cls(entry, head, tail if star else None)

    def search(self, text: str) -> tuple[int, int] | None:
        """(start, end) of the first match in a _searchable() text, or None."""
        if self.tail is None:
            start = text.find(self.head)
            return None if start < 0 else (start, start + len(self.head))
        return self._search_with_run(text)

    def _search_with_run(self, text: str) -> tuple[int, int] | None:
        # head, then a run of file-name characters, then tail. The run after a head occurrence ends at the
        # next character outside the set, and the tail can only start inside it. Every later head occurrence
        # that ends inside the same run has the same run end, so it cannot match either and is skipped:
        # each character is looked at a bounded number of times. (re.search with 'test_[\w...]*\.py' rescans
        # the rest of the run from every 'test_' in it: quadratic on 'test_test_test_...'.)
        start = 0
        while (found := text.find(self.head, start)) >= 0:
            run_start = found + len(self.head)
            outside = _NOT_FILE_NAME_CHARACTER.search(text, run_start)
            run_end = outside.start() if outside else len(text)
            tail = text.find(self.tail, run_start, run_end + len(self.tail))
            if tail >= 0:
                return found, tail + len(self.tail)
            start = max(found + 1, run_end - len(self.head) + 1)
        return None


def _glob_matches(name: str, pieces: tuple[str, ...]) -> bool:
    """Whether `name` matches pieces[0]*pieces[1]*...*pieces[-1], where `*` is any text: the first and last
    pieces anchor the ends, and taking each middle piece at its leftmost place is exact for this wildcard."""
    first, *middle, last = pieces
    if len(name) < len(first) + len(last) or not name.startswith(first) or not name.endswith(last):
        return False
    position, limit = len(first), len(name) - len(last)
    for piece in middle:
        position = name.find(piece, position, limit)
        if position < 0:
            return False
        position += len(piece)
    return True


def _whole_part(pattern: str) -> str | None:
    """A dotted part every name matching the glob `pattern` has, whole, or None: "os" for "*.os.exec*"
    (and "modules" for "*.sys.modules"), whose literal text has a dot on each side of it (or a dot on one
    side and the pattern's end, not a `*`, on the other)."""
    # The pattern's own ends bound a part just as a dot does, unless a `*` stands there.
    bounded = ("" if pattern.startswith("*") else ".") + pattern + ("" if pattern.endswith("*") else ".")
    parts = [part for piece in bounded.split("*") for part in piece.split(".")[1:-1] if part]
    return parts[-1] if parts else None


class NamePatterns:
    """The dotted-name patterns of one rule list. `*` is the only wildcard and matches any text, dots
    included, as in fnmatch; a dotted pattern also matches as a suffix, so "os._exit" matches
    "pathlib.os._exit". Matched with a set lookup, then only the globs filed under one of the name's parts,
    with startswith/endswith/find: the fnmatch.translate expressions this replaced were one alternation of
    ~60 branches, several starting with `.*`, tried against every name in the file."""

    def __init__(self, key: str, patterns: Iterable[str]):
        self.exact: set[str] = set()
        self.by_part: dict[str, list[tuple[str, ...]]] = {}  # globs filed under a part they require
        self.anywhere: list[tuple[str, ...]] = []  # globs with no such part: tried on every name
        for pattern in patterns:
            if "?" in pattern or "[" in pattern:
                raise ManifestError(f"[policy] {key}: {pattern!r} may use '*' as its only wildcard")
            self._add(pattern)
            if "." in pattern:
                self._add("*." + pattern)

    def _add(self, pattern: str) -> None:
        if "*" not in pattern:
            self.exact.add(pattern)
            return
        pieces = tuple(pattern.split("*"))
        part = _whole_part(pattern)
        if part is None:
            self.anywhere.append(pieces)
        else:
            self.by_part.setdefault(part, []).append(pieces)

    def matches(self, name: str) -> bool:
        if name in self.exact:
            return True
        for part in name.split(".") if self.by_part else ():
            if any(_glob_matches(name, pieces) for pieces in self.by_part.get(part, ())):
                return True
        return any(_glob_matches(name, pieces) for pieces in self.anywhere)


# ---------------------------------------------------------------------------------------------- policy
def _strings(policy: dict, key: str) -> tuple[str, ...]:
    value = policy.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ManifestError(f"[policy] {key} must be a list of strings, found {value!r}")
    return tuple(value)


def _table(policy: dict, key: str) -> dict[str, str]:
    value = policy.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ManifestError(f"[policy] {key} must be a table of strings, found {value!r}")
    return dict(value)


def _positive(policy: dict, key: str, kinds: tuple[type, ...], default: float | None) -> float | None:
    value = policy.get(key, default)
    if value is not None and (not isinstance(value, kinds) or isinstance(value, bool) or value <= 0):
        kind = "integer" if kinds == (int,) else "number"
        raise ManifestError(f"[policy] {key} must be a positive {kind}, found {value!r}")
    return value


# (rule, manifest key) of the lists of dotted names, in the order a name is checked against them.
_NAMED_RULES = (
    ("dynamic-code", "dynamic_code"),
    ("builtins-tamper", "builtins_tamper"),
    ("process-control", "process_control"),
)


@dataclass(frozen=True)
class Policy:
    """The manifest's [policy] table, validated and compiled."""

    package: str
    forbidden_imports: frozenset[str]
    import_reasons: dict[str, str]
    module_aliases: dict[str, str]
    named: tuple[tuple[str, NamePatterns], ...]  # (rule, dotted-name patterns) in reporting order
    no_assign: NamePatterns
    introspection: frozenset[str]
    forbidden_strings: tuple[TextPattern, ...]
    compiled_suffixes: tuple[str, ...]
    ignored_files: frozenset[str]
    max_file_bytes: int
    max_files: int | None
    max_total_bytes: int | None
    scan_steps_per_file: int
    guarded: dict[str, str]  # module name -> rule, for modules named by dotted patterns
    table: dict = field(repr=False, compare=False)  # the [policy] table as written, for a child scan

    @classmethod
    def from_curriculum(cls, curriculum: Curriculum) -> "Policy":
        return cls.from_table(curriculum.policy, curriculum.package)

    @classmethod
    def from_table(cls, raw: dict, package: str) -> "Policy":
        named = {rule: _strings(raw, key) for rule, key in _NAMED_RULES}
        no_assign = _strings(raw, "no_assign")
        aliases = _table(raw, "module_aliases")
        return cls(
            package=package,
            forbidden_imports=frozenset(_strings(raw, "forbidden_imports")),
            import_reasons=_table(raw, "import_reasons"),
            module_aliases=aliases,
            named=tuple((rule, NamePatterns(key, named[rule])) for rule, key in _NAMED_RULES),
            no_assign=NamePatterns("no_assign", no_assign),
            introspection=frozenset(_strings(raw, "introspection")),
            forbidden_strings=tuple(TextPattern.parse(entry) for entry in _strings(raw, "forbidden_strings")),
            compiled_suffixes=tuple(s.lower() for s in _strings(raw, "compiled_suffixes")),
            ignored_files=frozenset(_strings(raw, "ignored_files")),
            max_file_bytes=_positive(raw, "max_file_bytes", (int,), _DEFAULT_MAX_FILE_BYTES),
            max_files=_positive(raw, "max_files", (int,), None),
            max_total_bytes=_positive(raw, "max_total_bytes", (int,), None),
            scan_steps_per_file=_positive(raw, "scan_steps_per_file", (int,), _DEFAULT_SCAN_STEPS),
            guarded=_guarded_modules((*named.items(), ("builtins-tamper", no_assign)), aliases),
            table=dict(raw),
        )


def _guarded_modules(named: Iterable[tuple[str, tuple[str, ...]]], aliases: dict[str, str]) -> dict[str, str]:
    """Modules some dotted pattern names (os for "os._exit"), each with the rule of its first pattern."""
    guarded: dict[str, str] = {}
    for rule, names in named:
        for name in names:
            head = name.split(".")[0]
            if "." in name and "*" not in head:
                guarded.setdefault(head, rule)
    for alias, target in aliases.items():
        if target in guarded:
            guarded.setdefault(alias, guarded[target])
    return guarded


# ---------------------------------------------------------------------------------------------- budget
class _GaveUp(Exception):
    """A file's scan used up its work budget."""


class _WorkBudget:
    """The steps one file's scan may take: a step is one AST node visited or one string expression folded.
    Spent between small pieces of work, so the scan stops soon after the budget is used up, and at the same
    place on every machine: nothing here reads a clock."""

    def __init__(self, steps: int):
        self.steps = steps
        self.spent = 0

    def spend(self) -> None:
        self.spent += 1
        if self.spent > self.steps:
            raise _GaveUp


def _gave_up(steps: int) -> Finding:
    return (0, "unscannable",
            f"the policy scan gave up on this file after {steps} steps, its limit for one file; split very long "
            f"expressions, strings or generated code so the file can be checked")


# ---------------------------------------------------------------------------------------------- strings
@dataclass
class _Folded:
    text: str  # the string as far as it is known, run-time parts replaced by _PLACEHOLDER
    leaves: list[str]  # every constant piece it was built from
    nodes: list[ast.AST]  # every node consumed while folding (so each string is reported once)


def _left_chain(node: ast.AST, operator: type) -> tuple[list[ast.BinOp], ast.AST, list[ast.AST]]:
    """`a + b + c` is BinOp(BinOp(a, b), c): its BinOp links (outermost first), its leftmost operand and
    its right operands (left to right), found with a loop because Python nests such chains 3000 deep."""
    links, rights = [], []
    while isinstance(node, ast.BinOp) and isinstance(node.op, operator):
        links.append(node)
        rights.append(node.right)
        node = node.left
    return links, node, rights[::-1]


class _Folder:
    """Folds string expressions built from constants into their text. Results are remembered by node, so a
    long expression is folded once, not once per sub-expression; below _MAX_DEPTH a part counts as unknown
    (the walk then folds that part on its own)."""

    def __init__(self, budget: _WorkBudget):
        self.budget = budget
        self.cache: dict[int, _Folded | None] = {}

    def fold(self, node: ast.AST, depth: int = 0) -> _Folded | None:
        """The text of a string expression, or None when `node` is not string-like."""
        if depth > _MAX_DEPTH:
            return None
        key = id(node)
        if key not in self.cache:
            self.budget.spend()
            self.cache[key] = self._fold_uncached(node, depth + 1)
        return self.cache[key]

    def _fold_uncached(self, node: ast.AST, depth: int) -> _Folded | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            return _Folded(text, [text], [node])
        if isinstance(node, ast.JoinedStr):
            return self._f_string(node, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._sum(node, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return self._percent(node, depth)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
                and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], (ast.List, ast.Tuple))):
            return self._join(node, depth)
        return None

    def _f_string(self, node: ast.JoinedStr, depth: int) -> _Folded:
        pieces: list[str] = []  # joined once at the end: `text += piece` would copy the text every time
        folded = _Folded("", [], [node])
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                folded.nodes.append(part)
                inner = self.fold(part.value, depth)
                exact = inner is not None and part.conversion == -1 and part.format_spec is None
                pieces.append(inner.text if exact else _PLACEHOLDER)
                extras = (inner, self.fold(part.format_spec, depth) if part.format_spec else None)
            else:
                inner = self.fold(part, depth)
                pieces.append(inner.text if inner is not None else "")
                extras = (inner,)
            for extra in extras:
                if extra is not None:
                    folded.leaves += extra.leaves
                    folded.nodes += extra.nodes
        folded.text = "".join(pieces)
        return folded

    def _sum(self, node: ast.BinOp, depth: int) -> _Folded | None:
        # The whole chain at once: folding it link by link would copy the growing text and lists at each of
        # up to 3000 links.
        links, first, rights = _left_chain(node, ast.Add)
        parts = [self.fold(operand, depth) for operand in (first, *rights)]
        if all(part is None for part in parts):
            for link in links:  # no shorter chain inside is a string either; do not fold each again
                self.cache[id(link)] = None
            return None
        known = [part for part in parts if part is not None]
        return _Folded("".join(_PLACEHOLDER if part is None else part.text for part in parts),
                       [leaf for part in known for leaf in part.leaves],
                       [*links, *(n for part in known for n in part.nodes)])

    def _percent(self, node: ast.BinOp, depth: int) -> _Folded | None:
        # 'fmt % x % y': only the format is text known now; the operands are folded on their own.
        links, first, _ = _left_chain(node, ast.Mod)
        text = self.fold(first, depth)
        if text is None:
            for link in links:
                self.cache[id(link)] = None
            return None
        return _Folded(text.text, text.leaves, [*links, *text.nodes])

    def _join(self, node: ast.Call, depth: int) -> _Folded | None:
        separator = self.fold(node.func.value, depth)
        if separator is None:
            return None
        items = []
        for element in node.args[0].elts:
            item = self.fold(element, depth)
            if item is None:
                return None  # a part unknown now: the walk folds each element on its own
            items.append(item)
        if not items:
            return None
        return _Folded(separator.text.join(item.text for item in items),
                       separator.leaves + [leaf for item in items for leaf in item.leaves],
                       [node, *separator.nodes, *(n for item in items for n in item.nodes)])


def _docstrings(nodes: Iterable[ast.AST]) -> set[int]:
    ids = set()
    for node in nodes:
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                ids.add(id(first.value))
    return ids


def _snippet(text: str) -> str:
    shown = text[: _SNIPPET + 1].replace(_PLACEHOLDER, "{...}")  # cut first: the text may be megabytes long
    return shown if len(shown) <= _SNIPPET else shown[: _SNIPPET - 3] + "..."


def _forbidden_part(texts: list[str], patterns: tuple[TextPattern, ...]) -> str | None:
    """The part of the first of `texts` containing a forbidden_strings entry that the entry matched, or
    None. The texts are searched all at once, joined by NULs (no entry contains one and no `*` run crosses
    one), so a string glued from 100,000 constants costs one search per entry, not 100,000."""
    if not patterns:
        return None
    searchables = [_searchable(text) for text in texts]
    joined = "\0".join(searchables)
    first = min((span[0] for pattern in patterns if (span := pattern.search(joined))), default=None)
    if first is None:
        return None
    starts = list(accumulate((len(searchable) + 1 for searchable in searchables), initial=0))
    index = bisect_right(starts, first) - 1
    for pattern in patterns:
        span = pattern.search(searchables[index])
        if span is not None:
            return _matched_part(texts[index], searchables[index], span)
    return None  # not reached: some entry matched this text


def _matched_part(text: str, searchable: str, span: tuple[int, int]) -> str:
    # _searchable() added one character in front; lower() keeps positions unless it lengthened a character
    # (as it does 'İ'), in which case the lower-case part is shown.
    if len(searchable) == len(text) + 2:
        return text[max(span[0] - 1, 0): min(span[1] - 1, len(text))]
    return searchable[span[0]:span[1]].strip("/")
# ---------------------------------------------------------------------------------------------- one file
class _FileScan:
    """All AST rules over one parsed file; yields (line, rule, message)."""

    def __init__(self, tree: ast.Module, policy: Policy, budget: _WorkBudget):
        self.tree = tree
        self.policy = policy
        self.budget = budget
        self.folder = _Folder(budget)
        self.parents: dict[int, ast.AST] = {}
        self.aliases: dict[str, set[str]] = {}
        self.too_many_bindings: list[Finding] = []
        self.overbound: set[str] = set()
        self.named_rules: dict[str, tuple[str, str] | None] = {}
        order: list[ast.AST] = []
        # One breadth-first walk (as ast.walk: every node before its children), remembering parents.
        self.nodes: list[ast.AST] = [tree]
        for node in self.nodes:  # the list grows while it is walked
            budget.spend()
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
                self.nodes.append(child)
            if isinstance(node, (ast.Name, ast.Attribute)):
                order.append(node)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    target = alias.name if alias.asname else alias.name.split(".")[0]
                    self._bind(bound, self._canonical(target), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                for alias in node.names:
                    if alias.name != "*":
                        dotted = f"{base}.{alias.name}" if node.module or not node.level else base + alias.name
                        self._bind(alias.asname or alias.name, self._canonical(dotted), node.lineno)
        # ast.walk lists a node before its children, so the reverse resolves every attribute chain
        # bottom-up in one pass, however long the chain.
        self.resolved: dict[int, list[tuple[str, bool]]] = {}
        for node in reversed(order):
            budget.spend()
            self.resolved[id(node)] = self._resolve_one(node)

    def _bind(self, name: str, dotted: str, line: int) -> None:
        targets = self.aliases.setdefault(name, set())
        if dotted in targets:
            return
        if len(targets) < _MAX_BINDINGS:
            targets.add(dotted)
        elif name not in self.overbound:  # reported once per name, not once per extra import
            self.overbound.add(name)
            self.too_many_bindings.append((
                line, "unscannable",
                f"binds the name {name!r} to more than {_MAX_BINDINGS} different modules, more than the policy "
                f"scan follows; import each module under its own name"))

    def _canonical(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        head = self.policy.module_aliases.get(head, head)
        return f"{head}.{rest}" if rest else head

    # ------------------------------------------------------------------ name resolution
    def _resolve(self, node: ast.AST) -> list[tuple[str, bool]]:
        """Dotted names an expression may denote, each with whether its root was bound by an import
        ("?" stands for a root that is not a name, as in `f().attr`)."""
        return self.resolved.get(id(node), [])

    def _resolve_one(self, node: ast.Name | ast.Attribute) -> list[tuple[str, bool]]:
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return [(dotted, True) for dotted in sorted(self.aliases[node.id])]
            return [(node.id, False)]
        names = []
        for dotted, imported in self.resolved.get(id(node.value)) or [("?", False)]:
            dotted = f"{dotted}.{node.attr}"
            if dotted.count(".") > _MAX_PARTS:
                dotted = "?." + dotted.split(".", dotted.count(".") - _MAX_PARTS + 1)[-1]
            names.append((dotted, imported))
        return names

    def _named_rule(self, dotted: str) -> tuple[str, str] | None:
        # Remembered per name: one name (`np`, `self.data`) is typically looked up thousands of times.
        if dotted not in self.named_rules:
            self.named_rules[dotted] = next(
                ((rule, dotted) for rule, patterns in self.policy.named if patterns.matches(dotted)), None)
        return self.named_rules[dotted]

    def _is_guarded_module(self, dotted: str, imported: bool) -> str | None:
        """The rule guarding `dotted` when it denotes a guarded module (os, sys, ...), else None."""
        if not imported:
            return None
        last = dotted.rsplit(".", 1)[-1]
        return self.policy.guarded.get(last)

    # ------------------------------------------------------------------ messages
    @staticmethod
    def _named_message(rule: str, dotted: str) -> str:
        shown = dotted.replace("?.", "")
        if rule == "dynamic-code":
            return (f"uses {shown}: it runs code built or named while the program runs, which can hide imports; "
                    f"write the code directly (if this is your own function, rename it)")
        if rule == "builtins-tamper":
            return (f"uses {shown}: changing Python's import system, tracing or built-in functions could "
                    f"interfere with the grader; remove it")
        return (f"uses {shown}: a submission may not start, signal or end processes or change resource "
                f"limits; remove it")

    # ------------------------------------------------------------------ the walk
    def run(self) -> Iterator[Finding]:
        yield from self.too_many_bindings
        docstrings = _docstrings(self.nodes)
        consumed: set[int] = set(docstrings)
        for node in self.nodes:
            self.budget.spend()
            line = getattr(node, "lineno", 0)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield from self._imports(node)
            elif isinstance(node, (ast.Name, ast.Attribute)):
                yield from self._mention(node)
            if isinstance(node, ast.Call):
                yield from self._call(node)
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.For, ast.AsyncFor,
                                 ast.With, ast.AsyncWith, ast.NamedExpr)):
                for target in self._store_targets(node):
                    yield from self._assignment(target, line)
            if isinstance(node, _STRING_LIKE) and id(node) not in consumed:
                folded = self.folder.fold(node)
                if folded is not None:
                    consumed.update(id(n) for n in folded.nodes)
                    yield from self._string(node, folded)

    def _imports(self, node: ast.Import | ast.ImportFrom) -> Iterator[Finding]:
        if isinstance(node, ast.ImportFrom) and node.level:
            return  # relative imports stay inside the submission's own package
        module_names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for name in module_names:
            top = name.split(".")[0]
            if top in self.policy.forbidden_imports:
                reason = self.policy.import_reasons.get(top, "the course policy forbids it")
                yield (node.lineno, "forbidden-import",
                       f"imports '{name}': {reason}; remove the import")
        if isinstance(node, ast.ImportFrom) and node.module:
            module = self._canonical(node.module)
            if module.split(".")[0] in self.policy.forbidden_imports:
                return
            for alias in node.names:
                if alias.name == "*":
                    rule = self.policy.guarded.get(module.rsplit(".", 1)[-1])
                    if rule:
                        yield (node.lineno, rule,
                               f"'from {node.module} import *' brings in names a submission may not use; "
                               f"import only the names you need")
                    continue
                found = self._named_rule(f"{module}.{alias.name}")
                if found:
                    yield node.lineno, found[0], self._named_message(*found)
                if alias.name in self.policy.introspection:
                    yield node.lineno, "introspection", self._introspection_message(alias.name)

    def _mention(self, node: ast.Name | ast.Attribute) -> Iterator[Finding]:
        line = node.lineno
        if isinstance(node, ast.Attribute) and node.attr in self.policy.introspection:
            yield line, "introspection", self._introspection_message(node.attr)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id != "__builtins__":
            return  # binding a local name is not using the thing it shadows
        parent = self.parents.get(id(node))
        is_base = isinstance(parent, ast.Attribute) and parent.value is node
        for dotted, imported in self._resolve(node):
            found = self._named_rule(dotted)
            if found:
                yield line, found[0], self._named_message(*found)
            if not is_base and not isinstance(parent, (ast.Import, ast.ImportFrom)):
                rule = self._is_guarded_module(dotted, imported)
                if rule:
                    yield (line, "module-as-value",
                           f"uses the module {dotted} as a value, which hides which of its functions are called; "
                           f"call the functions you need directly, e.g. {dotted}.name(...)")
            if isinstance(node, ast.Attribute) and imported:
                head = self._resolve(node.value)
                if (node.attr.startswith("__") and node.attr.endswith("__")
                        and any(self._is_guarded_module(d, i) for d, i in head)):
                    yield (line, "module-as-value",
                           f"uses {dotted}, which reaches into the module's internals; "
                           f"call the functions you need directly")

    def _call(self, node: ast.Call) -> Iterator[Finding]:
        line = node.lineno
        func = node.func
        if isinstance(func, ast.Name) and func.id in _ATTR_FUNCTIONS and len(node.args) >= 2:
            folded = self.folder.fold(node.args[1])
            literal = folded is not None and _PLACEHOLDER not in folded.text
            if not literal and func.id in ("setattr", "delattr"):
                for dotted, imported in self._resolve(node.args[0]):
                    if self._is_library(dotted, imported):
                        yield from self._patched(f"{dotted}.<name>", line)
            if literal:
                attr = folded.text
                if attr in self.policy.introspection:
                    yield line, "introspection", self._introspection_message(attr)
                for dotted, imported in self._resolve(node.args[0]) or [("?", False)]:
                    full = f"{dotted}.{attr}"
                    found = self._named_rule(full)
                    if found:
                        yield line, found[0], self._named_message(*found)
                    if func.id in ("setattr", "delattr"):
                        yield from self._assigned(full, line)
                        if self._is_library(dotted, imported):
                            yield from self._patched(full, line)
        if isinstance(func, ast.Attribute) and func.attr in _MUTATING_METHODS:
            for dotted, _ in self._resolve(func.value):
                yield from self._assigned(dotted, line)

    @staticmethod
    def _store_targets(node: ast.AST) -> Iterator[ast.AST]:
        if isinstance(node, ast.Assign):
            pending = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.NamedExpr)):
            pending = [node.target]
        elif isinstance(node, ast.Delete):
            pending = list(node.targets)
        else:  # with ... as target
            pending = [item.optional_vars for item in node.items if item.optional_vars is not None]
        while pending:
            target = pending.pop()
            if isinstance(target, (ast.Tuple, ast.List)):
                pending.extend(target.elts)
            elif isinstance(target, ast.Starred):
                pending.append(target.value)
            else:
                yield target

    def _assignment(self, target: ast.AST, line: int) -> Iterator[Finding]:
        # `sys.stdout = x`, `sys.path[0] = x`, `sys.stdout.write = f`: the target or any base it hangs off.
        if isinstance(target, ast.Attribute):
            for dotted, imported in self._resolve(target):
                if self._is_library(dotted, imported):
                    yield from self._patched(dotted, line)
        while isinstance(target, (ast.Attribute, ast.Subscript)):
            for dotted, _ in self._resolve(target):
                yield from self._assigned(dotted, line)
            target = target.value
        if isinstance(target, ast.Name):
            for dotted, imported in self._resolve(target):
                if imported:  # `from sys import stdout` then `stdout = x` only rebinds a local name
                    continue
                yield from self._assigned(dotted, line)

    def _is_library(self, dotted: str, imported: bool) -> bool:
        """Whether an import-bound dotted name lives outside the submission's own package."""
        package = self.policy.package
        return imported and not dotted.startswith(".") and dotted != package and not dotted.startswith(package + ".")

    def _patched(self, dotted: str, line: int) -> Iterator[Finding]:
        if self.policy.no_assign.matches(dotted):
            return  # reported as builtins-tamper
        yield (line, "monkeypatch",
               f"changes {dotted}, which belongs to another library: the tests use those libraries to check "
               f"your work, so keep your changes inside {self.policy.package}")

    def _assigned(self, dotted: str, line: int) -> Iterator[Finding]:
        if self.policy.no_assign.matches(dotted):
            yield (line, "builtins-tamper",
                   f"changes {dotted.replace('?.', '')}: replacing or redirecting it would interfere with the "
                   f"grader; leave it as it is")

    @staticmethod
    def _introspection_message(attr: str) -> str:
        return (f"uses {attr}: reaching into call frames or function internals could read the tests' data; "
                f"remove it")

    def _string(self, node: ast.AST, folded: _Folded) -> Iterator[Finding]:
        line = getattr(node, "lineno", 0)
        part = _forbidden_part([folded.text, *folded.leaves], self.policy.forbidden_strings)
        if part is not None:
            yield (line, "reads-tests",
                   f"contains the text {_snippet(folded.text)!r}, whose part {_snippet(part)!r} "
                   f"names the tests or the grader; a submission may not read or refer to test files "
                   f"or grading output, so remove it")
            return
        parent = self.parents.get(id(node))
        if (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
                and parent.func.id in _ATTR_FUNCTIONS and len(parent.args) > 1 and parent.args[1] is node):
            return  # getattr(x, "name") is judged as x.name by _call
        for text in (folded.text, *folded.leaves):
            if text in self.policy.introspection:
                yield line, "introspection", self._introspection_message(text)
                return
            found = self._named_rule(text) if text.startswith("__") and text.endswith("__") else None
            if found:
                yield line, found[0], self._named_message(*found)
                return


# ---------------------------------------------------------------------------------------------- the tree
def _walk(top: Path) -> Iterator[tuple[Path, str, os.stat_result | None]]:
    """(path, kind, lstat) for every entry under `top`, depth-first, sorted, never following symlinks.
    kind is "file", "symlink", "other" or "unreadable"; directories are descended, not yielded."""
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError:
            yield directory, "unreadable", None
            continue
        subdirectories = []
        for entry in listing:
            path = Path(entry.path)
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                yield path, "unreadable", None
                continue
            if stat.S_ISLNK(info.st_mode):
                yield path, "symlink", info
            elif stat.S_ISDIR(info.st_mode):
                subdirectories.append(path)
            elif stat.S_ISREG(info.st_mode):
                yield path, "file", info
            else:
                yield path, "other", info
        stack.extend(reversed(subdirectories))


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


_TOO_DEEP = (0, "unscannable", "is too deeply nested for the policy scan to read; simplify the code "
                               "(split long expressions and deep nesting)")
_TOO_MANY_FINDINGS = (0, "unscannable", f"has more than {_MAX_FINDINGS_PER_FILE} policy findings; the scan stopped "
                                        f"listing them there, so fix the ones listed first")
_FSTRINGS_TOO_COSTLY = (0, "unscannable", "has so many {...} placeholders in f-strings (or `{` on long lines) that "
                                          "Python's parser could take too long to read it, so the policy scan did "
                                          "not parse it; split long f-strings and long lines")


def _check_python(data: bytes, policy: Policy) -> Iterator[Finding]:
    """The findings in one Python file, as found; the last says why the scan stopped early, if it did."""
    budget = _WorkBudget(policy.scan_steps_per_file)
    try:
        for count, finding in enumerate(_check_source(data, policy, budget), start=1):
            if count > _MAX_FINDINGS_PER_FILE:
                yield _TOO_MANY_FINDINGS
                return
            yield finding
    except _GaveUp:
        yield _gave_up(budget.steps)


def _check_source(data: bytes, policy: Policy, budget: _WorkBudget) -> Iterator[Finding]:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        yield (getattr(error, "lineno", None) or 1, "encoding",
               f"declares an encoding Python does not know ({error.msg}); save the file as UTF-8 "
               f"and remove the coding line")
        return
    if encoding not in ("utf-8", "utf-8-sig"):
        yield (1, "encoding", f"declares the encoding {encoding!r}; save the file as UTF-8 and remove the "
                              f"coding line, because the grader reads every file as UTF-8")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        yield (_line_of(data, error.start), "encoding",
               f"is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); save the file "
               f"as UTF-8")
    if _fstring_parse_bytes(data, encoding) > _MAX_FSTRING_PARSE_BYTES:
        yield _FSTRINGS_TOO_COSTLY  # the parse could not be interrupted, so it is not started
        return
    try:
        tree = ast.parse(data)  # decodes the way `import` would, honouring any coding line
    except (SyntaxError, ValueError, UnicodeError, LookupError):
        return  # the runner reports syntax errors with file and line
    except (RecursionError, MemoryError):
        yield _TOO_DEEP
        return
    try:
        yield from _FileScan(tree, policy, budget).run()
    except RecursionError:
        yield _TOO_DEEP


# ---------------------------------------------------------------------------------------------- parse cost
# From Python 3.12 an f-string is many tokens, from FSTRING_START to FSTRING_END (3.14 tokenizes t-strings
# the same way; they are counted alike, though not measured).
_STRING_STARTS = {getattr(tokenize, name) for name in ("FSTRING_START", "TSTRING_START") if hasattr(tokenize, name)}
_STRING_ENDS = {getattr(tokenize, name) for name in ("FSTRING_END", "TSTRING_END") if hasattr(tokenize, name)}


def _fstring_parse_bytes(data: bytes, encoding: str) -> int:
    """An upper bound of the bytes CPython's parser scans to place the placeholders of the file's f-strings
    (see the module docstring): each `{` inside an f-string, escaped or not, counts the bytes from the start
    of the f-string's line to the end of the file. The same number on every Python version."""
    try:
        text = _as_parsed(data, encoding)
    except LookupError:
        return 0  # not a text encoding: the parser cannot decode the file either
    every_brace = text.count("{") * len(text.encode("utf-8"))
    if every_brace <= _MAX_FSTRING_PARSE_BYTES:
        return every_brace  # even if every `{` opened a placeholder: no need to find the f-strings
    lines = _Lines(text)
    if lines.braces_times_sizes() > _MAX_FSTRING_PARSE_BYTES:
        # Python 3.12's own tokenize would be as slow on these lines as its parser. Checked on every
        # version, so that a file gets the same verdict on all.
        return every_brace
    try:
        return sum(text.count("{", lines.offset(start), lines.offset(end)) * lines.bytes_to_end(start)
                   for start, end in _fstring_spans(text))
    except (tokenize.TokenError, SyntaxError):
        return every_brace  # where the parser would stop reading is unclear: assume it reads everything


def _as_parsed(data: bytes, encoding: str) -> str:
    """The file's text with its newlines made `\\n`, as CPython's parser reads it. Bytes that do not decode
    become U+FFFD, whose three UTF-8 bytes only lengthen the text."""
    return data.decode(encoding, errors="replace").replace("\r\n", "\n").replace("\r", "\n")


class _Lines:
    """The lines of a text: where each starts (in characters) and how many UTF-8 bytes lie from there to
    the end of the text."""

    def __init__(self, text: str):
        self.lines = text.split("\n")
        self.sizes = [len(line.encode("utf-8")) + 1 for line in self.lines]  # its newline included
        self.sizes[-1] -= 1  # the last line has none
        self.starts = list(accumulate((len(line) + 1 for line in self.lines), initial=0))
        self.to_end = list(accumulate(reversed(self.sizes)))[::-1]

    def offset(self, position: tuple[int, int]) -> int:
        row, column = position  # as tokenize gives it: 1-based row, column in characters
        return self.starts[row - 1] + column

    def bytes_to_end(self, position: tuple[int, int]) -> int:
        return self.to_end[position[0] - 1]

    def braces_times_sizes(self) -> int:
        """Each line's `{` count times its size, added up: a bound on what Python 3.12's tokenize spends
        measuring the rest of the line at each `{`."""
        return sum(line.count("{") * size for line, size in zip(self.lines, self.sizes))


def _fstring_spans(text: str) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every f-string not inside another, found with Python's own `tokenize`: one STRING
    token up to 3.11, FSTRING_START to FSTRING_END from 3.12, the same span either way."""
    depth = 0
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.STRING and _is_fstring(token.string):
            yield token.start, token.end
        elif token.type in _STRING_STARTS:
            if depth == 0:
                start = token.start
            depth += 1
        elif token.type in _STRING_ENDS:
            depth -= 1
            if depth == 0:
                yield start, token.end


def _is_fstring(literal: str) -> bool:
    prefix = literal[: len(literal) - len(literal.lstrip("bBrRuUfF"))]
    return "f" in prefix.lower()


# ---------------------------------------------------------------------------------------------- big files
def _check_file(data: bytes, policy: Policy) -> list[Finding]:
    if len(data) <= _IN_PROCESS_BYTES:
        return list(_check_python(data, policy))
    return _check_in_child(data, policy)


# The child scan: the [policy] table and package name as one JSON line, then the file's bytes, on stdin;
# one finding per line of JSON on stdout, written as found. Its CPU-time limit comes as an argument, so
# that the child sets it before doing anything else.
_CHILD_PROGRAM = ("import sys; sys.path.insert(0, sys.argv[1]); from grading.engine.policy import _child_main; "
                  "_child_main(int(sys.argv[2]))")


def _check_in_child(data: bytes, policy: Policy) -> list[Finding]:
    """_check_python in a separate Python whose CPU time the kernel caps at _SAFETY_NET_CPU_SECONDS: a
    safety net for a parser input that the f-string check does not foresee, since nothing in this process
    could stop CPython's parser. It has no wall-clock limit: a busy machine slows it, never changes it."""
    header = json.dumps({"policy": policy.table, "package": policy.package}, default=str).encode() + b"\n"
    command = [sys.executable, "-I", "-c", _CHILD_PROGRAM, str(REPO_ROOT), str(_SAFETY_NET_CPU_SECONDS)]
    child = subprocess.run(command, input=header + data, capture_output=True)
    found = _findings_from(child.stdout)
    if child.returncode == -signal.SIGXCPU:
        found.append((0, "unscannable", f"stopped the policy scan's safety net: its checker used more than "
                                        f"{_SAFETY_NET_CPU_SECONDS} s of CPU time on this file, far more than any "
                                        f"file within the scan's work limit needs; simplify the file"))
    elif child.returncode != 0:
        found.append((0, "unscannable", f"could not be read by the policy scan (its checker failed with exit "
                                        f"status {child.returncode}); simplify the file"))
    return found


def _findings_from(output: bytes) -> list[Finding]:
    found = []
    for line in output.splitlines():
        try:
            number, rule, message = json.loads(line)
        except (ValueError, TypeError):
            continue  # the last line of a stopped child may be cut short
        found.append((number, rule, message))
    return found


def _limit_cpu_seconds(seconds: int) -> None:
    """Have the kernel stop this process with SIGXCPU once it has used `seconds` of CPU time (and kill it a
    second later, should it survive that), without writing a core file."""
    import resource  # POSIX only, like the sandbox the grader runs in; imported here so the module loads anywhere

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY and hard <= seconds + 1:
        return  # a lower limit is in place already, and a process cannot raise it
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def _child_main(cpu_seconds: int) -> None:
    """Entry point of the child scan (see _CHILD_PROGRAM)."""
    _limit_cpu_seconds(cpu_seconds)
    # This process lives for one file and its garbage is freed when it exits. Left on, the cyclic collector
    # re-walks the whole growing tree again and again: 3-5 times the scan's own time on a big file.
    gc.disable()
    settings = json.loads(sys.stdin.buffer.readline())
    data = sys.stdin.buffer.read()
    policy = Policy.from_table(settings["policy"], settings["package"])
    for finding in _check_python(data, policy):
        sys.stdout.write(json.dumps(finding) + "\n")
        sys.stdout.flush()


def scan(submission_root: Path, curriculum: Curriculum) -> list[PolicyViolation]:
    """Policy violations in `submission_root`/tinytorch, sorted by path and line.

    Never raises on bad student files and never executes them; a missing `tinytorch/` gives [] (the runner
    reports it). Raises ManifestError only when the manifest's [policy] table itself is malformed.
    """
    policy = Policy.from_curriculum(curriculum)
    root = Path(submission_root)
    package = root / curriculum.package
    found: set[PolicyViolation] = set()
    owners: dict[Path, tuple[str, int | None]] = {}

    def report(path: Path, line: int, rule: str, message: str) -> None:
        if path not in owners:
            relative = path.relative_to(root).as_posix()
            owner = curriculum.module_for_path(PurePosixPath(relative))
            owners[path] = relative, owner.number if owner else None
        relative, module = owners[path]
        found.add(PolicyViolation(relative, line, rule, message, module))

    if package.is_symlink():
        report(package, 0, "symlink", f"{curriculum.package}/ is a symbolic link; submit the real directory")
        return sorted(found, key=_order)
    if not package.is_dir():
        return []
    files = total = 0
    for path, kind, info in _walk(package):
        name = path.name
        files += 1
        if policy.max_files is not None and files > policy.max_files:
            report(package, 0, "submission-size",
                   f"holds more than {policy.max_files} files, more than a submission needs; the scan stopped "
                   f"there, so remove generated or copied files")
            break
        if kind == "unreadable":
            report(path, 0, "unscannable", "cannot be read by the grader; check its permissions")
        elif kind == "symlink":
            report(path, 0, "symlink", "is a symbolic link, which could point at the tests or outside the "
                                       "submission; replace it with the real file")
        elif kind == "other":
            report(path, 0, "file-type", "is not a regular file (a device, socket or pipe); remove it")
        elif name.endswith(".pyc") and path.parent.name == "__pycache__":
            continue  # Python's own cache; the runner does not copy it
        elif name.lower().endswith(policy.compiled_suffixes):
            report(path, 0, "file-type", "is compiled code; compiled code is not allowed because the grader "
                                         "checks and runs Python source only, so remove it and submit the .py source")
        elif name in policy.ignored_files:
            continue
        elif not name.endswith(".py"):
            report(path, 0, "file-type", f"is not a Python source file; only .py files belong in "
                                         f"{curriculum.package}/, so remove it")
        elif info.st_size > policy.max_file_bytes:
            report(path, 0, "file-size", _too_big(f"{info.st_size} bytes", policy.max_file_bytes))
        else:
            total += info.st_size
            if policy.max_total_bytes is not None and total > policy.max_total_bytes:
                report(package, 0, "submission-size",
                       f"holds more than {policy.max_total_bytes} bytes of Python source, more than a submission "
                       f"needs; the scan stopped at {path.relative_to(root).as_posix()}, so remove generated or "
                       f"copied files")
                break
            try:
                data = _read_regular(path, policy.max_file_bytes)
            except OSError:
                report(path, 0, "unscannable", "cannot be read by the grader; check its permissions")
                continue
            if len(data) > policy.max_file_bytes:  # it grew after it was listed; how far is never read
                report(path, 0, "file-size", _too_big(f"more than {policy.max_file_bytes} bytes",
                                                      policy.max_file_bytes))
                continue
            for line, rule, message in _check_file(data, policy):
                report(path, line, rule, message)
    return sorted(found, key=_order)


def _too_big(size: str, limit: int) -> str:
    return (f"is {size}, more than the {limit}-byte limit for one source file, so the policy scan did not "
            f"read it; remove generated or embedded data")


def _read_regular(path: Path, limit: int) -> bytes:
    """Read a file without following a symlink swapped in after the walk, and never more than one byte past
    the limit (enough to tell that it is too big)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        return handle.read(limit + 1)


def _order(violation: PolicyViolation) -> tuple:
    return violation.path, violation.line, violation.rule, violation.message
