"""What the lint reports: violations, rules and the files it reads."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

# Every rule id, grouped by the check (`--select`) that produces it.
RULES: dict[str, str] = {
    "import-forward": "imports",
    "import-undeclared": "imports",
    "test-no-module": "imports",
    "concept-leak": "concepts",
    "pragma-no-reason": "concepts",
    "patch-foreign": "patches",
    "docstring-missing": "docstrings",
    "docstring-args": "docstrings",
    "docstring-returns": "docstrings",
    "docstring-raises": "docstrings",
    "docstring-example": "docstrings",
    "docstring-swallowed": "docstrings",
    "manifest-invalid": "manifest",
    "manifest-missing-file": "manifest",
    "manifest-planned-exists": "manifest",
    "manifest-unknown-module": "manifest",
    "layer-back-import": "layering",
    "layer-undeclared": "layering",
    "layer-unparsable": "layering",
    "test-object-at-import": "tests",
}
CHECKS = ("imports", "concepts", "patches", "docstrings", "manifest", "layering", "tests")


@dataclass(frozen=True, order=True)
class Violation:
    path: str
    line: int
    rule: str
    message: str
    name: str = ""
    allowed: tuple[int, ...] = ()

    @property
    def check(self) -> str:
        return RULES[self.rule]


@dataclass(frozen=True)
class Pragma:
    path: str
    line: int
    term: str
    reason: str


@dataclass
class SourceFile:
    """One Python file of the repository with the modules it belongs to."""

    path: Path
    relative: str
    kind: str  # "package" (reference/stubs), "unit-test", "integration-test", "milestone", "support"
    modules: tuple[int, ...]
    text: str
    tree: ast.Module | None = None
    declared_at: int = 1
    notes: list[str] = field(default_factory=list)
