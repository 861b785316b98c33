"""Rule group `layering`: the grader's own packages import only what the manifest's [grader] table allows.

The grader is layered like the curriculum: `cli` on top, `sandbox` and `authoring` at the bottom. A
back-import (the engine reaching into `classroom`, the sandbox into the engine) would make the security
boundary depend on code that runs outside it, so it fails with the file and line, as a forward import
between curriculum modules does. Every import form counts: absolute and relative, inside functions,
and `importlib.import_module("...")` with a literal.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from grading.authoring.curriculum import Curriculum
from grading.authoring.lint.imports import import_targets
from grading.authoring.lint.model import Violation

GRADER = "grading"


def grader_files(root: Path) -> list[Path]:
    """The grader's Python files below root/grading, sorted (caches skipped)."""
    return sorted(p for p in (root / GRADER).rglob("*.py") if "__pycache__" not in p.parts)


def _owner(relative: Path, curriculum: Curriculum) -> str | None:
    """The package a file belongs to: grading/<name>/..., the entry package for grading/__main__.py,
    None for grading/__init__.py (the base every package may import, which imports none of them)."""
    parts = relative.parts
    if len(parts) > 2:
        return parts[1]
    return (curriculum.grader.entry or None) if parts[-1] == "__main__.py" else None


def check(files: list[Path], root: Path, curriculum: Curriculum) -> Iterator[Violation]:
    layers = curriculum.grader
    for path in files:
        relative = path.relative_to(root)
        if len(relative.parts) == 2 and relative.name not in ("__init__.py", "__main__.py"):
            yield Violation(relative.as_posix(), 1, "layer-undeclared",
                            "a module at the top of grading/ belongs to no package: move it into the package it serves")
            continue
        owner = _owner(relative, curriculum)
        if owner is not None and owner not in layers.imports:
            yield Violation(relative.as_posix(), 1, "layer-undeclared",
                            f"grading/{owner}/ is not a package of the manifest's [grader.packages] table")
            continue
        allowed = layers.allowed(owner) | {owner} if owner else frozenset()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError as error:
            yield Violation(relative.as_posix(), error.lineno or 1, "layer-unparsable", f"cannot be parsed: {error.msg}")
            continue
        except (UnicodeDecodeError, ValueError) as error:  # not UTF-8, or a NUL byte
            yield Violation(relative.as_posix(), 1, "layer-unparsable", f"cannot be read as Python source: {error}")
            continue
        for line, module, name in import_targets(tree, list(relative.parent.parts)):
            dotted = f"{module}.{name}" if name else module
            parts = dotted.split(".")
            if parts[0] != GRADER or len(parts) < 2 or parts[1] not in layers.imports or parts[1] in allowed:
                continue
            who = f"grading/{owner}" if len(relative.parts) > 2 else relative.as_posix()
            others = sorted(allowed - {owner})
            may = f"may import only {', '.join(others)}" if others else "may import no other grader package"
            yield Violation(relative.as_posix(), line, "layer-back-import",
                            f"imports {dotted} (package {parts[1]}): {who} {may}", name=dotted)
