"""The policy scan on inputs built to stall it: it must finish in bounded time and still report what it
should. Each input below once cost the scan seconds to minutes (a regular expression backtracking over
'test_test_...', one name bound to thousands of modules, CPython's parser on a huge f-string).

The time limits asserted are hang guards, not benchmarks: generous enough for a busy shared machine, far
below what the inputs cost before."""
import textwrap
import time
from pathlib import Path

import pytest

from grading import REPO_ROOT
from grading.authoring.curriculum import Curriculum, load, parse
from grading.engine import policy as policy_module
from grading.engine.policy import scan

CURRICULUM = load()
TENSOR = "tinytorch/core/tensor.py"
MIB = 1 << 20
HANG_GUARD_SECONDS = 10


def manifest_with(**policy_values: str) -> Curriculum:
    """The course manifest with some [policy] values replaced (given as TOML text)."""
    manifest = (REPO_ROOT / "grading" / "curriculum.toml").read_text(encoding="utf-8")
    for key, value in policy_values.items():
        line = f"{key} = {CURRICULUM.policy[key]}"
        assert line in manifest, line
        manifest = manifest.replace(line, f"{key} = {value}", 1)
    return parse(manifest)


# Room for multi-megabyte files, to test the scan's own algorithms past the usual 1 MiB file limit.
ROOMY = manifest_with(max_file_bytes=str(16 * MIB), max_total_bytes=str(64 * MIB))


def write_tensor(root: Path, source: str) -> Path:
    path = root / TENSOR
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return root


def timed_findings(root: Path, source: str, curriculum: Curriculum = CURRICULUM) -> list[tuple[int, str]]:
    """(line, rule) of every violation in a submission made of one file, asserting the scan did not hang."""
    write_tensor(root, source)
    start = time.monotonic()
    violations = scan(root, curriculum)
    elapsed = time.monotonic() - start
    assert elapsed < HANG_GUARD_SECONDS, f"the policy scan took {elapsed:.1f} s"
    return [(v.line, v.rule) for v in violations]


# ---------------------------------------------------------------------------------- size
def test_five_megabytes_of_test_prefixes_are_refused_unread(tmp_path):
    assert timed_findings(tmp_path, "test_" * MIB) == [(0, "file-size")]
    [violation] = scan(tmp_path, CURRICULUM)
    assert "1048576-byte limit" in violation.message and "did not read it" in violation.message


def test_a_file_that_grows_after_it_was_listed_is_not_read_past_the_limit(tmp_path, monkeypatch):
    limit = CURRICULUM.policy["max_file_bytes"]
    path = tmp_path / TENSOR
    path.parent.mkdir(parents=True)
    path.write_text("x = 1\n", encoding="utf-8")
    read = policy_module._read_regular

    def grow_then_read(target: Path, cap: int) -> bytes:
        with open(target, "a", encoding="utf-8") as handle:  # the student's process appends meanwhile
            handle.write("#" * (2 * limit) + "\nimport torch\n")
        return read(target, cap)

    monkeypatch.setattr(policy_module, "_read_regular", grow_then_read)
    [violation] = scan(tmp_path, CURRICULUM)
    assert (violation.line, violation.rule) == (0, "file-size")
    assert f"more than {limit} bytes" in violation.message and "did not read it" in violation.message


def test_reading_stops_one_byte_past_the_limit(tmp_path):
    path = tmp_path / "big.py"
    path.write_bytes(bytes(range(100)))
    assert policy_module._read_regular(path, 10) == bytes(range(11))


# ---------------------------------------------------------------------------------- strings
@pytest.mark.parametrize("curriculum, repeats", [(CURRICULUM, (MIB - 64) // 5), (ROOMY, 10**6)],
                         ids=["1-MiB", "5-MB"])
@pytest.mark.parametrize("ending, expected", [
    ("", [(2, "forbidden-import")]),
    (".py", [(1, "reads-tests"), (2, "forbidden-import")]),
], ids=["no-match", "match-at-the-end"])
def test_string_of_repeated_test_prefixes(tmp_path, curriculum, repeats, ending, expected):
    # re.search('test_[\w...]*\.py') rescanned the rest of the string from every 'test_': minutes.
    source = "x = '" + "test_" * repeats + ending + "'\nimport torch\n"
    assert timed_findings(tmp_path, source, curriculum) == expected


@pytest.mark.parametrize("piece, expected", [
    ('"spec" ', [(2, "forbidden-import")]),
    ('"spec/" ', [(1, "reads-tests"), (2, "forbidden-import")]),
    ('"test_" ', [(2, "forbidden-import")]),
], ids=["spec", "spec-slash", "test_"])
def test_long_line_of_implicitly_joined_strings(tmp_path, piece, expected):
    source = "x = (" + piece * ((MIB - 64) // len(piece)) + ")\nimport torch\n"
    assert timed_findings(tmp_path, source) == expected


def test_huge_number_of_string_concatenations(tmp_path):
    chain = "x = " + "+".join(["'ab'"] * 2000) + "\n"
    planted = "x = " + "+".join(["'ab'"] * 1000 + ["'hidden'", "'_tests'"] + ["'ab'"] * 998) + "\n"
    source = chain * 60 + planted + "import torch\n"
    assert timed_findings(tmp_path, source) == [(61, "reads-tests"), (62, "forbidden-import")]


def test_many_getattr_calls_with_built_names(tmp_path):
    source = "getattr(x, 'a' + 'b')\n" * 20_000 + "getattr(f, '__glo' + 'bals__')\nimport torch\n"
    assert timed_findings(tmp_path, source) == [(20_001, "introspection"), (20_002, "forbidden-import")]


# ---------------------------------------------------------------------------------- nesting and names
@pytest.mark.parametrize("source, expected", [
    ("x = " + "[" * 100_000 + "]" * 100_000 + "\nimport torch\n", []),
    (("x = " + "[" * 190 + "]" * 190 + "\n") * 500 + "import torch\n", [(501, "forbidden-import")]),
    ("x = " + "-" * 500_000 + "1\nimport torch\n", [(0, "unscannable")]),
], ids=["deeper-than-python-allows", "as-deep-as-python-allows", "unary-chain"])
def test_deeply_nested_code(tmp_path, source, expected):
    # Too deep for Python's parser: a syntax error, which the runner reports, or too deep to analyse.
    assert timed_findings(tmp_path, source) == expected


@pytest.mark.parametrize("source, expected", [
    (("y = a" + ".a" * 2000 + "\n") * 100 + "import torch\n", [(101, "forbidden-import")]),
    (("y = a" + ".abcdefghijklmnopqrst" * 2000 + "\n") * 24 + "import torch\n", [(25, "forbidden-import")]),
    ("import os\nos" + ".path.os" * 1000 + "._exit(0)\n", [(2, "process-control")]),
    ("y = a" + ".a" * 400_000 + "\n", [(0, "unscannable")]),
], ids=["many-chains", "long-parts", "rule-at-the-end", "deeper-than-python-allows"])
def test_very_long_attribute_chains(tmp_path, source, expected):
    assert timed_findings(tmp_path, source) == expected


def test_one_name_bound_to_many_modules(tmp_path):
    # Every use of `x` was resolved once per module bound to it: 20,000 x 20,000 steps.
    imports = "".join(f"import m{i} as x\n" for i in range(20_000))
    source = imports + "x.y\n" * 20_000 + "import torch\n"
    assert timed_findings(tmp_path, source) == [(9, "unscannable"), (40_001, "forbidden-import")]
    violation = scan(tmp_path, CURRICULUM)[0]
    assert "'x'" in violation.message and "more than 8 different modules" in violation.message


def test_a_name_bound_to_a_few_modules_is_still_followed(tmp_path):
    source = textwrap.dedent("""\
        try:
            import numpy as backend
        except ImportError:
            import os as backend
        backend._exit(0)
        """)
    assert timed_findings(tmp_path, source) == [(5, "process-control")]


# ---------------------------------------------------------------------------------- budgets
def test_the_scan_gives_up_on_a_file_parsing_would_stall(tmp_path):
    # CPython 3.11 parses one f-string in time quadratic in its placeholders: this one takes well over the
    # budget, so the child process scanning it is killed and the file reported.
    source = "x = f'" + "{a}" * 150_000 + "'\nimport torch\n"
    assert timed_findings(tmp_path, source, manifest_with(scan_seconds_per_file="1")) == [(0, "unscannable")]


def test_give_up_message_names_the_budget(tmp_path):
    hurried = manifest_with(scan_seconds_per_file="0.000001")  # spent before the scan gets past parsing
    assert timed_findings(tmp_path, "import torch\n", hurried) == [(0, "unscannable")]
    [violation] = scan(tmp_path, hurried)
    assert violation.message.startswith("the policy scan gave up on this file after 1e-06 s;")


def test_findings_before_the_budget_ran_out_are_kept(tmp_path):
    source = "# -*- coding: latin-1 -*-\nimport torch\n"  # the coding line is checked before parsing
    findings = timed_findings(tmp_path, source, manifest_with(scan_seconds_per_file="0.000001"))
    assert findings == [(0, "unscannable"), (1, "encoding")]


@pytest.mark.parametrize("lines", [150, 100_000], ids=["small-file", "500-KB-file"])
def test_a_file_lists_at_most_a_hundred_findings(tmp_path, lines):
    findings = timed_findings(tmp_path, "eval\n" * lines)
    assert findings == [(0, "unscannable")] + [(line, "dynamic-code") for line in range(1, 101)]
    assert "more than 100 policy findings" in scan(tmp_path, CURRICULUM)[0].message


# ---------------------------------------------------------------------------------- the child scan
def test_a_big_file_is_scanned_in_a_child_with_the_same_findings(tmp_path):
    source = "import os\nx = eval('1')\np = 'hidden' + '_tests'\nos._exit(0)\n"
    small = scan(write_tensor(tmp_path / "small", source), CURRICULUM)
    padding = "#" * 100 + "\n"
    big_source = source + padding * (2 * policy_module._IN_PROCESS_BYTES // len(padding))
    assert len(big_source) > policy_module._IN_PROCESS_BYTES
    big = scan(write_tensor(tmp_path / "big", big_source), CURRICULUM)
    assert [(v.line, v.rule) for v in small] == [(2, "dynamic-code"), (3, "reads-tests"), (4, "process-control")]
    assert big == small


def test_a_child_scan_that_fails_reports_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(policy_module, "_CHILD_PROGRAM", "import sys; sys.exit(3)")
    source = "x = 1\n" * (policy_module._IN_PROCESS_BYTES // 6 + 1)  # just big enough for a child
    [violation] = scan(write_tensor(tmp_path, source), CURRICULUM)
    assert (violation.line, violation.rule) == (0, "unscannable") and "exit status 3" in violation.message

