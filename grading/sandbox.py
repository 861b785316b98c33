"""Run one untrusted command under limits: memory, file size, wall clock, a scrubbed environment.

Student code runs inside the pytest and probe subprocesses this module starts. Each one:
  * starts in a new session, so a timeout kills the whole process group (children included);
  * has an address-space limit (the paper's 4 GiB laptop), a file-size limit (a flood of output
    or a runaway file write is cut off), no core dumps;
  * sees only the environment variables the grader chooses (no tokens or secrets inherited);
  * writes stdout/stderr to a file of which only the tail is read back.

The limits are applied by re-executing through `python grading/sandbox.py LIMITS -- COMMAND`
(resource.setrlimit, then os.execv), because `preexec_fn` is unsafe when the grader runs several
subprocesses from threads (`--jobs`).
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
OUTPUT_TAIL_BYTES = 4000


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    memory_bytes: int
    file_bytes: int


@dataclass(frozen=True)
class Outcome:
    """How a limited command ended."""

    returncode: int | None  # None when it was killed for running too long
    timed_out: bool
    duration: float
    output_tail: str
    output_capped: bool = False  # its output reached the file-size limit

    @property
    def killed_by(self) -> str | None:
        """Name of the signal that ended the process (SIGKILL, SIGXFSZ, ...), if any."""
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None

    def describe(self) -> str:
        """One phrase for a report: why the process stopped, when that was abnormal."""
        if self.timed_out:
            return f"was stopped after running longer than its time limit ({self.duration:.0f} s)"
        name = self.killed_by
        if name == "SIGXFSZ" or self.output_capped:
            return "was stopped for writing more output than the grader allows"
        if name in ("SIGKILL", "SIGSEGV", "SIGABRT", "SIGBUS"):
            return f"crashed ({name}; a memory limit of this size is often the cause)"
        if name:
            return f"was ended by {name}"
        return f"exited with code {self.returncode}"


def clean_environment(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The only environment a graded subprocess sees: nothing inherited but the interpreter's PATH."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        # One BLAS thread: reproducible floating point and fair sharing between parallel jobs.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.update(extra or {})
    return env


def run(command: list[str], *, cwd: Path, env: dict[str, str], limits: Limits, output_path: Path) -> Outcome:
    """Run `command` under `limits`; never raises for anything the command does."""
    launcher = [sys.executable, str(Path(__file__).resolve()), str(limits.memory_bytes), str(limits.file_bytes), "--"]
    started = time.monotonic()
    with output_path.open("wb") as output:
        process = subprocess.Popen(launcher + command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode: int | None = process.wait(timeout=limits.wall_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            returncode, timed_out = None, True
        finally:
            _kill_group(process)
    capped = output_path.stat().st_size >= limits.file_bytes
    return Outcome(returncode, timed_out, time.monotonic() - started, read_tail(output_path), capped)


def _kill_group(process: subprocess.Popen) -> None:
    # Kill the process group even after a normal exit: a student may have left children behind.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def read_tail(path: Path, limit: int = OUTPUT_TAIL_BYTES) -> str:
    """The last `limit` bytes of a file, decoded leniently (output may be anything)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _apply_limits_and_exec(argv: list[str]) -> None:
    memory_bytes, file_bytes, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python sandbox.py MEMORY_BYTES FILE_BYTES -- COMMAND...")
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_bytes), int(memory_bytes)))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(file_bytes), int(file_bytes)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.execv(command[0], command)


if __name__ == "__main__":
    _apply_limits_and_exec(sys.argv[1:])
