"""The kata test harness, shared by spec/ (visible) and hidden_tests/ (held out).

It lives at the repository root so that one copy serves every test root:
  * chooses which `tinytorch` is imported: --submission PATH, else $TINYTORCH_SUBMISSION,
    else reference/ (instructor repo) or the repository root (student template);
  * registers the `module(n, ...)` and `points(n)` markers plus one `mNN` marker per module,
    so `pytest spec -m m06` selects a module; `--modules 1-3,6` does the same by number;
  * registers the Hypothesis profiles `dev` (students) and `grading` (reproducible scores);
  * gives each test a NumPy generator seeded from its node id (`rng` fixture);
  * records NumPy's comparison functions before the submission is imported and fails a test
    around which the submission replaced one (`_oracles_untouched`).
"""
from __future__ import annotations

import os
import sys
import tomllib
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings

ROOT = Path(__file__).resolve().parent
# The manifest sits in grading/ in the repository; the grader's work directory holds it at its root.
MANIFEST = next((p for p in (ROOT / "grading" / "curriculum.toml", ROOT / "curriculum.toml") if p.is_file()),
                ROOT / "grading" / "curriculum.toml")
PACKAGE = "tinytorch"

# ---------------------------------------------------------------- Hypothesis profiles
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "grading", max_examples=40, derandomize=True, database=None, deadline=None,
    print_blob=False, suppress_health_check=[HealthCheck.too_slow],
    # A grade needs pass/fail, not a minimal counterexample: skipping the shrink phase keeps
    # failing submissions as fast to grade as passing ones.
    phases=(Phase.explicit, Phase.generate),
)
settings.register_profile(
    # `kata test` explains a failure with it: the grading profile's examples (derandomized, so the
    # same failure is found every time) and then Hypothesis' shrinking, for a small counterexample.
    "explain", max_examples=40, derandomize=True, database=None, deadline=None, print_blob=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    # Maintainers only (`make soak`): many random examples, no example database, so a test that can
    # fail a correct implementation by chance is found before a student meets it. Pair it with
    # --hypothesis-seed=N to make a run repeatable.
    "soak", max_examples=int(os.environ.get("TINYTORCH_SOAK_EXAMPLES", "400")), database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("TINYTORCH_HYPOTHESIS_PROFILE", "dev"))


def _manifest_modules() -> list[dict]:
    with MANIFEST.open("rb") as handle:
        return tomllib.load(handle)["module"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinytorch kata")
    group.addoption(
        "--submission", default=None, metavar="PATH",
        help="directory containing the tinytorch/ package to test (default: $TINYTORCH_SUBMISSION, "
        "else reference/ when present, else the repository root)",
    )
    group.addoption(
        "--modules", default=None, metavar="SELECTION",
        help="run only tests of these modules, e.g. 6 or 1-3,6 (a test of several modules runs if any is selected)",
    )


def resolve_submission(option: str | None) -> Path:
    """The directory whose tinytorch/ package the tests import."""
    chosen = option or os.environ.get("TINYTORCH_SUBMISSION")
    if chosen:
        path = Path(chosen).expanduser().resolve()
        if path.name == PACKAGE and (path / "__init__.py").is_file():
            path = path.parent
    elif (ROOT / "reference" / PACKAGE).is_dir():
        path = ROOT / "reference"
    else:
        path = ROOT
    if not (path / PACKAGE / "__init__.py").is_file():
        raise pytest.UsageError(
            f"--submission: expected a directory containing {PACKAGE}/__init__.py, got {path}"
        )
    return path


def _put_submission_first(path: Path) -> None:
    # The chosen package must win over an installed tinytorch and over modules imported earlier.
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != path]
    sys.path.insert(0, str(path))


def _parse_selection(text: str) -> set[int]:
    chosen: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise pytest.UsageError(f"--modules: expected numbers or ranges like 1-3,6, got {part!r}")
        chosen.update(range(int(low), int(high or low) + 1))
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "module(*numbers): the curriculum module(s) a test belongs to")
    config.addinivalue_line("markers", "points(n): points the test is worth (default 1)")
    for entry in _manifest_modules():
        config.addinivalue_line("markers", f"m{entry['number']:02d}: tests of module {entry['number']:02d} ({entry['slug']})")
    submission = resolve_submission(config.getoption("--submission"))
    config.stash[SUBMISSION_KEY] = submission
    if config.getoption("--kata-judged", default=None):
        # The grader's judged mode: `tinytorch` is its proxy package and the submission runs in
        # another process, which cannot reach this one's NumPy: nothing to guard.
        config.stash[ORACLES_KEY] = {}
        return
    config.stash[ORACLES_KEY] = _snapshot_oracles()  # before any submission code runs
    _put_submission_first(submission)
    _import_submission_now()


def _import_submission_now() -> None:
    """Import tinytorch while the submission is first on sys.path, so later path changes
    (pytest prepends test directories) cannot swap in another copy. A submission that fails
    to import is left alone here: every test that imports it then fails with the real error."""
    try:
        __import__(PACKAGE)
    except (Exception, SystemExit):  # noqa: BLE001 -- reported by each test's own import, not hidden
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


SUBMISSION_KEY = pytest.StashKey[Path]()
ORACLES_KEY = pytest.StashKey[dict]()

# ---------------------------------------------------------------- oracles a submission cannot replace
# The tests decide equality with NumPy (numpy.testing, np.allclose, ...). A submission that replaced
# one of those functions could make any comparison pass, so every name in these modules is recorded
# before the submission is imported and checked around every test.
def _snapshot_oracles() -> dict[str, dict[str, object]]:
    """Every loaded NumPy module (the comparisons call deep into numpy._core) and math."""
    import numpy.testing  # noqa: F401 -- loads numpy.testing._private.utils too

    names = sorted(name for name in sys.modules if name == "math" or name == "numpy" or name.startswith("numpy."))
    return {name: dict(vars(sys.modules[name])) for name in names if sys.modules[name] is not None}


def _replaced_oracles(snapshot: dict[str, dict[str, object]]) -> list[str]:
    """Names whose value changed since the snapshot; each is put back as it was."""
    changed = []
    for module_name, original in snapshot.items():
        namespace = vars(sys.modules[module_name])
        for name, value in original.items():
            if namespace.get(name, _MISSING) is not value:
                changed.append(f"{module_name}.{name}")
                namespace[name] = value
    return changed


_MISSING = object()


@pytest.fixture(autouse=True)
def _oracles_untouched(request: pytest.FixtureRequest):
    """Fail a test during which (or before which) the submission replaced a NumPy function the tests
    compare with; the originals are restored, so later tests compare honestly again."""
    snapshot = request.config.stash[ORACLES_KEY]
    before = _replaced_oracles(snapshot)
    if before:
        pytest.fail(f"tampering: the submission replaced {', '.join(before[:3])} (functions the tests compare with)")
    yield
    after = _replaced_oracles(snapshot)
    if after:
        pytest.fail(f"tampering: the submission replaced {', '.join(after[:3])} (functions the tests compare with)")


def module_numbers(item: pytest.Item) -> tuple[int, ...]:
    """Modules a test declares with @pytest.mark.module(...) (file-level pytestmark included)."""
    numbers: list[int] = []
    for mark in item.iter_markers("module"):
        numbers.extend(mark.args)
    return tuple(dict.fromkeys(numbers))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for number in module_numbers(item):
            item.add_marker(f"m{number:02d}")
    selection = config.getoption("--modules")
    if selection:
        chosen = _parse_selection(selection)
        kept = [item for item in items if chosen & set(module_numbers(item))]
        dropped = [item for item in items if item not in kept]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    return f"tinytorch submission: {config.stash[SUBMISSION_KEY]}  (hypothesis profile: {settings.get_current_profile_name()})"


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A NumPy generator seeded from the test's node id: reproducible, different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
