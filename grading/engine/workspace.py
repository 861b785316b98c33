"""The grader's private working directory: its own tests, its own pytest config, the packages.

Nothing of the submission is used but the `.py` files of its `tinytorch/` package. The tests,
conftest, manifest, pytest configuration, milestone programs and datasets come from the grader's
copies, so a student's edits to spec files, conftest.py, pytest.ini, pyproject.toml, milestones/,
datasets/ or workflows never reach a grade.

Layout:
    WORK/pytest.ini  conftest.py  curriculum.toml  spec/  hidden_tests/  canary/
    WORK/milestones/  datasets/                  what the hidden milestone tests run and read
    WORK/packages/submission/tinytorch/      the student's whole package (integrated mode)
    WORK/packages/isolated-06/tinytorch/     the student's module-06 file, the reference of its prerequisites
                                             (01-05) and the stubs of every other module (isolated mode)
    WORK/runs/<run id>/                      journal and output of each subprocess
    WORK/home/                               HOME and TMPDIR of the subprocesses
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from grading.authoring.curriculum import Curriculum, Module
from grading.authoring.stubgen import module_label, stub_source
from grading.engine.calibration import COSTS_FILE

PYTEST_INI = """\
# Written by `kata grade`: the only pytest configuration a graded run sees.
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
xfail_strict = true
filterwarnings = error::pytest.PytestUnknownMarkWarning
"""


@dataclass(frozen=True)
class Canary:
    """Two injected tests: one must pass and one must fail, or the run was tampered with."""

    path: str  # relative to WORK
    must_pass: str  # node ids
    must_fail: str


class Workspace:
    def __init__(self, root: Path):
        self.root = root
        self.home = root / "home"
        self.packages = root / "packages"
        self.runs = root / "runs"
        for folder in (self.home, self.packages, self.runs):
            folder.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ tests and configuration
    def install_tests(self, tests_root: Path, hidden: Path | None, manifest: Path) -> None:
        """Copy the grader's conftest, manifest, public trees (PUBLIC_TREES: spec/, milestones/,
        datasets/; an absent one becomes an empty folder) and (when given) the hidden tests."""
        shutil.copy2(tests_root / "conftest.py", self.root / "conftest.py")
        shutil.copy2(manifest, self.root / "curriculum.toml")
        (self.root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
        for folder, keep in PUBLIC_TREES:
            copy_tree(tests_root / folder, self.root / folder, keep)
        if hidden is not None:
            copy_python_tree(hidden, self.root / "hidden_tests")
        for source, folder in ((tests_root / "spec", "spec"), (hidden, "hidden_tests")):
            if source is not None and (source / COSTS_FILE).is_file():
                shutil.copy2(source / COSTS_FILE, self.root / folder / COSTS_FILE)

    def test_view(self, files: list[str]) -> list[Path]:
        """What a pytest process running `files` may see of the work directory: the harness
        (conftest, manifest, pytest.ini), the public spec folder (hidden tests import its oracles),
        the hidden test files among `files` with their packages' non-test modules, and the canaries
        among `files`. Never another hidden test file, never a package variant."""
        view = [self.root / name for name in ("conftest.py", "curriculum.toml", "pytest.ini")]
        view += [self.root / folder for folder, _ in PUBLIC_TREES]
        for relative in files:
            path = self.root / relative
            if relative.startswith("spec/"):
                continue
            view.append(path)
            folder = path.parent
            while folder != self.root:
                view += [p for p in sorted(folder.glob("*.py")) if not p.name.startswith("test_")]
                folder = folder.parent
        return list(dict.fromkeys(p for p in view if p.exists()))

    def tests_fingerprint(self) -> str:
        return tests_fingerprint(self.root, self.root / "curriculum.toml", self.root / "hidden_tests")

    def write_canary(self) -> Canary:
        """A test file with random names, so a submission cannot single the canaries out."""
        nonce = secrets.token_hex(6)
        first, second = f"test_{nonce}_a", f"test_{nonce}_b"
        passing, failing = (first, second) if secrets.randbelow(2) else (second, first)
        folder = self.root / "canary"
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text("", encoding="utf-8")
        relative = f"canary/test_check_{nonce}.py"
        (self.root / relative).write_text(
            f"def {passing}():\n    assert sum([1, 2]) == 3\n\n\ndef {failing}():\n    assert sum([1, 2]) == 4\n",
            encoding="utf-8",
        )
        return Canary(relative, f"{relative}::{passing}", f"{relative}::{failing}")

    # ------------------------------------------------------------------ package variants
    def integrated_package(self, submission: Path, package: str) -> Path:
        """WORK/packages/submission: a copy of the student's whole package."""
        destination = self.packages / "submission"
        copy_python_tree(submission / package, destination / package)
        return destination

    def isolated_package(self, reference: Path, submission: Path, module: Module, curriculum: Curriculum) -> Path:
        """The reference package with `module`'s file taken from the student.

        Only the module's prerequisites keep their solutions: every other module becomes its stub
        (as students receive it), so the student's code, running in this package, cannot read the
        solutions of later or unrelated modules. A student who has not written the module's file
        gets the package without it, so importing the module fails with ModuleNotFoundError
        (reported as a missing file).
        """
        package = curriculum.package
        destination = self.packages / f"isolated-{module.label}"
        copy_python_tree(reference / package, destination / package)
        solved = curriculum.closure(module.number)
        for other in curriculum:
            target = destination / other.relative_file
            if other.number not in solved and other.number != module.number and target.is_file():
                label = module_label(curriculum, other.relative_file)
                target.write_text(stub_source(target.read_text(encoding="utf-8"), str(target), label,
                                              other.relative_file.as_posix()), encoding="utf-8")
        target = destination / module.relative_file
        student_file = submission / module.relative_file
        if student_file.is_file() and not student_file.is_symlink():
            shutil.copyfile(student_file, target)
        else:
            target.unlink(missing_ok=True)
        return destination

    def run_folder(self, run_id: str) -> Path:
        folder = self.runs / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def is_python_file(name: str) -> bool:
    return name.endswith(".py")


def is_data_file(name: str) -> bool:
    """What a dataset folder ships: code, data and documentation, never caches or compiled files."""
    return not name.endswith((".pyc", ".pyo"))


# The grader's public folders the tests import, and which of their files count: the spec (its .py
# files), the milestone programs the hidden milestone tests run (.py) and the datasets they read (code,
# data files and the checksum list the data is verified against). Copied into every workspace, shown
# to every test process, and part of the tests fingerprint.
PUBLIC_TREES = (("spec", is_python_file), ("milestones", is_python_file), ("datasets", is_data_file))


CACHE_FOLDERS = ("__pycache__", ".pytest_cache")


def files_below(source: Path, keep=is_python_file, prune: tuple[str, ...] = ()) -> list[Path]:
    """The regular files below `source` whose names `keep` accepts (default: .py files), relative to
    it, sorted; symlinks, caches and the folders in `prune` (POSIX paths relative to `source`, such as
    "templates" or "classroom/templates") are skipped."""
    found: list[Path] = []
    for folder, subfolders, files in os.walk(source, followlinks=False):
        here = Path(folder).relative_to(source)
        subfolders[:] = sorted(d for d in subfolders if d not in CACHE_FOLDERS and (here / d).as_posix() not in prune
                               and not (Path(folder) / d).is_symlink())
        for name in files:
            path = Path(folder) / name
            if keep(name) and path.is_file() and not path.is_symlink():
                found.append(path.relative_to(source))
    return sorted(found)


def python_files(source: Path) -> list[Path]:
    """The regular .py files below `source`, relative to it, sorted."""
    return files_below(source, is_python_file)


def copy_tree(source: Path, destination: Path, keep=is_python_file, prune: tuple[str, ...] = ()) -> int:
    """Replace `destination` with a copy of the files below `source` that `keep` accepts, keeping the
    layout (and leaving out the folders in `prune`, paths relative to `source`)."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    files = files_below(source, keep, prune) if source.is_dir() and not source.is_symlink() else []
    for relative in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target)
    return len(files)


def copy_python_tree(source: Path, destination: Path) -> int:
    """Replace `destination` with a copy of the .py files below `source`, keeping the layout."""
    return copy_tree(source, destination, is_python_file)


def fingerprint(package_dir: Path, keep=is_python_file) -> str:
    """sha256 over the relative paths and bytes of every file below `package_dir` that `keep` accepts
    (default: the .py files)."""
    digest = hashlib.sha256()
    if package_dir.is_dir() and not package_dir.is_symlink():
        for relative in files_below(package_dir, keep):
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update((package_dir / relative).read_bytes() + b"\0")
    return digest.hexdigest()


def tests_fingerprint(tests_root: Path, manifest: Path, hidden: Path | None) -> str:
    """sha256 of everything that decides a grade besides the submission: conftest, manifest, spec,
    milestone programs, datasets and hidden tests. The same for the sources (`tests_root` holding
    conftest.py, spec/, milestones/, datasets/) and for a workspace's copies of them."""
    digest = hashlib.sha256()
    for path in (tests_root / "conftest.py", manifest):
        digest.update(path.read_bytes() + b"\0")
    for folder, keep in PUBLIC_TREES:
        digest.update(fingerprint(tests_root / folder, keep).encode())
    digest.update(fingerprint(hidden).encode() if hidden is not None else b"-")
    # The calibrated costs decide each test's CPU budget (grading/engine/calibration.py).
    for costs in (tests_root / "spec" / COSTS_FILE, hidden / COSTS_FILE if hidden is not None else None):
        digest.update(costs.read_bytes() if costs is not None and costs.is_file() else b"-")
    return digest.hexdigest()
