"""Rule group `tests`: a test file makes no object of the submission while it is being imported.

In judged mode every object of the submission lives in the sandboxed worker that made it. An object a
test file makes at import time (at module level, in a `parametrize` list, as a default argument) is
made in the first worker; once a timeout or a crash replaces that worker, every later test that uses
the object fails, although it never called the broken code. So a test makes its objects when it
runs: parametrize with the class (`[ReLU, GELU]`) or a factory (`lambda: Softmax(dim=2)`) instead.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator

from grading.authoring.curriculum import Curriculum
from grading.authoring.lint.model import SourceFile, Violation

TEST_KINDS = ("unit-test", "integration-test")


def package_names(tree: ast.Module, package: str) -> set[str]:
    """Names bound by importing from the curriculum's package (`from tinytorch... import X`, `import tinytorch`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == package:
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names
                         if alias.name.split(".")[0] == package)
    return names


def import_time_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node that runs when the file is imported: not the bodies of functions and lambdas, but
    their decorators and default arguments, and class bodies."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending += [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]
        elif isinstance(node, ast.Lambda):
            pending += [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]
        else:
            pending += list(ast.iter_child_nodes(node))


def _called_name(call: ast.Call) -> str | None:
    function = call.func
    while isinstance(function, ast.Attribute):
        function = function.value
    return function.id if isinstance(function, ast.Name) else None


def check(files: list[SourceFile], curriculum: Curriculum) -> Iterator[Violation]:
    for source in files:
        if source.kind not in TEST_KINDS or source.tree is None:
            continue
        names = package_names(source.tree, curriculum.package)
        for node in import_time_nodes(source.tree):
            if isinstance(node, ast.Call) and (name := _called_name(node)) in names:
                yield Violation(source.relative, node.lineno, "test-object-at-import",
                                f"`{ast.unparse(node)[:60]}` makes a submission object when the test file is "
                                "imported; make it inside the test (parametrize with the class or a lambda)",
                                name=name)
