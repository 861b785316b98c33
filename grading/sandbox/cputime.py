"""What a process tree has cost, read by the grader from /proc: CPU time, and time spent waiting for a CPU.

A grade must not depend on how busy the grading machine is, so the limits that decide a verdict count
CPU time (seconds a process actually ran on a CPU), not wall-clock time. Both numbers come from the
kernel, read from outside the sandbox: nothing the submission reports is believed.

  * CPU time: the first field of /proc/PID/task/TID/schedstat (nanoseconds each live thread ran),
    plus fields 16-17 of /proc/PID/stat (the CPU time of its children that ended and were waited
    for, in clock ticks). Summed over a tree, a child that ends moves its time into its parent's
    share, so the sum only grows (to within a tick).
  * Waiting time: the second field of /proc/PID/task/TID/schedstat, nanoseconds a thread was ready
    to run but had no CPU: other jobs on the machine, or a CPU quota (cgroup throttling shows up
    here too). It tells a starved process (waiting, through no fault of its own) from one that
    sleeps or blocks (neither running nor waiting). Live threads only: the waits of a thread that
    ended are gone, which only ever makes a run look less starved than it was.
"""
from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """CPU seconds used and seconds spent waiting for a CPU (see the module docstring)."""

    cpu: float = 0.0
    waiting: float = 0.0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.cpu + other.cpu, self.waiting + other.waiting)

    def __sub__(self, other: "Usage") -> "Usage":
        return Usage(self.cpu - other.cpu, self.waiting - other.waiting)


def process_usage(pid: int | str) -> Usage:
    """One process's usage (its ended children's CPU time included); zero once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return Usage()
    # The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])  # fields 14-17 of the line
    running, waiting = _scheduler_seconds(pid)
    # The scheduler's count is in nanoseconds, the stat fields in clock ticks (10 ms): the finer one
    # for the threads that are alive, the ticks for the children that have ended.
    own = running if running is not None else (utime + stime) / TICKS_PER_SECOND
    return Usage(own + (cutime + cstime) / TICKS_PER_SECOND, waiting)


def _scheduler_seconds(pid: int | str) -> tuple[float | None, float]:
    """(seconds on a CPU, seconds waiting for one) of the process's live threads, from their schedstat
    files; (None, 0.0) where the kernel keeps no scheduler statistics."""
    running = waiting = 0
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None, 0.0
    for thread in threads:
        try:
            on_cpu, queued = Path(f"/proc/{pid}/task/{thread}/schedstat").read_text().split()[:2]
        except (OSError, ValueError):
            return None, 0.0  # no statistics (or a thread that ended while being read): the ticks instead
        running, waiting = running + int(on_cpu), waiting + int(queued)
    return running / 1e9, waiting / 1e9


def tree(root: int) -> list[int]:
    """`root` and every process below it (orphans inside a sandbox stay below its init)."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                pending.extend(int(child) for child in Path(f"/proc/{pid}/task/{thread}/children").read_text().split())
            except OSError:
                continue
    return found


def tree_usage(root: int) -> Usage:
    """The usage of `root` and every process below it."""
    return total_usage(tree(root))


def total_usage(pids: list[int]) -> Usage:
    total = Usage()
    for pid in pids:
        total += process_usage(pid)
    return total


def own_usage() -> Usage:
    """This process's usage, with the children it has waited for (a judged harness's past workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    _, waiting = _scheduler_seconds("self")
    return Usage(time.process_time() + children.ru_utime + children.ru_stime, waiting)
