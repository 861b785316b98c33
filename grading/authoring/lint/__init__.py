"""`kata lint`: the forward-dependency and prerequisite-ordering audit.

Checks (select with --select): imports, concepts, patches, docstrings, manifest, layering (the
grader's own packages) and tests (what a test file may do when it is imported). Every rule reads its facts from the curriculum manifest of the tree being linted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grading.authoring import curriculum as curriculum_module
from grading.authoring.lint import concepts, docstrings, imports, layering, manifest_checks, patches, test_objects
from grading.authoring.lint.model import CHECKS, Pragma, SourceFile, Violation
from grading.authoring.lint.sources import discover


@dataclass
class LintResult:
    violations: list[Violation] = field(default_factory=list)
    pragmas: list[Pragma] = field(default_factory=list)
    files: list[SourceFile] = field(default_factory=list)
    grader_files: list[Path] = field(default_factory=list)  # read by the layering check

    @property
    def checked(self) -> int:
        """How many files the run read: the curriculum's and, with `layering`, the grader's."""
        return len(self.files) + len(self.grader_files)


def run(root: Path, select: tuple[str, ...] = CHECKS, only: list[Path] | None = None) -> LintResult:
    """Lint the repository at `root`; `only` limits the reported files to these paths."""
    result = LintResult()
    manifest = root / "grading" / "curriculum.toml"
    try:
        course = curriculum_module.parse(manifest.read_text(encoding="utf-8"), str(manifest))
    except (OSError, curriculum_module.ManifestError) as error:
        result.violations.append(Violation(manifest_checks.MANIFEST, 1, "manifest-invalid", str(error)))
        return result
    result.files = discover(root, course)
    found: list[Violation] = []
    if "imports" in select:
        found += imports.check(result.files, root, course)
    if "concepts" in select:
        found += concepts.check(result.files, course, result.pragmas)
    if "patches" in select:
        found += patches.check(result.files, course)
    if "docstrings" in select:
        found += docstrings.check(result.files, root)
    if "manifest" in select:
        found += manifest_checks.check(result.files, root, course)
    if "tests" in select:
        found += test_objects.check(result.files, course)
    if "layering" in select:
        result.grader_files = layering.grader_files(root)
        found += layering.check(result.grader_files, root, course)
    if only:
        wanted = [p.resolve() for p in only]
        found = [v for v in found if any((root / v.path).resolve().is_relative_to(w) for w in wanted)]
    result.violations = sorted(set(found))
    return result
