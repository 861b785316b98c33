"""Rule group `patches`: only sanctioned hooks may modify classes defined by other modules.

Module 06's `enable_autograd` extends Tensor at run time (progressive disclosure); the manifest's
[patch_hooks] table names every such hook. Anything else that assigns attributes on a class it
imported from another module is a hidden coupling between modules.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator

from grading.authoring.curriculum import Curriculum
from grading.authoring.lint.model import SourceFile, Violation


def foreign_names(source: SourceFile, curriculum: Curriculum) -> dict[str, int]:
    """Names this file imported from other curriculum modules, with the module that defines them."""
    own = set(source.modules)
    names: dict[str, int] = {}
    for node in ast.walk(source.tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            owner = curriculum.module_for_import(node.module)
            if owner is not None and owner.number not in own:
                for alias in node.names:
                    names[alias.asname or alias.name] = owner.number
    return names


def _enclosing_function_names(tree: ast.Module) -> dict[int, list[str]]:
    """Map id(node) of every node to the names of the functions enclosing it (outermost first)."""
    enclosing: dict[int, list[str]] = {}

    def visit(node: ast.AST, stack: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = stack + [child.name] if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else stack
            enclosing[id(child)] = inner
            visit(child, inner)

    visit(tree, [])
    return enclosing


def _patched_target(node: ast.AST) -> ast.expr | None:
    """The object whose attribute an assignment or setattr() call changes."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute):
                return target.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr")
            and node.args):
        return node.args[0]
    return None


def check(files: list[SourceFile], curriculum: Curriculum) -> Iterator[Violation]:
    for source in files:
        if source.kind != "package" or source.tree is None or not source.modules:
            continue
        foreign = foreign_names(source, curriculum)
        if not foreign:
            continue
        hooks = {hook for number in source.modules for hook in curriculum.patch_hooks.get(number, ())}
        enclosing = _enclosing_function_names(source.tree)
        for node in ast.walk(source.tree):
            target = _patched_target(node)
            if not (isinstance(target, ast.Name) and target.id in foreign):
                continue
            if hooks & set(enclosing.get(id(node), [])):
                continue
            owner = curriculum.module(foreign[target.id])
            yield Violation(
                source.relative, node.lineno, "patch-foreign",
                f"modifies {target.id} (module {owner.label}, {owner.slug}) outside a sanctioned hook "
                f"(allowed hooks here: {sorted(hooks) or 'none'}; see [patch_hooks] in the manifest)",
                name=target.id,
            )
