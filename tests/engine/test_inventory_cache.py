"""A grade keeps the inventory it collected against the reference, and a later grade with the same
tests, reference and software reads it instead of collecting again (grading/engine/inventory_cache.py)."""
import json

import pytest

from grading import REPO_ROOT
from grading.engine import inventory_cache, runner as runner_module
from grading.engine.runner import TestEntry as Entry
from grading.sandbox import confine as sandbox
from tests.support.grading import graded, runner

MODULE = 3


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("KATA_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def collections(monkeypatch):
    """The file lists of every inventory collection the grades below make."""
    made = []
    real = runner_module.collect_inventory

    def counted(workspace, package, files, settings):
        made.append(list(files))
        return real(workspace, package, files, settings)

    monkeypatch.setattr(runner_module, "collect_inventory", counted)
    return made


def _outcomes(report: dict) -> list[tuple[str, str, float]]:
    return [(t["nodeid"], t["outcome"], t["max_score"]) for t in runner(report, f"m{MODULE:02d}")["tests"]]


def test_a_kept_inventory_is_read_by_the_next_grade_never_without_the_sandbox_and_a_damaged_one_is_replaced(
        cache, collections, monkeypatch):
    first = graded(REPO_ROOT / "reference", modules=(MODULE,))
    assert len(collections) == 1
    (kept,) = cache.glob("inventory-*.json")
    whole = kept.read_text()

    second = graded(REPO_ROOT / "reference", modules=(MODULE,))
    assert len(collections) == 1, "the second grade collected nothing"
    assert _outcomes(first) == _outcomes(second) and first["score"] == second["score"] == second["max_score"]

    # Without a sandbox the submission runs with the grader's rights and could have written the cache.
    with monkeypatch.context() as unsandboxed:
        unsandboxed.setattr(sandbox, "isolation", lambda: sandbox.Isolation("none", reason="bubblewrap is not installed"))
        graded(REPO_ROOT / "reference", modules=(MODULE,))
    assert len(collections) == 2, "an unsandboxed grade collects for itself"

    kept.write_text(json.dumps({"format": inventory_cache.FORMAT, "key": kept.stem.removeprefix("inventory-"),
                                "entries": [{"nodeid": 3}]}))
    third = graded(REPO_ROOT / "reference", modules=(MODULE,))
    assert len(collections) == 3 and _outcomes(third) == _outcomes(first)
    assert kept.read_text() == whole and len(list(cache.iterdir())) == 1, "rewritten whole, nothing left behind"


def test_the_key_names_the_tests_the_reference_and_the_files():
    files = ["spec/test_03_layers.py"]
    reference = REPO_ROOT / "reference"
    one = inventory_cache.key("a" * 64, reference, files)
    assert one == inventory_cache.key("a" * 64, reference, files)
    assert one != inventory_cache.key("b" * 64, reference, files), "the tests' fingerprint"
    assert one != inventory_cache.key("a" * 64, REPO_ROOT / "stubs", files), "the reference's fingerprint"
    assert one != inventory_cache.key("a" * 64, reference, files + ["spec/test_02_activations.py"]), "the files"


@pytest.mark.parametrize("damage", [
    "not json",
    json.dumps({"format": inventory_cache.FORMAT, "key": "someone else's", "entries": []}),
    json.dumps({"format": inventory_cache.FORMAT + 1, "key": "k", "entries": []}),
    json.dumps({"format": inventory_cache.FORMAT, "key": "k", "entries": [{"nodeid": "x", "modules": [3],
                                                                           "points": 1, "path": "p", "line": "12"}]}),
    json.dumps({"format": inventory_cache.FORMAT, "key": "k"}),
], ids=["garbage", "another-key", "another-format", "line-not-an-int", "no-entries"])
def test_a_damaged_file_reads_as_none(cache, damage):
    cache.mkdir()
    (cache / "inventory-k.json").write_text(damage)
    assert inventory_cache.read("k") is None


def test_rows_round_trip(cache):
    entries = [Entry("spec/test_03_layers.py::test_a[1]", (3,), 0.25, "spec/test_03_layers.py", 12)]
    inventory_cache.write("k", entries)
    assert inventory_cache.read("k") == entries
    assert inventory_cache.read("absent") is None
