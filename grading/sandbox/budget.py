"""A test's time budget, in CPU seconds, and the verdict when it is spent.

A verdict must not move with the grading machine's load, so a test's limit is on the CPU time it
costs (grading/sandbox/cputime.py reads it from the kernel), not on how long it took. Two nets catch
what CPU time alone would miss, each with a documented multiple of the budget (the manifest's
[grading] table):

  * a test that sleeps or blocks uses almost no CPU, so its *own* time is limited too: the wall-clock
    time it took minus the time its processes spent waiting for a CPU (time lost to other jobs on
    the machine, or to a CPU quota), at most `wait_factor` times its budget;
  * a test still going after `overload_factor` times its budget of plain wall-clock time, without
    having spent either of the above, ran on a machine too busy to grade it: that is the grader's
    problem, never the student's (the run is retried, then reported as not graded).

On an idle machine the nets order the same way as the budget, and on a busy one a test's CPU time
and own time are what they would have been idle, so the same code gets the same verdict.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from grading.sandbox.cputime import Usage

# How a budget's failure message starts (pytest.fail prefixes "Failed: "): the runner and the
# reports recognise a timeout and an overloaded machine by these words.
TIMEOUT = "Timeout: "
OVERLOADED = "Overloaded: "
# The limits Stopwatch.over() names.
CPU, OWN_TIME, WALL = "cpu", "own time", "wall clock"
CHECK_AT_LEAST = 0.01  # seconds: the soonest the next check is scheduled
CHECK_AT_MOST = 0.5  # seconds: the latest (several processes can spend CPU faster than the clock runs)


@dataclass(frozen=True)
class Allowance:
    """The limits of one test: its CPU budget and the two multiples of it (see the module docstring)."""

    cpu_seconds: float
    wait_factor: float
    overload_factor: float

    @property
    def own_seconds(self) -> float:
        return self.cpu_seconds * self.wait_factor

    @property
    def wall_seconds(self) -> float:
        return self.cpu_seconds * self.overload_factor


class Stopwatch:
    """What one test has spent since it started, and whether that is over its allowance.

    `usage` returns the CPU and waiting time of every process working for the test (the test
    process, and in judged mode the submission's worker); `clock` is the wall clock. Both are
    injected, so the verdicts can be tested without waiting.
    """

    def __init__(self, allowance: Allowance, usage: Callable[[], Usage], clock: Callable[[], float] = time.monotonic):
        self.allowance, self._usage, self._clock = allowance, usage, clock
        self._start_usage, self._start_wall = usage(), clock()
        self.spent = Usage()
        self.wall = 0.0
        self.fired = ""  # the first verdict that stopped the test ("" while none has)

    def read(self) -> None:
        self.spent = self._usage() - self._start_usage
        self.wall = self._clock() - self._start_wall

    @property
    def own_seconds(self) -> float:
        """Wall-clock time not spent waiting for a CPU: running, sleeping or blocked."""
        return max(0.0, self.wall - self.spent.waiting)

    def over(self) -> str:
        """Which limit is crossed: "" (none), CPU, OWN_TIME or WALL (checked in that order)."""
        self.read()
        allowance = self.allowance
        if self.spent.cpu > allowance.cpu_seconds:
            return CPU
        if self.own_seconds > allowance.own_seconds:
            return OWN_TIME
        if self.wall > allowance.wall_seconds:
            return WALL
        return ""

    def verdict(self) -> str:
        """"" while a test is within its allowance, else its failure message (TIMEOUT... or OVERLOADED...)."""
        return self._message(self.over())

    def final_verdict(self) -> str:
        """The verdict of a test that has ended: the one that stopped it, else its CPU time and own
        time against the budget as they are now. So the verdict depends on what the test spent, not
        on when the last check happened to run; a test that finished within both counts passed,
        however long the machine made it wait."""
        if self.fired:
            return self.fired
        crossed = self.over()
        return self._message(crossed) if crossed in (CPU, OWN_TIME) else ""

    def _message(self, crossed: str) -> str:
        allowance = self.allowance
        if crossed == CPU:
            return (f"{TIMEOUT}the test used more than its budget of {allowance.cpu_seconds:g} s of CPU time "
                    "(an endless loop, or code much slower than needed)")
        if crossed == OWN_TIME:
            return (f"{TIMEOUT}the test took more than {allowance.own_seconds:g} s without using the CPU "
                    "(sleeping or blocked)")
        if crossed == WALL:
            return (f"{OVERLOADED}the grading machine was too busy: after {self.wall:.0f} s the test had had only "
                    f"{self.spent.cpu:.1f} s of CPU time; not graded")
        return ""

    def next_check(self) -> float:
        """Seconds until a limit could be crossed at the earliest (each count grows at most as fast
        as the wall clock for one process), within [CHECK_AT_LEAST, CHECK_AT_MOST]."""
        allowance = self.allowance
        soonest = min(allowance.cpu_seconds - self.spent.cpu, allowance.own_seconds - self.own_seconds,
                      allowance.wall_seconds - self.wall)
        return min(max(soonest, CHECK_AT_LEAST), CHECK_AT_MOST)


def is_timeout(message: str) -> bool:
    """Whether a failure message is a budget's timeout ("Failed: Timeout: ...") or pytest-timeout's own
    ("Failed: Timeout (>10.0s) from pytest-timeout.", in a run without CPU budgets)."""
    return message.startswith("Failed: Timeout")


def is_overloaded(message: str) -> bool:
    """Whether a test's failure message says the machine was too busy to grade it."""
    return message.startswith("Failed: " + OVERLOADED)
