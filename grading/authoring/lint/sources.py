"""Find the repository's Python files and the curriculum modules each one belongs to."""
from __future__ import annotations

import ast
from pathlib import Path

from grading.authoring.curriculum import Curriculum
from grading.authoring.lint.model import SourceFile

PACKAGE_ROOTS = ("reference", "stubs")
TEST_ROOTS = ("spec", "hidden_tests")
MILESTONE_ROOT = "milestones"


def declared_test_modules(tree: ast.Module) -> tuple[int, ...]:
    """Numbers named by `pytest.mark.module(...)` anywhere in a test file (pytestmark or decorators)."""
    numbers: list[int] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "module"
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "mark"):
            numbers.extend(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, int))
    return tuple(dict.fromkeys(numbers))


def declared_milestone_modules(tree: ast.Module) -> tuple[int, ...]:
    """Numbers in a milestone's module-level `REQUIRES = (1, 2, 3)`."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "REQUIRES" for t in node.targets):
            if isinstance(node.value, (ast.Tuple, ast.List)):
                return tuple(e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, int))
    return ()


def _classify(relative: Path, tree: ast.Module | None, curriculum: Curriculum) -> tuple[str, tuple[int, ...]]:
    top = relative.parts[0]
    if top in PACKAGE_ROOTS:
        module = curriculum.module_for_path(relative)
        return "package", (module.number,) if module else ()
    if top in TEST_ROOTS and relative.name.startswith("test_"):
        kind = "integration-test" if "integration" in relative.parts else "unit-test"
        return kind, declared_test_modules(tree) if tree else ()
    if top == MILESTONE_ROOT and not relative.name.startswith("_"):
        return "milestone", declared_milestone_modules(tree) if tree else ()
    return "support", ()


def discover(root: Path, curriculum: Curriculum) -> list[SourceFile]:
    files: list[SourceFile] = []
    for top in (*PACKAGE_ROOTS, *TEST_ROOTS, MILESTONE_ROOT):
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts or (top in PACKAGE_ROOTS and curriculum.package not in relative.parts):
                continue
            text = path.read_text(encoding="utf-8")
            try:
                tree = ast.parse(text, filename=str(path))
            except SyntaxError:
                tree = None
            kind, modules = _classify(relative, tree, curriculum)
            files.append(SourceFile(path, relative.as_posix(), kind, modules, text, tree))
    return files
