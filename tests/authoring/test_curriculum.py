"""The curriculum manifest loads, validates and answers prerequisite questions."""
import pytest

from grading.authoring import curriculum as curriculum_module
from grading.authoring.curriculum import ManifestError, parse

MODULE_TEMPLATE = """
[[module]]
number = {number}
slug = "{slug}"
title = "{slug}"
tier = "foundation"
track = "foundation"
path = "tinytorch.core.{slug}"
requires = {requires}
points = 10
systems = "x"
concepts = {concepts}
"""


def manifest(*modules: dict) -> str:
    text = 'package = "tinytorch"\ntiers = ["foundation"]\n'
    for spec in modules:
        text += MODULE_TEMPLATE.format(**{"requires": [], "concepts": [], **spec})
    return text


@pytest.fixture(scope="module")
def course():
    return curriculum_module.load()


def test_real_manifest_has_twenty_modules_numbered_in_order(course):
    assert [m.number for m in course] == list(range(1, 21))
    assert course.module(1).path == "tinytorch.core.tensor"
    assert course.module("autograd").number == 6 and course.module("06").slug == "autograd"


def test_the_readme_module_table_agrees_with_the_manifest(course):
    import re

    from grading import REPO_ROOT

    rows = re.findall(r"^\| (\d\d) \| ([^|]+) \| `([^`]+)` \| ([^|]+) \| [^|]+ \| ([^|]+) \|$",
                      (REPO_ROOT / "README.md").read_text(), re.MULTILINE)
    expected = [(f"{m.number:02d}", m.title, m.path, ", ".join(f"{r:02d}" for r in m.requires) or "–", m.systems)
                for m in course]
    assert [tuple(cell.strip() for cell in row) for row in rows] == expected


def test_closure_is_transitive_and_keeps_tracks_parallel(course):
    assert course.closure(1) == frozenset()
    assert course.closure(8) == frozenset(range(1, 8))
    assert 9 not in course.closure(12), "the language track must not depend on the vision module"
    assert course.closure(14) >= {9, 13, 12, 1}
    assert course.allowed(6) == frozenset(range(1, 7))


def test_module_for_path_and_import(course):
    assert course.module_for_path("reference/tinytorch/core/tensor.py").number == 1
    assert course.module_for_path("stubs/tinytorch/perf/quantization.py").number == 15
    assert course.module_for_path("spec/test_06_autograd.py").number == 6
    assert course.module_for_path("README.md") is None
    assert course.module_for_import("tinytorch.core.spatial").number == 9
    assert course.module_for_import("numpy") is None


def test_glossary_maps_terms_to_their_module(course):
    glossary = course.glossary()
    assert glossary["gradient"] == 6 and glossary["kv cache"] == 18 and glossary["broadcasting"] == 1


def test_selection_parsing(course):
    assert course.parse_selection("1-3,6") == [1, 2, 3, 6]
    assert course.parse_selection("tensor,08") == [1, 8]
    for bad in ("0", "21", "3-1", "nope", ""):
        with pytest.raises(ValueError):
            course.parse_selection(bad)


def test_small_valid_manifest():
    course = parse(manifest({"number": 1, "slug": "a"}, {"number": 2, "slug": "b", "requires": [1]}))
    assert course.closure(2) == {1}


@pytest.mark.parametrize("modules,fragment", [
    (({"number": 1, "slug": "a"}, {"number": 1, "slug": "b"}), "duplicate number"),
    (({"number": 1, "slug": "a"}, {"number": 2, "slug": "a"}), "duplicate slug"),
    (({"number": 1, "slug": "a", "requires": [3]},), "unknown module 3"),
    (({"number": 1, "slug": "a", "requires": [2]}, {"number": 2, "slug": "b", "requires": [1]}), "cycle"),
    (({"number": 1, "slug": "a", "concepts": ["x"]}, {"number": 2, "slug": "b", "concepts": ["x"]}), "introduced twice"),
])
def test_invalid_manifests_are_rejected_with_a_reason(modules, fragment):
    with pytest.raises(ManifestError, match=fragment):
        parse(manifest(*modules))


def test_missing_field_and_wrong_type_are_named():
    with pytest.raises(ManifestError, match="missing field 'points'"):
        parse(manifest({"number": 1, "slug": "a"}).replace("points = 10", ""))
    with pytest.raises(ManifestError, match="field 'number' must be int"):
        parse(manifest({"number": '"one"', "slug": "a"}))
    with pytest.raises(ManifestError, match="planned names unknown module 7"):
        parse("planned = [7]\n" + manifest({"number": 1, "slug": "a"}))
    with pytest.raises(ManifestError, match="not valid TOML"):
        parse("[[module]\n")


@pytest.mark.parametrize("table, message", [
    ("test_cpu_seconds = 0", "must be a positive number"),
    ("score_quantum = 10", "must be a power of two"),
    ("wall_clock = 5", "unknown [grading] setting"),
])
def test_grading_settings_are_validated(table, message):
    text = manifest({"number": 1, "slug": "tensor"}).replace("[[module]]", f"[grading]\n{table}\n\n[[module]]", 1)
    with pytest.raises(ManifestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(text)


def test_repository_manifest_grading_settings():
    settings = curriculum_module.load().grading
    assert settings.memory_limit_mib == 4096, "the paper's 4 GB laptop"
    assert settings.score_quantum & (settings.score_quantum - 1) == 0
