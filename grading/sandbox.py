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

Limits in both cases: address space (the paper's 4 GiB laptop), file size (a flood of output is
cut off), no core dumps, a process count (the grader watches the sandbox's process tree and kills
it past the limit), and a wall clock after which the whole sandbox is killed. They are applied by
re-executing through `python grading/sandbox.py ...` (resource.setrlimit, then os.execv), because
`preexec_fn` is unsafe when the grader runs several subprocesses from threads (`--jobs`).

Results come back over a pipe (the *channel*): the sandboxed command writes to file descriptor 3,
the grader reads it while the command runs and keeps the bytes in memory. Nothing the sandbox does
later can rewrite them, and no file it could reach decides a grade.
"""
from __future__ import annotations

import functools
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
OUTPUT_TAIL_BYTES = 4000
CHANNEL_FD = 3  # the descriptor a sandboxed command writes its results to
CHANNEL_LIMIT = 64 * MIB  # more than this on the channel is not a test journal
SCRATCH = "/tmp/scratch"  # HOME and TMPDIR inside the sandbox (on its private tmpfs)
SCRATCH_BYTES = 512 * MIB
UNPRIVILEGED_ID = "65534"  # "nobody": the user and group the sandboxed command runs as
WATCH_SECONDS = 0.05  # how often the process count is checked
FORCE_NONE_VARIABLE = "KATA_SANDBOX"  # KATA_SANDBOX=none grades without bubblewrap (benchmarks, tests)


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
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

    returncode: int | None  # None when it was killed for running too long or starting too many processes
    timed_out: bool
    duration: float
    output_tail: str
    output_capped: bool = False  # its output reached the file-size limit
    channel: bytes = b""
    channel_overflow: bool = False  # it sent more than CHANNEL_LIMIT bytes
    too_many_processes: bool = False

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
    harness = Path(__file__).resolve().parent
    candidates = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent,
                  harness}
    candidates.update(Path(p).resolve() for p in sys.path if p and Path(p).is_dir() and "site-packages" in p)
    usr = Path("/usr")
    outside = sorted(p for p in candidates if p != usr and usr not in p.parents)
    # Keep only the outermost of nested paths (a venv inside the installation is covered by it).
    return [p for p in outside if not any(other in p.parents for other in outside)]


def _bwrap_arguments(binary: str, view: View, env: dict[str, str]) -> list[str]:
    arguments = [binary, "--unshare-all", "--unshare-user", "--uid", UNPRIVILEGED_ID, "--gid", UNPRIVILEGED_ID,
                 "--disable-userns", "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv"]
    arguments += _system_mounts()
    arguments += ["--proc", "/proc", "--dev", "/dev", "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp",
                  "--dir", SCRATCH]
    for path in [*interpreter_paths(), *view.read_only]:
        arguments += ["--ro-bind", str(path), str(path)]
    arguments += ["--remount-ro", "/", "--chdir", str(view.workdir)]
    for name, value in {**env, "HOME": SCRATCH, "TMPDIR": SCRATCH}.items():
        arguments += ["--setenv", name, value]
    return arguments + ["--"]


# ---------------------------------------------------------------- running
def run(command: list[str], *, view: View, env: dict[str, str], limits: Limits, output_path: Path) -> Outcome:
    """Run `command` in a sandbox showing `view`, under `limits`; never raises for anything the
    command does. The command's results arrive on descriptor CHANNEL_FD (see Outcome.channel)."""
    current = isolation()
    if current.sandboxed:
        command = _bwrap_arguments(shutil.which("bwrap") or "bwrap", view, env) + command
        cwd = Path("/")
    else:
        cwd = view.workdir
    read_end, write_end = os.pipe()
    launcher = [sys.executable, str(Path(__file__).resolve()), str(limits.memory_bytes), str(limits.file_bytes),
                str(write_end), "--"]
    reader = _ChannelReader(read_end)
    started = time.monotonic()
    try:
        with output_path.open("wb") as output:
            process = subprocess.Popen(launcher + command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(write_end,))
            os.close(write_end)
            write_end = -1
            returncode, timed_out, crowded = _watch(process, limits)
    finally:
        if write_end >= 0:
            os.close(write_end)
    # With bubblewrap every writer is gone once the sandbox is; without it, a process the command
    # left behind may hold the pipe open, so the wait is bounded.
    reader.finish(timeout=5)
    capped = output_path.stat().st_size >= limits.file_bytes
    return Outcome(returncode, timed_out, time.monotonic() - started, read_tail(output_path), capped,
                   reader.data(), reader.overflow, crowded)


def _watch(process: subprocess.Popen, limits: Limits) -> tuple[int | None, bool, bool]:
    """Wait for the process; kill its whole group (and so its sandbox) at the wall-clock or
    process-count limit, and after a normal exit too (children may be left behind)."""
    deadline = time.monotonic() + limits.wall_seconds
    returncode = None
    timed_out = crowded = False
    try:
        while True:
            try:
                returncode = process.wait(timeout=WATCH_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                timed_out = True
                break
            if count_processes(process.pid) > limits.max_processes:
                crowded = True
                break
    finally:
        _kill_group(process)
    return (None if timed_out or crowded else returncode), timed_out, crowded


def count_processes(root: int) -> int:
    """Processes in the tree below `root`, `root` included (0 once it is gone). Orphans stay in
    the tree inside a sandbox: its PID namespace re-parents them to the sandbox's own init."""
    seen, pending = 0, [root]
    while pending:
        pid = pending.pop()
        seen += 1
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                pending.extend(int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
            except OSError:
                continue
    return seen if Path(f"/proc/{root}").exists() else 0


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


class _ChannelReader:
    """Reads the channel's pipe on a thread while the command runs (a full pipe would block it)."""

    def __init__(self, descriptor: int):
        self._descriptor = descriptor
        self._chunks: list[bytes] = []
        self._size = 0
        self.overflow = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := os.read(self._descriptor, 65536):
                if self._size + len(chunk) > CHANNEL_LIMIT:
                    self.overflow = True  # keep draining, so the writer never blocks, but keep nothing more
                    continue
                self._chunks.append(chunk)
                self._size += len(chunk)
        except OSError:
            pass
        finally:
            os.close(self._descriptor)

    def finish(self, timeout: float) -> None:
        """Wait for the end of the channel; a reader still blocked afterwards ends with its writer."""
        self._thread.join(timeout)

    def data(self) -> bytes:
        return b"".join(list(self._chunks))


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
    memory_bytes, file_bytes, channel, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python sandbox.py MEMORY_BYTES FILE_BYTES CHANNEL_FD -- COMMAND...")
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_bytes), int(memory_bytes)))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(file_bytes), int(file_bytes)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if int(channel) != CHANNEL_FD:
        os.dup2(int(channel), CHANNEL_FD)  # dup2 makes the copy inheritable
        os.close(int(channel))
    os.execv(command[0], command)


if __name__ == "__main__":
    _apply_limits_and_exec(sys.argv[1:])
