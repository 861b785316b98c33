"""The grader's pytest plugin and the CPU budget: when its alarm may raise, and what a run then reports.

Each test runs a small pytest session in a subprocess with the plugin loaded, as the grader does, on
test files written here; budgets are tiny so that they are spent at once, never waited for.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

from grading import REPO_ROOT
from grading.engine import channel

FLAG_PROBE = """\
    import pytest

    from grading.engine import pytest_plugin


    @pytest.fixture
    def made_in_setup():
        return pytest_plugin._ACTIVE["test_code_running"]


    def test_setup_and_call_are_test_code(made_in_setup):
        assert made_in_setup is True
        assert pytest_plugin._ACTIVE["test_code_running"] is True
    """


def session(tmp_path: Path, source: str, *options: str) -> list[dict]:
    """The journal events of a pytest session over one test file, with the grader's plugin."""
    (tmp_path / "test_probe.py").write_text(textwrap.dedent(source))
    journal = tmp_path / "journal.jsonl"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_timeout",
                    "-p", "grading.engine.pytest_plugin", f"--kata-journal={journal}", "test_probe.py", *options],
                   cwd=tmp_path, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
                   capture_output=True, timeout=120)
    events, malformed, torn = channel.journal_events(journal.read_bytes())
    assert not malformed and not torn
    return events


def phases(events: list[dict]) -> dict[tuple[str, str], dict]:
    return {(e["nodeid"].split("::")[-1], e["when"]): e for e in events if e["event"] == "phase"}


def test_a_tests_setup_and_call_are_where_the_alarm_may_raise(tmp_path):
    found = phases(session(tmp_path, FLAG_PROBE))
    assert found[("test_setup_and_call_are_test_code", "call")]["outcome"] == "passed"


SPENDERS = """\
    import pytest


    @pytest.mark.parametrize("round", range(12))
    def test_spends_cpu(round):
        while True:  # only the budget's alarm ends it
            pass


    def test_cheap_after_them():
        assert sum([1, 2]) == 3
    """


def test_an_alarm_raised_again_and_again_never_breaks_pytest_itself(tmp_path):
    # A budget of a millisecond fires while pytest's own code runs too: the run must still end normally,
    # every test with its result, the spenders out of time and the cheap test passed.
    events = session(tmp_path, SPENDERS, "--timeout=0.001", "--timeout-method=signal", "--kata-factors=3,10")
    assert events[-1] == {"event": "end", "exitstatus": 1}, "no INTERNALERROR (exit status 3)"
    found = phases(events)
    for round_ in range(12):
        call = found[(f"test_spends_cpu[{round_}]", "call")]
        assert call["outcome"] == "failed" and call["message"].startswith("Failed: Timeout: the test used more than")
    assert sum(e["event"] == "finish" for e in events) == 13


def test_the_cpu_a_test_cost_is_in_its_finish_event(tmp_path):
    events = session(tmp_path, SPENDERS, "--timeout=0.2", "--timeout-method=signal", "--kata-factors=3,10")
    finished = {e["nodeid"].split("::")[-1]: e["cpu"] for e in events if e["event"] == "finish"}
    assert all(0.2 < finished[f"test_spends_cpu[{n}]"] < 60 for n in range(12)), finished
    assert finished["test_cheap_after_them"] < 0.2
