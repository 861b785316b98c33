"""Rule group `docstrings`: the stubs are "typed by docstring".

Students implement from the stubs, so every public callable there documents its arguments
with types, what it returns, what it raises and an example. The facts about a function's body
(does it return a value? raise?) are read from the reference version of the same function.
Dunder methods other than the class constructor are exempt (the operator's docstring on the
named method carries the contract); `__init__` is documented by the class docstring.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from grading.authoring.lint.model import SourceFile, Violation

SECTION = re.compile(r"^\s*(Args|Arguments|Returns|Raises|Examples?|Attributes|Yields):", re.MULTILINE)


def callables(tree: ast.Module) -> dict[str, ast.AST]:
    """Public functions, classes and methods by qualified name (private and dunder names skipped)."""
    found: dict[str, ast.AST] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if child.name.startswith("_"):
                    continue
                found[prefix + child.name] = child
                if isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return found


def _section(doc: str, name: str) -> str:
    """The body of one docstring section ("" when absent)."""
    match = re.search(rf"^\s*{name}:\s*$(?P<body>.*?)(?=^\s*\w+:\s*$|\Z)", doc, re.MULTILINE | re.DOTALL)
    return match["body"] if match else ""


def _parameters(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        if init is None:
            return []
        node = init
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [n for n in names if n not in ("self", "cls")]


def _is_property(node: ast.AST) -> bool:
    return any(isinstance(d, ast.Name) and d.id in ("property", "cached_property") for d in getattr(node, "decorator_list", []))


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function body, not descending into nested functions or classes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(child))


def returns_value(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None
               and not (isinstance(n.value, ast.Constant) and n.value.value is None) for n in _own_nodes(node))


def raises_explicitly(node: ast.AST) -> bool:
    for n in _own_nodes(node):
        if isinstance(n, ast.Raise) and n.exc is not None:
            exc = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            if getattr(exc, "id", None) != "NotImplementedError":
                return True
    return False


def check_function(relative: str, name: str, stub: ast.AST, reference: ast.AST | None) -> Iterator[Violation]:
    doc = ast.get_docstring(stub) or ""
    if not doc.strip():
        yield Violation(relative, stub.lineno, "docstring-missing", f"{name} has no docstring", name=name)
        return
    if _is_property(stub):
        return  # a one-line "type: meaning" docstring is the contract of a property
    body = reference if reference is not None else stub
    parameters = _parameters(stub)
    if parameters:
        args = _section(doc, "Args") or _section(doc, "Arguments")
        for parameter in parameters:
            if not re.search(rf"^\s*\*{{0,2}}{re.escape(parameter)}\s*\(.+\)\s*:", args, re.MULTILINE):
                yield Violation(relative, stub.lineno, "docstring-args",
                                f"{name}: argument {parameter!r} is not documented as `{parameter} (type): meaning` under Args:",
                                name=f"{name}({parameter})")
    if isinstance(stub, ast.ClassDef):
        return
    if returns_value(body) and not _section(doc, "Returns"):
        yield Violation(relative, stub.lineno, "docstring-returns", f"{name} returns a value but has no Returns: section", name=name)
    if raises_explicitly(body) and not _section(doc, "Raises"):
        yield Violation(relative, stub.lineno, "docstring-raises", f"{name} raises but has no Raises: section", name=name)
    if not re.search(r"^\s*Examples?:", doc, re.MULTILINE):
        yield Violation(relative, stub.lineno, "docstring-example", f"{name} has no Example: section", name=name)


def check(files: list[SourceFile], root: Path) -> Iterator[Violation]:
    for source in files:
        if source.kind != "package" or not source.relative.startswith("stubs/") or source.tree is None or not source.modules:
            continue
        reference_path = root / "reference" / Path(source.relative).relative_to("stubs")
        reference_tree = ast.parse(reference_path.read_text(encoding="utf-8")) if reference_path.is_file() else None
        stub_callables = callables(source.tree)
        reference_callables = callables(reference_tree) if reference_tree else {}
        for name, node in reference_callables.items():
            if name not in stub_callables:
                yield Violation(source.relative, 1, "docstring-swallowed",
                                f"{name} exists in the reference but not in the stub: a solution region swallowed its "
                                "signature (keep `def`/`class` lines and docstrings outside the markers)", name=name)
        for name, node in stub_callables.items():
            yield from check_function(source.relative, name, node, reference_callables.get(name))
