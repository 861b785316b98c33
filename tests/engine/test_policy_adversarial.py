"""The policy scan on inputs built to stall it: it must stay bounded and still report what it should. Each
input below once cost the scan seconds to minutes (a regular expression backtracking over 'test_test_...',
one name bound to thousands of modules, CPython's parser on a huge f-string).

No assertion here reads a clock. The scan's limits count work (steps taken, bytes the parser would
rescan), so each input gets the same findings on an idle machine and on a busy one, and the tests assert
those exact findings; the budget tests rig every clock to jump by an hour at each reading to show that the
scan consults none. An input that became slow again shows in `pytest --durations`, not as a flaky failure."""
import io
import json
import sys
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


def findings(root: Path, source: str, curriculum: Curriculum = CURRICULUM) -> list[tuple[int, str]]:
    """(line, rule) of every violation in a submission made of one file."""
    write_tensor(root, source)
    return [(v.line, v.rule) for v in scan(root, curriculum)]


# ---------------------------------------------------------------------------------- size
def test_five_megabytes_of_test_prefixes_are_refused_unread(tmp_path):
    assert findings(tmp_path, "test_" * MIB) == [(0, "file-size")]
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
    assert findings(tmp_path, source, curriculum) == expected


@pytest.mark.parametrize("piece, expected", [
    ('"spec" ', [(2, "forbidden-import")]),
    ('"spec/" ', [(1, "reads-tests"), (2, "forbidden-import")]),
    ('"test_" ', [(2, "forbidden-import")]),
], ids=["spec", "spec-slash", "test_"])
def test_long_line_of_implicitly_joined_strings(tmp_path, piece, expected):
    source = "x = (" + piece * ((MIB - 64) // len(piece)) + ")\nimport torch\n"
    assert findings(tmp_path, source) == expected


def test_huge_number_of_string_concatenations(tmp_path):
    chain = "x = " + "+".join(["'ab'"] * 2000) + "\n"
    planted = "x = " + "+".join(["'ab'"] * 1000 + ["'hidden'", "'_tests'"] + ["'ab'"] * 998) + "\n"
    source = chain * 60 + planted + "import torch\n"
    assert findings(tmp_path, source) == [(61, "reads-tests"), (62, "forbidden-import")]


def test_many_getattr_calls_with_built_names(tmp_path):
    source = "getattr(x, 'a' + 'b')\n" * 20_000 + "getattr(f, '__glo' + 'bals__')\nimport torch\n"
    assert findings(tmp_path, source) == [(20_001, "introspection"), (20_002, "forbidden-import")]


# ---------------------------------------------------------------------------------- nesting and names
@pytest.mark.parametrize("source, expected", [
    ("x = " + "[" * 100_000 + "]" * 100_000 + "\nimport torch\n", []),
    (("x = " + "[" * 190 + "]" * 190 + "\n") * 500 + "import torch\n", [(501, "forbidden-import")]),
    ("x = " + "-" * 500_000 + "1\nimport torch\n", [(0, "unscannable")]),
], ids=["deeper-than-python-allows", "as-deep-as-python-allows", "unary-chain"])
def test_deeply_nested_code(tmp_path, source, expected):
    # Too deep for Python's parser: a syntax error, which the runner reports, or too deep to analyse.
    assert findings(tmp_path, source) == expected


@pytest.mark.parametrize("source, expected", [
    (("y = a" + ".a" * 2000 + "\n") * 100 + "import torch\n", [(101, "forbidden-import")]),
    (("y = a" + ".abcdefghijklmnopqrst" * 2000 + "\n") * 24 + "import torch\n", [(25, "forbidden-import")]),
    ("import os\nos" + ".path.os" * 1000 + "._exit(0)\n", [(2, "process-control")]),
    ("y = a" + ".a" * 400_000 + "\n", [(0, "unscannable")]),
], ids=["many-chains", "long-parts", "rule-at-the-end", "deeper-than-python-allows"])
def test_very_long_attribute_chains(tmp_path, source, expected):
    assert findings(tmp_path, source) == expected


def test_one_name_bound_to_many_modules(tmp_path):
    # Every use of `x` was resolved once per module bound to it: 20,000 x 20,000 steps.
    imports = "".join(f"import m{i} as x\n" for i in range(20_000))
    source = imports + "x.y\n" * 20_000 + "import torch\n"
    assert findings(tmp_path, source) == [(9, "unscannable"), (40_001, "forbidden-import")]
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
    assert findings(tmp_path, source) == [(5, "process-control")]


# ---------------------------------------------------------------------------------- budgets
CLOCKS = ("monotonic", "perf_counter", "time", "process_time", "thread_time")


class JumpingClock:
    """Stands in for every clock in `time`: each reading is an hour after the last, as on a machine so busy
    that the scan waits an hour between any two of its steps."""

    def __init__(self):
        self.readings = 0

    def seconds(self) -> float:
        self.readings += 1
        return self.readings * 3600.0

    def nanoseconds(self) -> int:
        return int(self.seconds() * 1e9)


def busy_findings(monkeypatch, root: Path, source: str,
                  curriculum: Curriculum) -> tuple[list[tuple[int, str]], int]:
    """findings() with every clock jumping by an hour at each reading, and how often a clock was read."""
    write_tensor(root, source)
    clock = JumpingClock()
    with monkeypatch.context() as rigged:
        for name in CLOCKS:
            rigged.setattr(time, name, clock.seconds)
            rigged.setattr(time, f"{name}_ns", clock.nanoseconds)
        violations = scan(root, curriculum)
    return [(v.line, v.rule) for v in violations], clock.readings


# The child scan's program, run with every clock of the child jumping by an hour at each reading.
BUSY_CHILD_PROGRAM = "\n".join([
    "import itertools, time",
    "hours = itertools.count(1)",
    *(f"time.{name} = lambda: next(hours) * 3600.0" for name in CLOCKS),
    *(f"time.{name}_ns = lambda: next(hours) * 3600 * 10**9" for name in CLOCKS),
    policy_module._CHILD_PROGRAM,
])

# 15 steps a line (6 nodes visited twice, 2 names resolved, 1 call folded): past the default budget of
# 2,000,000 steps, and big enough (about 700 KB) to be scanned in a child process.
OVER_BUDGET_LINES = 140_000
OVER_BUDGET = "eval(x)\n" + "f(a)\n" * OVER_BUDGET_LINES + "import torch\n"


def test_the_default_budget_is_two_million_steps():
    assert CURRICULUM.policy["scan_steps_per_file"] == 2_000_000


@pytest.mark.parametrize("curriculum, expected", [
    # Spent while the scan reads the tree in, before any rule is checked.
    (manifest_with(scan_steps_per_file="1000"), [(0, "unscannable")]),
    # Spent midway through the rules, which visit the tree breadth-first: every statement (the import on the
    # last line), then every call (eval on the first), then their arguments, where the budget runs out.
    (CURRICULUM, [(0, "unscannable"), (1, "dynamic-code"), (OVER_BUDGET_LINES + 2, "forbidden-import")]),
], ids=["tiny-budget", "default-budget"])
def test_a_file_over_the_work_budget_gets_the_same_findings_idle_or_busy(tmp_path, monkeypatch, curriculum,
                                                                        expected):
    assert len(OVER_BUDGET) > policy_module._IN_PROCESS_BYTES  # the child's path, the one a wall clock guarded
    assert findings(tmp_path / "idle", OVER_BUDGET, curriculum) == expected
    monkeypatch.setattr(policy_module, "_CHILD_PROGRAM", BUSY_CHILD_PROGRAM)  # the child scans; its clocks jump
    busy, _ = busy_findings(monkeypatch, tmp_path / "busy", OVER_BUDGET, curriculum)  # so do this process's
    assert busy == expected


@pytest.mark.parametrize("source, curriculum, expected", [
    ("import torch\n", manifest_with(scan_steps_per_file="2"), [(0, "unscannable")]),
    # About 40,000 steps read the tree in; the rules then reach the import (a statement) but not eval (a
    # name, visited after every statement and the 10,000 names before it).
    ("import torch\n" + "x\n" * 10_000 + "eval\n", manifest_with(scan_steps_per_file="50000"),
     [(0, "unscannable"), (1, "forbidden-import")]),
    ("import torch\n" + "x\n" * 10_000 + "eval\n", CURRICULUM, [(1, "forbidden-import"), (10_002, "dynamic-code")]),
    ("x = f'" + "{a}" * 20_000 + "'\nimport torch\n", CURRICULUM, [(0, "unscannable")]),
    ("eval\n" * 150, CURRICULUM, [(0, "unscannable")] + [(line, "dynamic-code") for line in range(1, 101)]),
], ids=["tiny-budget", "budget-spent-midway", "within-budget", "f-string-past-the-parse-limit", "findings-cap"])
def test_findings_do_not_depend_on_the_clock(tmp_path, monkeypatch, source, curriculum, expected):
    assert len(source) <= policy_module._IN_PROCESS_BYTES  # scanned in this process, where the clock is rigged
    assert findings(tmp_path / "idle", source, curriculum) == expected
    busy, clock_readings = busy_findings(monkeypatch, tmp_path / "busy", source, curriculum)
    assert busy == expected
    assert clock_readings == 0


def test_give_up_message_names_the_budget_in_steps(tmp_path):
    curriculum = manifest_with(scan_steps_per_file="2")
    [violation] = scan(write_tensor(tmp_path, "import torch\n"), curriculum)
    assert violation.message.startswith("the policy scan gave up on this file after 2 steps,")


def test_findings_before_the_budget_ran_out_are_kept(tmp_path):
    source = "# -*- coding: latin-1 -*-\nimport torch\n"  # the coding line is checked before parsing
    assert findings(tmp_path, source, manifest_with(scan_steps_per_file="1")) == [(0, "unscannable"), (1, "encoding")]


@pytest.mark.parametrize("lines", [150, 100_000], ids=["small-file", "500-KB-file"])
def test_a_file_lists_at_most_a_hundred_findings(tmp_path, lines):
    expected = [(0, "unscannable")] + [(line, "dynamic-code") for line in range(1, 101)]
    assert findings(tmp_path, "eval\n" * lines) == expected
    assert "more than 100 policy findings" in scan(tmp_path, CURRICULUM)[0].message


# ---------------------------------------------------------------------------------- the parser's f-string work
PARSE_LIMIT = policy_module._MAX_FSTRING_PARSE_BYTES


def one_f_string(placeholders: int) -> str:
    """One f-string of `placeholders` `{a}` on one line, then a planted string and a forbidden import."""
    return "x = f'" + "{a}" * placeholders + "'\ny = 'hidden_tests'\nimport torch\n"


def long_f_string(placeholders: int) -> str:
    """one_f_string() over many lines, one `{a}` on each: so few braces a line that only the f-string's
    count (and not the tokenizer's) can pass the limit."""
    return "x = f'''\n" + "{a}\n" * placeholders + "'''\ny = 'hidden_tests'\nimport torch\n"


def counted_parse_bytes(placeholders: int) -> int:
    """What the scan counts for long_f_string(placeholders): each `{` of the f-string, the bytes from the
    f-string's line (the first) to the end of the file."""
    return placeholders * (len(long_f_string(0)) + 4 * placeholders)


def test_the_scan_gives_up_on_a_file_parsing_would_stall(tmp_path):
    # CPython parses one f-string in time quadratic in its placeholders (this one takes 3.11 14 CPU seconds,
    # and 3.12's tokenize 30), so the scan reports it instead of parsing it.
    assert findings(tmp_path, one_f_string(150_000)) == [(0, "unscannable")]
    [violation] = scan(tmp_path, CURRICULUM)
    assert "so many {...} placeholders in f-strings" in violation.message
    assert "did not parse it" in violation.message


def test_an_f_string_past_the_limit_is_never_handed_to_the_parser(tmp_path, monkeypatch):
    parsed = []
    parse = policy_module.ast.parse

    def recording_parse(source, *args, **kwargs):
        parsed.append(source)
        return parse(source, *args, **kwargs)

    monkeypatch.setattr(policy_module.ast, "parse", recording_parse)
    assert findings(tmp_path, one_f_string(20_000)) == [(0, "unscannable")]
    assert parsed == []


def test_the_parse_limit_is_exact(tmp_path):
    largest = 1
    while counted_parse_bytes(largest + 1) <= PARSE_LIMIT:
        largest += 1
    planted = largest + 3  # the line after the f-string's
    assert findings(tmp_path / "at", long_f_string(largest)) == [(planted, "reads-tests"), (planted + 1, "forbidden-import")]
    assert findings(tmp_path / "past", long_f_string(largest + 1)) == [(0, "unscannable")]


@pytest.mark.parametrize("body", [
    "x = [\n" + "{},\n" * 16_000 + "]\n",  # braces in no f-string
    "x = f'{a}'\n" * 8_000,  # short f-strings: a `{` near the end of the file counts the few bytes after it
    "x = (\n" + "    f'{a}'\n" * 8_000 + ")\n",  # joined f-strings: the same
    "x = f'a' '{{{{{{{{'\n" * 3_000,  # braces in plain strings joined to f-strings
], ids=["dicts", "f-string-lines", "joined-f-strings", "plain-strings"])
def test_braces_outside_long_f_strings_are_parsed_as_usual(tmp_path, body):
    # Counting every `{` in the file goes past the limit, so the scan finds the f-strings and counts theirs.
    assert body.count("{") * len(body) > PARSE_LIMIT
    assert findings(tmp_path, body + "import torch\n") == [(body.count("\n") + 1, "forbidden-import")]


@pytest.mark.parametrize("source", [
    # Python 3.12's tokenize measures the rest of the line at each `{`: a file is not tokenized when that
    # adds up past the limit, whether its braces are in f-strings or not.
    "x = [" + "{}, " * 20_000 + "]\nimport torch\n",
    # Where CPython's parser would stop reading is unknown, so it could read every `{`.
    "x = [\n" + "{},\n" * 16_000 + "]\ny = '''never closed\n",
], ids=["long-line-of-braces", "tokenizer-cannot-reach-the-end"])
def test_a_file_whose_f_strings_cannot_be_found_cheaply_counts_every_brace(tmp_path, source):
    assert source.count("{") * len(source) > PARSE_LIMIT
    assert findings(tmp_path, source) == [(0, "unscannable")]


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


def test_the_child_scan_has_no_wall_clock_limit(tmp_path, monkeypatch):
    calls = []
    run = policy_module.subprocess.run

    def recording_run(*args, **kwargs):
        calls.append(kwargs)
        return run(*args, **kwargs)

    monkeypatch.setattr(policy_module.subprocess, "run", recording_run)
    source = "eval\n" * (policy_module._IN_PROCESS_BYTES // 5 + 1)  # just big enough for a child
    assert findings(tmp_path, source)[:2] == [(0, "unscannable"), (1, "dynamic-code")]
    [kwargs] = calls
    assert "timeout" not in kwargs


def test_a_child_scan_that_fails_reports_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(policy_module, "_CHILD_PROGRAM", "import sys; sys.exit(3)")
    source = "x = 1\n" * (policy_module._IN_PROCESS_BYTES // 6 + 1)  # just big enough for a child
    [violation] = scan(write_tensor(tmp_path, source), CURRICULUM)
    assert (violation.line, violation.rule) == (0, "unscannable") and "exit status 3" in violation.message


def test_the_safety_net_stops_a_child_by_its_cpu_time_and_says_so(tmp_path, monkeypatch):
    # A checker that never ends: only the CPU-time cap the child sets on itself can stop it.
    spinning = policy_module._CHILD_PROGRAM.replace("_child_main", "_limit_cpu_seconds") + "\nwhile True: pass"
    monkeypatch.setattr(policy_module, "_CHILD_PROGRAM", spinning)
    monkeypatch.setattr(policy_module, "_SAFETY_NET_CPU_SECONDS", 1)
    source = "x = 1\n" * (policy_module._IN_PROCESS_BYTES // 6 + 1)
    [violation] = scan(write_tensor(tmp_path, source), CURRICULUM)
    assert (violation.line, violation.rule) == (0, "unscannable")
    assert "safety net" in violation.message and "more than 1 s of CPU time" in violation.message


def test_the_child_caps_its_cpu_time_before_reading_its_input(monkeypatch):
    events = []

    class Input(io.BytesIO):
        def readline(self, *args):
            events.append("read")
            return super().readline(*args)

    table = policy_module.Policy.from_curriculum(CURRICULUM).table
    header = json.dumps({"policy": table, "package": CURRICULUM.package}, default=str).encode() + b"\n"
    monkeypatch.setattr(policy_module, "_limit_cpu_seconds", lambda seconds: events.append(f"cap {seconds} s"))
    monkeypatch.setattr(policy_module.gc, "disable", lambda: None)  # this process is no short-lived child
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(Input(header + b"eval\n")))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    policy_module._child_main(7)
    assert events[:2] == ["cap 7 s", "read"]
    assert sys.stdout.getvalue().startswith('[1, "dynamic-code", ')
