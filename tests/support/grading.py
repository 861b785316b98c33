"""Grading a submission from a test: a copy of a package with files changed, graded with fast limits.

Shared by the engine's, the judged harness's and the reports' tests. `graded` grades in direct mode
unless told `judged=True` (tests/judged/ grades in judged mode; tests/engine/ tests the direct
mode's own defences).
"""
from __future__ import annotations

import shutil
import textwrap
from dataclasses import replace
from pathlib import Path

from grading import REPO_ROOT
from grading.authoring import curriculum as curriculum_module
from grading.engine.grader import GradeOptions, grade
from grading.reports import report as report_module

COURSE = curriculum_module.load()
FAST = replace(COURSE.grading, test_cpu_seconds=2, run_cpu_seconds=60, import_cpu_seconds=6, stop_after_timeouts=2,
               memory_limit_mib=3072)


TARGET = "tinytorch/core/optimizers.py"


def submission(tmp_path: Path, source: Path = REPO_ROOT / "reference", **files: str | None) -> Path:
    """A copy of `source`'s tinytorch/ with files replaced (text), appended to (text starting with
    '+'), or removed (None). Keys are paths with '/' written as '__', e.g. tinytorch__core__optimizers_py."""
    root = tmp_path / "submission"
    shutil.copytree(source / "tinytorch", root / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    for key, text in files.items():
        path = root / key.replace("__", "/").replace("_py", ".py")
        if text is None:
            path.unlink()
        elif text.startswith("+"):
            path.write_text(path.read_text() + textwrap.dedent(text[1:]))
        else:
            path.write_text(textwrap.dedent(text))
    return root


def graded(root: Path, modules=(7,), judged: bool = False, **overrides) -> dict:
    """A grade of `root` with the FAST limits; direct unless judged (tests/judged/ grades in judged mode;
    tests/engine/ tests the direct mode's own defences)."""
    options = GradeOptions(submission=root, tests_root=REPO_ROOT, reference=REPO_ROOT / "reference",
                           hidden=REPO_ROOT / "hidden_tests", modules=list(modules), jobs=2, settings=FAST,
                           judged=judged)
    for key, value in overrides.items():
        setattr(options, key, value)
    report = report_module.build(grade(options, COURSE))
    report_module.validate(report)
    return report


def runner(report: dict, runner_id: str) -> dict:
    return next(r for r in report["modules"] if r["id"] == runner_id)


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


SGD_STEP = "def _update(self, value, grad, state):"


def patch_sgd(root_text: str, body: str) -> str:
    """Insert `body` as the first statements of SGD._update (the first _update after class SGD)."""
    start = root_text.index("class SGD")
    at = root_text.index(SGD_STEP, start) + len(SGD_STEP)
    indent = "\n        "
    return root_text[:at] + indent + indent.join(textwrap.dedent(body).strip().splitlines()) + root_text[at:]
