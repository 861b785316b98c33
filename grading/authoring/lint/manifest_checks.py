"""Rule group `manifest`: the manifest and the tree agree.

The curriculum loader already rejects cycles, duplicates and unknown prerequisites (reported
here as `manifest-invalid`). This check adds the files: every built module (one not listed as
`planned`) has its reference file, its stub, a spec file and hidden unit tests; a planned module
has none of them yet; milestones declare modules that exist.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from grading.authoring.curriculum import Curriculum
from grading.authoring.lint.model import SourceFile, Violation

MANIFEST = "grading/curriculum.toml"


def expected_files(root: Path, curriculum: Curriculum, number: int) -> dict[str, bool]:
    module = curriculum.module(number)
    hidden = list((root / "hidden_tests" / "unit").glob(f"test_{module.label}_*.py"))
    return {
        f"reference/{module.relative_file}": (root / "reference" / module.relative_file).is_file(),
        f"stubs/{module.relative_file}": (root / "stubs" / module.relative_file).is_file(),
        f"spec/{module.spec_file}": (root / "spec" / module.spec_file).is_file(),
        f"hidden_tests/unit/test_{module.label}_*.py": bool(hidden),
    }


def check(files: list[SourceFile], root: Path, curriculum: Curriculum) -> Iterator[Violation]:
    for module in curriculum:
        present = expected_files(root, curriculum, module.number)
        if module.number in curriculum.planned:
            existing = [name for name, exists in present.items() if exists]
            if existing:
                yield Violation(MANIFEST, 1, "manifest-planned-exists",
                                f"module {module.label} ({module.slug}) is listed as planned but {existing[0]} exists: "
                                "remove it from `planned`", name=module.slug)
            continue
        for name, exists in present.items():
            if not exists:
                yield Violation(MANIFEST, 1, "manifest-missing-file",
                                f"module {module.label} ({module.slug}) is built but {name} is missing", name=name)
    known = {m.number for m in curriculum}
    for source in files:
        if source.kind == "milestone":
            for number in source.modules:
                if number not in known:
                    yield Violation(source.relative, 1, "manifest-unknown-module",
                                    f"milestone requires unknown module {number}", name=str(number))
