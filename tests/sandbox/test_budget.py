"""A test's time budget (grading/sandbox/budget.py) and the counts it reads (grading/sandbox/cputime.py).

The stopwatch's verdicts are checked on injected clocks: a fake CPU count, waiting count and wall
clock that the test moves by hand, so no assertion here depends on how fast or busy the machine is.
"""
import os
import subprocess
import sys

import pytest

from grading.sandbox import cputime
from grading.sandbox.budget import CPU, OWN_TIME, WALL, Allowance, Stopwatch, is_overloaded, is_timeout
from grading.sandbox.cputime import Usage

ALLOWANCE = Allowance(cpu_seconds=2.0, wait_factor=3.0, overload_factor=10.0)


class FakeMachine:
    """Counts the test moves by hand: CPU seconds used, seconds spent waiting for a CPU, wall clock."""

    def __init__(self):
        self.cpu = self.waiting = self.wall = 0.0

    def usage(self) -> Usage:
        return Usage(self.cpu, self.waiting)

    def clock(self) -> float:
        return self.wall

    def advance(self, wall: float, cpu: float = 0.0, waiting: float = 0.0) -> None:
        self.wall += wall
        self.cpu += cpu
        self.waiting += waiting


@pytest.fixture
def machine():
    return FakeMachine()


def stopwatch(machine: FakeMachine, allowance: Allowance = ALLOWANCE) -> Stopwatch:
    return Stopwatch(allowance, machine.usage, machine.clock)


def test_a_test_within_its_budget_has_no_verdict(machine):
    watch = stopwatch(machine)
    machine.advance(wall=1.9, cpu=1.9)
    assert watch.over() == "" and watch.verdict() == ""


def test_spending_more_cpu_than_the_budget_is_a_timeout(machine):
    watch = stopwatch(machine)
    machine.advance(wall=2.1, cpu=2.1)
    assert watch.over() == CPU
    assert is_timeout("Failed: " + watch.verdict()) and "budget of 2 s of CPU time" in watch.verdict()


def test_only_what_the_test_spent_counts_not_what_came_before(machine):
    machine.advance(wall=100, cpu=100, waiting=100)  # the run's earlier tests
    watch = stopwatch(machine)
    machine.advance(wall=1, cpu=1)
    assert watch.over() == ""


def test_a_starved_test_is_not_out_of_time_until_it_has_had_its_cpu(machine):
    # A quarter of one CPU: every second of CPU costs four of wall time, three of them waiting.
    watch = stopwatch(machine)
    machine.advance(wall=7.6, cpu=1.9, waiting=5.7)
    assert watch.over() == "", "the same test on an idle machine took 1.9 s: no verdict"
    machine.advance(wall=0.8, cpu=0.2, waiting=0.6)
    assert watch.over() == CPU, "and past its CPU budget it is out of time, busy machine or not"


def test_a_test_that_sleeps_is_out_of_time_after_its_own_time_net(machine):
    watch = stopwatch(machine)
    machine.advance(wall=5.9, cpu=0.1)
    assert watch.over() == ""
    machine.advance(wall=0.2)
    assert watch.over() == OWN_TIME
    assert is_timeout("Failed: " + watch.verdict()) and "without using the CPU" in watch.verdict()


def test_waiting_for_a_cpu_is_not_the_tests_own_time(machine):
    watch = stopwatch(machine)
    machine.advance(wall=15, cpu=0.5, waiting=14)
    assert watch.over() == ""
    assert watch.own_seconds == pytest.approx(1.0)


def test_a_test_starved_past_the_wall_clock_net_is_overloaded_not_out_of_time(machine):
    watch = stopwatch(machine)
    machine.advance(wall=20.5, cpu=1.0, waiting=19.0)
    assert watch.over() == WALL
    verdict = watch.verdict()
    assert is_overloaded("Failed: " + verdict) and not is_timeout("Failed: " + verdict)
    assert "not graded" in verdict


def test_the_cpu_budget_is_checked_before_the_nets(machine):
    watch = stopwatch(machine)
    machine.advance(wall=50, cpu=2.5, waiting=40)
    assert watch.over() == CPU


@pytest.mark.parametrize(("spent", "expected"), [
    (dict(wall=0, cpu=0), 0.5),  # far from every limit: the latest check
    (dict(wall=1.8, cpu=1.8), pytest.approx(0.2)),  # 0.2 s of CPU left
    (dict(wall=1.999, cpu=1.999), 0.01),  # never sooner than the soonest check
])
def test_the_next_check_is_when_a_limit_could_first_be_crossed(machine, spent, expected):
    watch = stopwatch(machine)
    machine.advance(**spent)
    watch.read()
    assert watch.next_check() == expected


def test_the_allowance_nets_are_multiples_of_the_budget():
    assert (ALLOWANCE.own_seconds, ALLOWANCE.wall_seconds) == (6.0, 20.0)


# ---------------------------------------------------------------- the counts, read from /proc
def spin(seconds: float) -> None:
    end = cputime.own_usage().cpu + seconds
    while cputime.own_usage().cpu < end:
        pass


def test_own_usage_counts_this_processs_cpu_time():
    before = cputime.own_usage()
    spin(0.3)
    assert (cputime.own_usage() - before).cpu >= 0.3


SPINNING_CHILD = "import os\nwhile sum(os.times()[:2]) < {seconds}: pass"


def parent_of_a_spinning_child(seconds: float) -> subprocess.Popen:
    """A process whose child spins for `seconds` of CPU; the parent says "reaped" once it has waited for it."""
    child = SPINNING_CHILD.format(seconds=seconds)
    code = ("import subprocess, sys\n"
            f"subprocess.run([sys.executable, '-c', {child!r}])\n"
            "print('reaped', flush=True)\nsys.stdin.read()\n")
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_a_tree_counts_its_running_childrens_cpu():
    parent = parent_of_a_spinning_child(3600)
    try:
        while len(cputime.tree(parent.pid)) < 2:
            assert parent.poll() is None
            os.sched_yield()
        child = cputime.tree(parent.pid)[1]
        while cputime.process_usage(child).cpu < 0.3:
            os.sched_yield()
        parts = cputime.process_usage(child).cpu + cputime.process_usage(parent.pid).cpu
        assert cputime.tree_usage(parent.pid).cpu >= parts, "read later, the whole tree has used at least its parts"
    finally:
        for pid in cputime.tree(parent.pid)[1:]:
            os.kill(pid, 9)
        parent.communicate("")


def test_a_child_that_ended_counts_in_its_parents_share():
    parent = parent_of_a_spinning_child(0.5)
    try:
        assert parent.stdout.readline() == "reaped\n"
        assert cputime.tree(parent.pid) == [parent.pid]
        assert cputime.tree_usage(parent.pid).cpu >= 0.5
    finally:
        parent.communicate("")


def test_a_process_that_is_gone_has_no_usage():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert cputime.process_usage(process.pid) == Usage()


# ---------------------------------------------------------------- the verdict of a test that has ended
def test_a_test_that_ended_over_its_budget_is_out_of_time_though_no_check_ran(machine):
    watch = stopwatch(machine)
    machine.advance(wall=2.2, cpu=2.2)  # ended between two checks
    assert is_timeout("Failed: " + watch.final_verdict())


def test_a_test_that_ended_within_its_budget_passed_however_long_it_waited(machine):
    watch = stopwatch(machine)
    machine.advance(wall=60, cpu=1.5, waiting=58)  # far past the wall-clock net, starved
    assert watch.final_verdict() == "", "finished within its CPU and own time: the machine's delay is no verdict"


def test_the_verdict_that_stopped_a_test_is_its_final_one(machine):
    watch = stopwatch(machine)
    watch.fired = watch.verdict() or "Timeout: stopped"
    machine.advance(wall=0.1, cpu=0.1)
    assert watch.final_verdict() == watch.fired
