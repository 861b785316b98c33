"""Run one untrusted command inside a bubblewrap sandbox, under hard limits.

Every process that imports a submission (import probes, test collection, every pytest run) starts
here. With bubblewrap (`bwrap`) the operating system is the boundary:
  * the file system is an empty root with, read-only, the system libraries, the Python
    interpreter and its packages, the grader's harness and exactly the paths of the run's View
    (its test files and its one package variant); nothing else of the grader, the repository or
    the other package variants exists; the only writable place is a private tmpfs at /tmp;
  * new user, PID, network (loopback only, down), IPC, UTS and cgroup namespaces; the process
    runs as an unprivileged user with no capabilities and cannot create further user namespaces;
    it cannot see or signal the grader's processes;
  * a new terminal session (no keystrokes pushed into the grader's terminal); it dies with the
    grader (--die-with-parent); when the command exits, its PID namespace ends and the kernel kills
    every process it left behind, detached or not;
  * an environment built from scratch (--clearenv): only the variables the grader sets.
Without bubblewrap (not installed, or user namespaces disabled) the same command runs with the
limits below only, and the report says `isolation: none`.

Limits in both cases: address space (the paper's 4 GiB laptop), file size (for files in its scratch),
output (stdout and stderr go to a pipe the grader reads; past the limit the sandbox is killed), no
core dumps, a process count (the grader watches the sandbox's process tree and kills it past the
limit), and time: the CPU time of the whole tree, read from /proc, with the nets of
grading/sandbox/budget.py (own time asleep or blocked; a wall-clock net past which the machine, not
the command, is to blame). Memory, files and core dumps are applied by re-executing through
`python grading/sandbox/launcher.py ...` (resource.setrlimit, then os.execv).

Results come back over a pipe (the *channel*): the sandboxed command writes to file descriptor 3,
the grader reads it while the command runs and keeps the bytes in memory. Nothing the sandbox does
later can rewrite them, and no file it could reach decides a grade.
"""
from __future__ import annotations

import functools
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grading.sandbox import cputime
from grading.sandbox.budget import CPU, OWN_TIME, WALL, Allowance, Stopwatch
from grading.sandbox.launcher import NO_CHANNEL

MIB = 1024 * 1024
OUTPUT_TAIL_BYTES = 4000
CHANNEL_LIMIT = 64 * MIB  # more than this on the channel is not a test journal
SCRATCH = "/tmp/scratch"  # HOME and TMPDIR inside the sandbox (on its private tmpfs)
SCRATCH_BYTES = 512 * MIB
SHM_BYTES = 16 * MIB
MIN_BWRAP_VERSION = (0, 8)  # --disable-userns and --size arrived in bubblewrap 0.8.0
UNPRIVILEGED_ID = "65534"  # "nobody": the user and group the sandboxed command runs as
WATCH_SECONDS = 0.05  # how often the process count is checked
TIME_CHECK_TICKS = 5  # the time limits every fifth time (reading the tree's usage costs more than counting it)
LAUNCHER = Path(__file__).resolve().with_name("launcher.py")
# The grader's own package (the pytest plugin, the import probe, the judged worker), mounted read-only.
HARNESS = Path(__file__).resolve().parents[1]
FORCE_NONE_VARIABLE = "KATA_SANDBOX"  # KATA_SANDBOX=none grades without bubblewrap (benchmarks, tests)


@dataclass(frozen=True)
class Limits:
    time: Allowance | None  # CPU budget and its nets (grading/sandbox/budget.py); None: the caller times it
    memory_bytes: int
    file_bytes: int
    max_processes: int = 64


@dataclass(frozen=True)
class View:
    """What a sandboxed command may see besides the interpreter and the harness: read-only files
    and folders (each at its own path, so paths in tracebacks mean the same inside and out) and
    the working directory."""

    read_only: tuple[Path, ...]
    workdir: Path
    writable: tuple[Path, ...] = ()  # folders shared read-write (a judged test's tmp_path)


@dataclass(frozen=True)
class Isolation:
    """How graded code is isolated on this machine: "bubblewrap" (with its version) or "none"."""

    kind: str
    version: str = ""
    reason: str = ""  # why there is no sandbox, with the fix

    @property
    def sandboxed(self) -> bool:
        return self.kind == "bubblewrap"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "version": self.version or None, "reason": self.reason or None}


@dataclass(frozen=True)
class Outcome:
    """How a limited command ended, and what it sent on the channel."""

    returncode: int | None  # None when it was killed at a limit (time, processes, output)
    timed_out: bool  # killed for using its CPU budget, or its own time (asleep or blocked)
    duration: float
    output_tail: str
    output_capped: bool = False  # its output reached the file-size limit
    channel: bytes = b""
    channel_overflow: bool = False  # it sent more than CHANNEL_LIMIT bytes
    too_many_processes: bool = False
    overloaded: bool = False  # killed at the wall-clock net with its budgets unspent: the machine was too busy
    usage: cputime.Usage = cputime.Usage()  # what its processes used, as last read

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
        if self.too_many_processes:
            return "was stopped for starting more processes than the grader allows"
        if self.overloaded:
            return (f"was stopped because the grading machine was too busy (after {self.duration:.0f} s it had had "
                    f"only {self.usage.cpu:.1f} s of CPU time)")
        if self.timed_out:
            return f"was stopped after using its time limit ({self.usage.cpu:.1f} s of CPU time, {self.duration:.0f} s in all)"
        name = self.killed_by
        if name == "SIGXFSZ" or self.output_capped:
            return "was stopped for writing more output than the grader allows"
        if name in ("SIGKILL", "SIGSEGV", "SIGABRT", "SIGBUS"):
            return f"crashed ({name}; a memory limit of this size is often the cause)"
        if name:
            return f"was ended by {name}"
        return f"exited with code {self.returncode}"


def clean_environment(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The only environment a graded subprocess sees: nothing inherited but the interpreter's PATH.
    Inside bubblewrap HOME and TMPDIR are replaced by the sandbox's private scratch."""
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


# ---------------------------------------------------------------- is bubblewrap usable here?
APPARMOR_HINT = ("on Ubuntu 23.10 and newer (GitHub's ubuntu-24.04 runners) AppArmor blocks unprivileged user "
                 "namespaces: run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` first")
INSTALL_HINT = "install it with `sudo apt-get install -y bubblewrap` (Debian/Ubuntu)"


@functools.cache
def isolation() -> Isolation:
    """Probe once per process whether bubblewrap can start a sandbox here (about 20 ms)."""
    if os.environ.get(FORCE_NONE_VARIABLE) == "none":
        return Isolation("none", reason=f"{FORCE_NONE_VARIABLE}=none was set: grading without a sandbox")
    binary = shutil.which("bwrap")
    if binary is None:
        return Isolation("none", reason=f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    version = _bwrap_version(binary)
    if version and tuple(int(part) for part in version.split(".")[:2]) < MIN_BWRAP_VERSION:
        return Isolation("none", version, f"bubblewrap {version} is too old: the grader needs 0.8.0 or newer "
                                          "(Debian 12, Ubuntu 24.04; or build it from source)")
    try:
        probe = subprocess.run(_bwrap_arguments(binary, View((), Path("/")), {}) + ["/bin/true"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Isolation("none", version, f"bubblewrap could not start a sandbox ({error})")
    if probe.returncode != 0:
        detail = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit code {probe.returncode}"
        hint = APPARMOR_HINT if "Permission denied" in detail or "RTM_NEWADDR" in detail else \
            "user namespaces may be disabled on this machine"
        return Isolation("none", version, f"bubblewrap could not start a sandbox ({detail}); {hint}")
    return Isolation("bubblewrap", version)


def _bwrap_version(binary: str) -> str:
    try:
        text = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(r"\d+(?:\.\d+)+", text)
    return match.group(0) if match else ""


# ---------------------------------------------------------------- the sandbox's file system
def _system_mounts() -> list[str]:
    """System libraries, read-only: /usr, and /bin, /lib... as the links or folders they are here."""
    arguments = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            arguments += ["--ro-bind", top, top]
    for config in ("/etc/ld.so.cache", "/etc/localtime", "/etc/ssl/certs"):
        if Path(config).exists():
            arguments += ["--ro-bind", config, config]
    return arguments


def interpreter_paths() -> list[Path]:
    """The Python installation, the virtualenv and the grader's own package (the pytest plugin and
    the probe), outside /usr; the repository they may sit in stays invisible."""
    candidates = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent,
                  HARNESS}
    candidates.update(Path(p).resolve() for p in sys.path if p and Path(p).is_dir() and "site-packages" in p)
    usr = Path("/usr")
    outside = sorted(p for p in candidates if p != usr and usr not in p.parents)
    # Keep only the outermost of nested paths (a venv inside the installation is covered by it).
    return [p for p in outside if not any(other in p.parents for other in outside)]


def exposed(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(path, mount) for each path that every sandbox would see because it lies inside a folder
    mounted for the interpreter or the system (a repository under /usr/src, say)."""
    mounts = [Path("/usr"), *interpreter_paths()]
    found = []
    for path in paths:
        resolved = path.resolve()
        for mount in mounts:
            if resolved == mount or mount in resolved.parents:
                found.append((path, mount))
                break
    return found


def _bwrap_arguments(binary: str, view: View, env: dict[str, str]) -> list[str]:
    arguments = [binary, "--unshare-all", "--unshare-user", "--uid", UNPRIVILEGED_ID, "--gid", UNPRIVILEGED_ID,
                 "--disable-userns", "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv"]
    arguments += _system_mounts()
    # /dev holds only the usual device nodes; its shared-memory folder is small, and the rest is
    # read-only (tmpfs memory is not charged to the address-space limit).
    arguments += ["--proc", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
                  "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp", "--dir", SCRATCH]
    for path in [*interpreter_paths(), *view.read_only]:
        arguments += ["--ro-bind", str(path), str(path)]
    for path in view.writable:
        arguments += ["--bind", str(path), str(path)]
    arguments += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", str(view.workdir)]
    for name, value in {**env, "HOME": SCRATCH, "TMPDIR": SCRATCH}.items():
        arguments += ["--setenv", name, value]
    return arguments + ["--"]


# ---------------------------------------------------------------- running
def run(command: list[str], *, view: View, env: dict[str, str], limits: Limits, output_path: Path,
        confine: bool = True) -> Outcome:
    """Run `command` in a sandbox showing `view`, under `limits`; never raises for anything the
    command does. Its results arrive on descriptor CHANNEL_FD (Outcome.channel); its stdout and
    stderr on a pipe too, copied by the grader into `output_path` (no file of the grader's is
    ever handed to the command). With confine=False it runs under the limits only, outside
    bubblewrap: for the judged harness, which runs no submission code and starts its own sandbox."""
    if confine and isolation().sandboxed:
        command = _bwrap_arguments(shutil.which("bwrap") or "bwrap", view, env) + command
        cwd = Path("/")
    else:
        cwd = view.workdir
    channel_read, channel_write = os.pipe()
    output_read, output_write = os.pipe()
    launcher = [sys.executable, str(LAUNCHER), str(limits.memory_bytes), str(limits.file_bytes),
                str(channel_write), "--"]
    channel, output = PipeReader(channel_read, CHANNEL_LIMIT), PipeReader(output_read, limits.file_bytes)
    started = time.monotonic()
    try:
        process = subprocess.Popen(launcher + command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output_write,
                                   stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(channel_write,))
    finally:
        os.close(channel_write)
        os.close(output_write)
    returncode, ending, usage = _watch(process, limits, output)
    # With bubblewrap every writer is gone once the sandbox is; without it, a process the command
    # left behind may hold a pipe open, so the wait is bounded.
    channel.finish(timeout=5)
    output.finish(timeout=5)
    printed = output.data()
    output_path.write_bytes(printed)
    return Outcome(returncode, ending in (CPU, OWN_TIME), time.monotonic() - started,
                   printed[-OUTPUT_TAIL_BYTES:].decode("utf-8", errors="replace"), output.overflow,
                   channel.data(), channel.overflow, ending == "too many processes", ending == WALL, usage)


def spawn(command: list[str], *, view: View, env: dict[str, str], limits: Limits, pass_fds: tuple[int, ...],
          output: int) -> subprocess.Popen:
    """Start a long-lived `command` in a sandbox showing `view`, under `limits` except the wall
    clock (the caller gives each request to it its own deadline and kills it with kill_group).
    It talks over the inherited descriptors `pass_fds`; stdout and stderr go to `output`."""
    if isolation().sandboxed:
        command = _bwrap_arguments(shutil.which("bwrap") or "bwrap", view, env) + command
        cwd = Path("/")
    else:
        cwd = view.workdir
    launcher = [sys.executable, str(LAUNCHER), str(limits.memory_bytes), str(limits.file_bytes),
                NO_CHANNEL, "--"]
    return subprocess.Popen(launcher + command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output,
                            stderr=subprocess.STDOUT, start_new_session=True, pass_fds=pass_fds)


def _watch(process: subprocess.Popen, limits: Limits,
           output: "PipeReader") -> tuple[int | None, str, cputime.Usage]:
    """Wait for the process; kill its whole group (and so its sandbox) at a time limit, the output
    limit or the process count, and after a normal exit too (children may be left behind).
    Returns (exit code, or None when killed at a limit; "" or the limit that ended it; its usage
    as last read: the CPU time of the whole tree, read from outside)."""
    processes = [process.pid]  # the tree as last walked: counted every tick, its usage read less often
    stopwatch = Stopwatch(limits.time, lambda: cputime.total_usage(processes)) if limits.time else None
    try:
        for tick in itertools.count(1):
            try:
                return process.wait(timeout=WATCH_SECONDS), "", _last(stopwatch)
            except subprocess.TimeoutExpired:
                pass
            processes = cputime.tree(process.pid)
            if stopwatch is not None and tick % TIME_CHECK_TICKS == 0 and (crossed := stopwatch.over()):
                return None, crossed, stopwatch.spent
            if output.overflow:
                return None, "too much output", _last(stopwatch)
            if len(processes) > limits.max_processes:
                return None, "too many processes", _last(stopwatch)
    finally:
        kill_group(process)


def _last(stopwatch: Stopwatch | None) -> cputime.Usage:
    return stopwatch.spent if stopwatch is not None else cputime.Usage()


def count_processes(root: int) -> int:
    """Processes in the tree below `root`, `root` included (0 once it is gone). Orphans stay in
    the tree inside a sandbox: its PID namespace re-parents them to the sandbox's own init."""
    return len(cputime.tree(root)) if Path(f"/proc/{root}").exists() else 0


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


class PipeReader:
    """Reads a pipe on a thread while the command runs (a full pipe would block it), keeping at
    most `limit` bytes; past that it keeps draining and flags `overflow`, keeping nothing more
    (or, with tail=True, only the last `limit` bytes: a long-lived process's latest words)."""

    def __init__(self, descriptor: int, limit: int, tail: bool = False):
        self._descriptor = descriptor
        self._limit = limit
        self._tail = tail
        self._chunks: list[bytes] = []
        self._size = 0
        self.overflow = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := os.read(self._descriptor, 65536):
                if self._size + len(chunk) > self._limit:
                    self.overflow = True
                    if not self._tail:
                        continue
                    self._chunks = [(b"".join(self._chunks) + chunk)[-self._limit:]]
                    self._size = len(self._chunks[0])
                    continue
                self._chunks.append(chunk)
                self._size += len(chunk)
        except OSError:
            pass
        finally:
            os.close(self._descriptor)

    def finish(self, timeout: float) -> None:
        """Wait for the end of the pipe; a reader still blocked afterwards ends with its writer."""
        self._thread.join(timeout)

    def data(self) -> bytes:
        return b"".join(list(self._chunks))
