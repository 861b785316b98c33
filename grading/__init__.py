"""The `kata` tool: curriculum manifest, stub generator, test runner, grader, lint and release."""
from pathlib import Path

# The tree this package sits in: the instructor's master repository, or a student template that
# `kata release` wrote (which has tinytorch/ at its root and no reference/).
REPO_ROOT = Path(__file__).resolve().parent.parent


def default_submission() -> Path:
    """The package every tool works on unless told otherwise: reference/ in the master repository
    (the instructor's solution), else the tree itself (a student's template, ./tinytorch)."""
    reference = REPO_ROOT / "reference"
    return reference if reference.is_dir() else REPO_ROOT


def in_master_repository() -> bool:
    """True in the instructor's master repository (it holds the reference solution)."""
    return (REPO_ROOT / "reference").is_dir()


def import_path_env() -> dict[str, str]:
    """What a subprocess needs in its environment to import this `grading` package: nothing in the
    master repository (installed there), the folder above grading/ in a student template, which
    runs the grader uninstalled as `python -m grading`."""
    return {} if in_master_repository() else {"PYTHONPATH": str(REPO_ROOT)}
