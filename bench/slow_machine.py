"""A slow or busy machine on demand: run a command at a fraction of one CPU, or beside busy processes.

A grade must be a function of the submission alone, so the grader is tried on machines slower and
busier than the one it was written on:

  * `--cpu 0.25` runs the command (and everything it starts) in a control group whose CPU quota is a
    quarter of one CPU: cgroup v1's `cpu.cfs_quota_us` where the `cpu` controller is mounted there
    (as on these machines), else cgroup v2's `cpu.max`. The group is created for the run and removed
    after it. Needs root (or a delegated cgroup).
  * `--busy N` keeps N processes spinning on the CPU beside the command, as other jobs on a shared
    runner would.

Run:  sudo .venv/bin/python bench/slow_machine.py --cpu 0.25 -- .venv/bin/python -m grading grade reference
      .venv/bin/python bench/slow_machine.py --busy 2 -- make test
"""
from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_MICROSECONDS = 100_000


class QuotaUnavailable(RuntimeError):
    """No CPU controller this process may create a group in; the message says why and what to do."""


def _v1_controller() -> Path | None:
    for name in ("cpu", "cpu,cpuacct"):
        folder = CGROUP_ROOT / name
        if (folder / "cpu.cfs_quota_us").exists():
            return folder
    return None


def _make_group(fraction: float) -> tuple[Path, Path]:
    """(the new group's folder, the file a process id is written to, to join it with all its threads)."""
    name = f"kata-slow-{uuid.uuid4().hex[:8]}"
    quota = max(1000, int(fraction * PERIOD_MICROSECONDS))  # the kernel's smallest quota is 1 ms
    v1 = _v1_controller()
    try:
        if v1 is not None:
            group = v1 / name
            group.mkdir()
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_MICROSECONDS))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
            return group, group / "cgroup.procs"
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            group = CGROUP_ROOT / name
            group.mkdir()
            (group / "cpu.max").write_text(f"{quota} {PERIOD_MICROSECONDS}")
            return group, group / "cgroup.procs"
    except OSError as error:
        raise QuotaUnavailable(f"could not create a CPU-limited control group under {CGROUP_ROOT} ({error}); "
                               "run as root (CI does)") from None
    raise QuotaUnavailable(f"no cgroup CPU controller is mounted under {CGROUP_ROOT}")


@contextlib.contextmanager
def cpu_quota(fraction: float) -> Iterator[list[str]]:
    """A control group limited to `fraction` of one CPU; yields the prefix that starts a command in
    it (`prefix + command`: a shell that joins the group, then becomes the command). The group is
    removed afterwards (its processes must have ended by then)."""
    if not 0 < fraction <= 64:
        raise ValueError(f"fraction must be in (0, 64] CPUs, got {fraction}")
    group, join = _make_group(fraction)
    try:
        yield ["/bin/sh", "-c", f'echo $$ > {join} && exec "$@"', "slow-machine"]
    finally:
        with contextlib.suppress(OSError):
            group.rmdir()


def _own_group(join: Path) -> Path:
    """The group of the same hierarchy as `join` that this process is in now (to return to it)."""
    hierarchy = join.parent.parent
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        mounted = CGROUP_ROOT / controllers if controllers else CGROUP_ROOT
        if mounted.resolve() == hierarchy.resolve():
            return mounted / path.lstrip("/")
    raise QuotaUnavailable(f"this process is in no group of {hierarchy}")


@contextlib.contextmanager
def slowed(fraction: float) -> Iterator[None]:
    """This process (and what it starts meanwhile) runs at `fraction` of one CPU inside the block,
    for code that starts processes itself (a sandbox cannot join a group from inside)."""
    if not 0 < fraction <= 64:
        raise ValueError(f"fraction must be in (0, 64] CPUs, got {fraction}")
    group, join = _make_group(fraction)
    home = _own_group(join)
    try:
        join.write_text(str(os.getpid()))
        yield
    finally:
        (home / join.name).write_text(str(os.getpid()))
        with contextlib.suppress(OSError):
            group.rmdir()


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    """`processes` processes spinning on the CPU for as long as the block runs."""
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(processes)]
    for spinner in spinners:
        spinner.start()
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.join()


def run(command: list[str], cpu: float | None = None, busy_processes: int = 0) -> int:
    """Run `command` at `cpu` CPUs (None: no quota) beside `busy_processes` spinners; its exit code."""
    with busy(busy_processes), (cpu_quota(cpu) if cpu else contextlib.nullcontext([])) as prefix:
        return subprocess.run(prefix + command).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=float, default=None, help="CPUs the command may use, e.g. 0.25")
    parser.add_argument("--busy", type=int, default=0, metavar="N", help="busy processes beside the command")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("give the command to run after --")
    try:
        return run(command, options.cpu, options.busy)
    except QuotaUnavailable as error:
        print(f"slow_machine: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
