"""Rule group `imports`: code may use only modules in its prerequisite closure.

Every import form counts: absolute and relative, inside functions, inside try/except,
`importlib.import_module("...")` / `__import__("...")` with a literal, and
`from tinytorch import X`, resolved through the package's re-exports to the module defining X.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from grading.authoring.curriculum import Curriculum
from grading.authoring.lint.model import SourceFile, Violation


def reexports(root: Path, curriculum: Curriculum) -> dict[str, str]:
    """Map each name re-exported by reference/<package>/__init__.py to the module that defines it."""
    init = root / "reference" / curriculum.package / "__init__.py"
    if not init.is_file():
        return {}
    names: dict[str, str] = {}
    for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = node.module
    return names


def _package_of(source: SourceFile) -> list[str]:
    """Dotted package of a file under reference/ or stubs/ (for resolving relative imports)."""
    parts = list(Path(source.relative).with_suffix("").parts[1:])
    return parts if Path(source.relative).name == "__init__.py" else parts[:-1]


def import_targets(tree: ast.Module, package: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line, module, name) for every import in `tree`, whatever its form or position: `import a.b`
    gives (line, "a.b", ""), `from a import b` gives (line, "a", "b") with a relative import resolved
    against the file's dotted `package`, and `importlib.import_module("a.b")` gives (line, "a.b", "")."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield node.lineno, base, alias.name
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value, ""


def imported_names(source: SourceFile, exports: dict[str, str], package: str) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every import in the file, whatever its form or position."""
    for line, module, name in import_targets(source.tree, _package_of(source)):
        if name and module == package and name in exports:
            yield line, exports[name]
        elif name:
            yield line, f"{module}.{name}" if module else name
        else:
            yield line, module


def check(files: list[SourceFile], root: Path, curriculum: Curriculum) -> Iterator[Violation]:
    exports = reexports(root, curriculum)
    for source in files:
        if source.tree is None or source.kind == "support":
            continue
        if source.kind in ("unit-test", "integration-test", "milestone") and not source.modules:
            what = "REQUIRES = (...)" if source.kind == "milestone" else "pytestmark = pytest.mark.module(N)"
            yield Violation(source.relative, 1, "test-no-module",
                            f"{source.kind} declares no curriculum module: add `{what}`")
            continue
        if not source.modules:  # package __init__ files re-export everything by design
            continue
        unknown = [n for n in source.modules if n not in {m.number for m in curriculum}]
        if unknown:
            yield Violation(source.relative, 1, "manifest-unknown-module", f"declares unknown module(s) {unknown}")
            continue
        exact = source.kind in ("integration-test", "milestone")
        allowed: set[int] = set(source.modules)
        if not exact:
            for number in source.modules:
                allowed |= curriculum.allowed(number)
        for line, dotted in imported_names(source, exports, curriculum.package):
            target = curriculum.module_for_import(dotted)
            if target is None or target.number in allowed:
                continue
            rule = "import-undeclared" if exact else "import-forward"
            owner = ", ".join(f"{n:02d}" for n in source.modules)
            why = ("it is not among the modules this file declares" if exact
                   else f"module {owner} may only use modules {sorted(allowed)}")
            yield Violation(source.relative, line, rule,
                            f"imports {dotted} (module {target.label}, {target.slug}): {why}",
                            name=dotted, allowed=tuple(sorted(allowed)))
