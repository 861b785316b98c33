"""The grader's policy scan: what a submission's `tinytorch/` may not contain, checked before any of it runs.

The scan reads files and parses them with `ast`; it never imports or executes student code, never
follows a symlink and never opens anything but regular files. Every list it checks comes from the
manifest's `[policy]` table (`grading/curriculum.toml`); a missing key switches its check off.

Rules (the `rule` field of a violation):
  forbidden-import  `import X` / `from X[.sub] import ...` with X in `forbidden_imports`, anywhere in the file
  dynamic-code      a mention of a name in `dynamic_code` (`eval(...)`, `builtins.exec`, `x.__import__`)
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
  reads-tests       a non-docstring string constant matching a `forbidden_strings` regular expression
  file-type         a file under tinytorch/ that is not Python source (compiled code is named as such),
                    or that is not a regular file
  symlink           a symbolic link anywhere in the tree (never followed)
  file-size         a Python file larger than `max_file_bytes`
  submission-size   more than `max_files` files or `max_total_bytes` of Python under tinytorch/ (the scan
                    stops there, so a huge submission cannot stall the grader)
  encoding          a Python file that is not UTF-8 or declares another encoding
  unscannable       a Python file too deeply nested to analyse, or a file or directory that cannot be read

Files with a syntax error are skipped: the runner reports them with file and line.
"""
from __future__ import annotations

import ast
import io
import os
import re
import stat
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import translate
from pathlib import Path, PurePosixPath

from grading.curriculum import Curriculum, ManifestError

_ATTR_FUNCTIONS = ("getattr", "setattr", "delattr", "hasattr")
_MUTATING_METHODS = frozenset({
    "append", "insert", "extend", "remove", "pop", "clear", "update", "setdefault", "popitem", "sort",
    "reverse", "__setitem__", "__delitem__", "__iadd__", "__setattr__", "__delattr__",
})
_PLACEHOLDER = "\x00"  # stands for a part of a string that is only known at run time
_SNIPPET = 60
# Deeper string expressions are folded in pieces, so the scan's own recursion stays far below Python's
# limit for any file the compiler accepts; dotted names keep only their last _MAX_PARTS parts.
_MAX_DEPTH = 100
_MAX_PARTS = 16


@dataclass(frozen=True)
class PolicyViolation:
    path: str  # relative to the submission root, POSIX style: "tinytorch/core/tensor.py"
    line: int  # 1-based; 0 when not line-specific (a forbidden file type)
    rule: str  # short id: "forbidden-import"
    message: str  # one sentence: what was found, why it is not allowed, what to do
    module: int | None  # curriculum module owning the file; None for shared files (tinytorch/__init__.py)


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


@dataclass(frozen=True)
class Policy:
    """The manifest's [policy] table, validated and compiled."""

    package: str
    forbidden_imports: frozenset[str]
    import_reasons: dict[str, str]
    module_aliases: dict[str, str]
    named: tuple[tuple[str, re.Pattern | None], ...]  # (rule, compiled dotted-name patterns) in reporting order
    no_assign: re.Pattern | None
    introspection: frozenset[str]
    forbidden_strings: tuple[re.Pattern, ...]
    compiled_suffixes: tuple[str, ...]
    ignored_files: frozenset[str]
    max_file_bytes: int | None
    max_files: int | None
    max_total_bytes: int | None
    guarded: dict[str, str]  # module name -> rule, for modules named by dotted patterns

    @classmethod
    def from_curriculum(cls, curriculum: Curriculum) -> "Policy":
        raw = curriculum.policy
        patterns = []
        for pattern in _strings(raw, "forbidden_strings"):
            try:
                patterns.append(re.compile(pattern, re.IGNORECASE))
            except re.error as error:
                raise ManifestError(f"[policy] forbidden_strings: {pattern!r} is not a regular expression: {error}")
        limits = {}
        for key in ("max_file_bytes", "max_files", "max_total_bytes"):
            limit = limits[key] = raw.get(key)
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
                raise ManifestError(f"[policy] {key} must be a positive integer, found {limit!r}")
        named = (
            ("dynamic-code", _strings(raw, "dynamic_code")),
            ("builtins-tamper", _strings(raw, "builtins_tamper")),
            ("process-control", _strings(raw, "process_control")),
        )
        no_assign = _strings(raw, "no_assign")
        guarded: dict[str, str] = {}
        for rule, names in (*named, ("builtins-tamper", no_assign)):
            for name in names:
                head = name.split(".")[0]
                if "." in name and "*" not in head:
                    guarded.setdefault(head, rule)
        aliases = _table(raw, "module_aliases")
        for alias, target in aliases.items():
            if target in guarded:
                guarded.setdefault(alias, guarded[target])
        return cls(
            package=curriculum.package,
            forbidden_imports=frozenset(_strings(raw, "forbidden_imports")),
            import_reasons=_table(raw, "import_reasons"),
            module_aliases=aliases,
            named=tuple((rule, _names_pattern(names)) for rule, names in named),
            no_assign=_names_pattern(no_assign),
            introspection=frozenset(_strings(raw, "introspection")),
            forbidden_strings=tuple(patterns),
            compiled_suffixes=tuple(s.lower() for s in _strings(raw, "compiled_suffixes")),
            ignored_files=frozenset(_strings(raw, "ignored_files")),
            **limits,
            guarded=guarded,
        )


def _names_pattern(patterns: Iterable[str]) -> re.Pattern | None:
    """One regular expression for a list of fnmatch name patterns; a dotted pattern also matches as a
    suffix, so "os._exit" matches "pathlib.os._exit" too."""
    parts = []
    for pattern in patterns:
        parts.append(translate(pattern))
        if "." in pattern:
            parts.append(translate("*." + pattern))
    return re.compile("|".join(parts)) if parts else None


def _matches(dotted: str, pattern: re.Pattern | None) -> bool:
    return pattern is not None and pattern.match(dotted) is not None


# ---------------------------------------------------------------------------------------------- strings
@dataclass
class _Folded:
    text: str  # the string as far as it is known, run-time parts replaced by _PLACEHOLDER
    leaves: list[str]  # every constant piece it was built from
    nodes: list[ast.AST]  # every node consumed while folding (so each string is reported once)


def _fold(node: ast.AST, cache: dict[int, _Folded | None] | None = None, depth: int = 0) -> _Folded | None:
    """The text of a string expression built from constants, or None when `node` is not string-like.
    `cache` remembers results by node so a long expression is folded once, not once per sub-expression;
    below _MAX_DEPTH a part counts as unknown (the walk then folds that part on its own)."""
    if cache is None:
        cache = {}
    if depth > _MAX_DEPTH:
        return None
    key = id(node)
    if key not in cache:
        cache[key] = _fold_uncached(node, cache, depth + 1)
    return cache[key]


def _fold_uncached(node: ast.AST, cache: dict, depth: int) -> _Folded | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
        return _Folded(text, [text], [node])
    if isinstance(node, ast.JoinedStr):
        folded = _Folded("", [], [node])
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                folded.nodes.append(part)
                inner = _fold(part.value, cache, depth)
                if inner is not None and part.conversion == -1 and part.format_spec is None:
                    folded.text += inner.text
                else:
                    folded.text += _PLACEHOLDER
                for extra in (inner, _fold(part.format_spec, cache, depth) if part.format_spec else None):
                    if extra is not None:
                        folded.leaves += extra.leaves
                        folded.nodes += extra.nodes
            else:
                inner = _fold(part, cache, depth)
                if inner is not None:
                    folded.text += inner.text
                    folded.leaves += inner.leaves
                    folded.nodes += inner.nodes
        return folded
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        left = _fold(node.left, cache, depth)
        right = _fold(node.right, cache, depth) if isinstance(node.op, ast.Add) else None
        if left is None and right is None:
            return None
        if isinstance(node.op, ast.Mod):
            return _Folded(left.text, left.leaves, [node, *left.nodes])
        parts = [side or _Folded(_PLACEHOLDER, [], []) for side in (left, right)]
        return _Folded(parts[0].text + parts[1].text, parts[0].leaves + parts[1].leaves,
                       [node, *parts[0].nodes, *parts[1].nodes])
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], (ast.List, ast.Tuple))):
        separator = _fold(node.func.value, cache, depth)
        items = [_fold(element, cache, depth) for element in node.args[0].elts]
        if separator is not None and items and all(item is not None for item in items):
            return _Folded(separator.text.join(item.text for item in items),
                           separator.leaves + [leaf for item in items for leaf in item.leaves],
                           [node, *separator.nodes, *(n for item in items for n in item.nodes)])
    return None


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
    text = text.replace(_PLACEHOLDER, "{...}")
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 3] + "..."


# ---------------------------------------------------------------------------------------------- one file
class _FileScan:
    """All AST rules over one parsed file; yields (line, rule, message)."""

    def __init__(self, tree: ast.Module, policy: Policy):
        self.tree = tree
        self.policy = policy
        self.parents: dict[int, ast.AST] = {}
        self.aliases: dict[str, set[str]] = {}
        order: list[ast.AST] = []
        # One breadth-first walk (as ast.walk: every node before its children), remembering parents.
        self.nodes: list[ast.AST] = [tree]
        for node in self.nodes:  # the list grows while it is walked
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
                self.nodes.append(child)
            if isinstance(node, (ast.Name, ast.Attribute)):
                order.append(node)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    target = alias.name if alias.asname else alias.name.split(".")[0]
                    self.aliases.setdefault(bound, set()).add(self._canonical(target))
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                for alias in node.names:
                    if alias.name != "*":
                        dotted = f"{base}.{alias.name}" if node.module or not node.level else base + alias.name
                        self.aliases.setdefault(alias.asname or alias.name, set()).add(self._canonical(dotted))
        # ast.walk lists a node before its children, so the reverse resolves every attribute chain
        # bottom-up in one pass, however long the chain.
        self.resolved: dict[int, list[tuple[str, bool]]] = {}
        for node in reversed(order):
            self.resolved[id(node)] = self._resolve_one(node)

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
        for rule, patterns in self.policy.named:
            if _matches(dotted, patterns):
                return rule, dotted
        return None

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
            return (f"uses {shown}: it runs code built while the program runs, which can hide imports; "
                    f"write the code directly (if this is your own function, rename it)")
        if rule == "builtins-tamper":
            return (f"uses {shown}: changing Python's import system, tracing or built-in functions could "
                    f"interfere with the grader; remove it")
        return (f"uses {shown}: a submission may not start, signal or end processes or change resource "
                f"limits; remove it")

    # ------------------------------------------------------------------ the walk
    def run(self) -> Iterator[tuple[int, str, str]]:
        docstrings = _docstrings(self.nodes)
        consumed: set[int] = set(docstrings)
        cache: dict[int, _Folded | None] = {}
        for node in self.nodes:
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
            if id(node) not in consumed:
                folded = _fold(node, cache)
                if folded is not None:
                    consumed.update(id(n) for n in folded.nodes)
                    yield from self._string(node, folded)

    def _imports(self, node: ast.Import | ast.ImportFrom) -> Iterator[tuple[int, str, str]]:
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

    def _mention(self, node: ast.Name | ast.Attribute) -> Iterator[tuple[int, str, str]]:
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

    def _call(self, node: ast.Call) -> Iterator[tuple[int, str, str]]:
        line = node.lineno
        func = node.func
        if isinstance(func, ast.Name) and func.id in _ATTR_FUNCTIONS and len(node.args) >= 2:
            folded = _fold(node.args[1])
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

    def _assignment(self, target: ast.AST, line: int) -> Iterator[tuple[int, str, str]]:
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

    def _patched(self, dotted: str, line: int) -> Iterator[tuple[int, str, str]]:
        if _matches(dotted, self.policy.no_assign):
            return  # reported as builtins-tamper
        yield (line, "monkeypatch",
               f"changes {dotted}, which belongs to another library: the tests use those libraries to check "
               f"your work, so keep your changes inside {self.policy.package}")

    def _assigned(self, dotted: str, line: int) -> Iterator[tuple[int, str, str]]:
        if _matches(dotted, self.policy.no_assign):
            yield (line, "builtins-tamper",
                   f"changes {dotted.replace('?.', '')}: replacing or redirecting it would interfere with the "
                   f"grader; leave it as it is")

    @staticmethod
    def _introspection_message(attr: str) -> str:
        return (f"uses {attr}: reaching into call frames or function internals could read the tests' data; "
                f"remove it")

    def _string(self, node: ast.AST, folded: _Folded) -> Iterator[tuple[int, str, str]]:
        line = getattr(node, "lineno", 0)
        for text in (folded.text, *folded.leaves):
            for pattern in self.policy.forbidden_strings:
                match = pattern.search(text)
                if match:
                    yield (line, "reads-tests",
                           f"contains the text {_snippet(text)!r}, whose part {_snippet(match.group(0))!r} "
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


def _check_python(data: bytes, policy: Policy) -> Iterator[tuple[int, str, str]]:
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
    try:
        tree = ast.parse(data)  # decodes the way `import` would, honouring any coding line
    except (SyntaxError, ValueError, UnicodeError, LookupError):
        return  # the runner reports syntax errors with file and line
    except (RecursionError, MemoryError):
        yield (0, "unscannable", "is too deeply nested for the policy scan to read; simplify the code "
                                 "(split long expressions and deep nesting)")
        return
    try:
        found = list(_FileScan(tree, policy).run())
    except RecursionError:
        yield (0, "unscannable", "is too deeply nested for the policy scan to read; simplify the code "
                                 "(split long expressions and deep nesting)")
        return
    yield from found


def scan(submission_root: Path, curriculum: Curriculum) -> list[PolicyViolation]:
    """Policy violations in `submission_root`/tinytorch, sorted by path and line.

    Never raises on bad student files and never executes them; a missing `tinytorch/` gives [] (the runner
    reports it). Raises ManifestError only when the manifest's [policy] table itself is malformed.
    """
    policy = Policy.from_curriculum(curriculum)
    root = Path(submission_root)
    package = root / curriculum.package
    found: set[PolicyViolation] = set()

    def report(path: Path, line: int, rule: str, message: str) -> None:
        relative = path.relative_to(root).as_posix()
        owner = curriculum.module_for_path(PurePosixPath(relative))
        found.add(PolicyViolation(relative, line, rule, message, owner.number if owner else None))

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
        elif policy.max_file_bytes is not None and info.st_size > policy.max_file_bytes:
            report(path, 0, "file-size", f"is {info.st_size} bytes, more than the {policy.max_file_bytes}-byte "
                                         f"limit for one source file; remove generated or embedded data")
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
            for line, rule, message in _check_python(data, policy):
                report(path, line, rule, message)
    return sorted(found, key=_order)


def _read_regular(path: Path, limit: int | None) -> bytes:
    """Read a file without following a symlink swapped in after the walk, and never more than the limit."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        return handle.read(-1 if limit is None else limit + 1)


def _order(violation: PolicyViolation) -> tuple:
    return violation.path, violation.line, violation.rule, violation.message
