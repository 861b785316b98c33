"""The harness side of the judged mode's channel: one worker process, requests with deadlines.

`Worker.request` sends one request (grading/judged/worker.py lists them) and returns the answer's value,
or raises the builtin exception the submission raised (by name, from a fixed list; anything else
as RuntimeError). While the worker works it may call back into the harness; `on_callback` answers
those (and may make nested requests of its own). A worker that dies, hangs past the deadline or
sends something that is not a well-formed frame is killed, and the call raises WorkerCrashed or
WorkerTimeout: the test that made it fails as "crashed" or "ran out of time", and the next request
starts a fresh worker (its `generation` counts them). Anything else that interrupts a request
(pytest-timeout's alarm, Ctrl-C) kills the worker too, since its answer can no longer be matched.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from grading import import_path_env
from grading.judged import wire
from grading.judged.worker import FRAMES_PER_ERROR, builtin_error
from grading.sandbox import confine as sandbox
from grading.sandbox import cputime
from grading.sandbox.untrusted_text import printable

OUTPUT_TAIL_BYTES = 2000  # of the worker's stdout and stderr, kept for the last line of a crash
LAST_LINE_CHARACTERS = 200  # of that line, quoted in the crash's message
WATCH_SECONDS = 0.25  # how often the worker's process count is checked


class WorkerCrashed(RuntimeError):
    """The worker died or sent garbage; the message says which."""


class WorkerTimeout(RuntimeError):
    """The worker did not answer before the request's deadline."""


@dataclass(frozen=True)
class Confinement:
    """How a worker is confined: the sandbox's limits, and folders it may write (a test's tmp_path)."""

    limits: sandbox.Limits
    writable: tuple[Path, ...] = ()


class Worker:
    """One worker process importing the package found in `root`; restarted after any failure.
    With `confinement` it runs in the sandbox (grading/sandbox/confine.py), else as a plain subprocess."""

    def __init__(self, root: Path, call_seconds: float, env: dict[str, str] | None = None,
                 confinement: Confinement | None = None):
        self.root, self.call_seconds, self.env, self.confinement = root, call_seconds, env, confinement
        self.generation = 0  # how many workers have been started
        self._process: subprocess.Popen | None = None
        self._to_worker = self._from_worker = -1
        self._output: sandbox.PipeReader | None = None
        self.snapshots: dict[int, object] = {}  # handle id -> `.data` array, from the last answer

    # ------------------------------------------------------------------ starting and stopping
    def _start(self) -> None:
        request_read, self._to_worker = os.pipe()
        self._from_worker, answer_write = os.pipe()
        output_read, output_write = os.pipe()
        env = {**(self.env if self.env is not None else os.environ), **import_path_env()}
        command = [sys.executable, "-m", "grading.judged.worker", str(request_read), str(answer_write)]
        try:
            if self.confinement is None:
                self._process = subprocess.Popen(command, cwd=self.root, pass_fds=(request_read, answer_write),
                                                 env=env, stdin=subprocess.DEVNULL, stdout=output_write,
                                                 stderr=subprocess.STDOUT, start_new_session=True)
            else:
                view = sandbox.View((self.root,), self.root, self.confinement.writable)
                self._process = sandbox.spawn(command, view=view, env=env, limits=self.confinement.limits,
                                              pass_fds=(request_read, answer_write), output=output_write)
                threading.Thread(target=_limit_processes, args=(self._process, self.confinement.limits.max_processes),
                                 daemon=True).start()
        finally:
            for fd in (request_read, answer_write, output_write):
                os.close(fd)
        self._output = sandbox.PipeReader(output_read, OUTPUT_TAIL_BYTES, tail=True)
        self.generation += 1

    def close(self, kill: bool = False) -> int | None:
        """Stop the worker (killing it at once, or after a second's grace); its exit code, or None
        if none was running."""
        for fd in (self._to_worker, self._from_worker):
            if fd >= 0:
                os.close(fd)
        self._to_worker = self._from_worker = -1
        process, self._process = self._process, None
        if process is None:
            return None
        if kill:
            sandbox.kill_group(process)
        try:
            return process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            sandbox.kill_group(process)
            return process.wait()
        finally:
            sandbox.kill_group(process)  # anything it left behind

    @property
    def running(self) -> bool:
        return self._process is not None

    def usage(self) -> cputime.Usage:
        """CPU and waiting time of the running worker's processes, read from /proc (a worker that
        ended counts in this process's own children's time once it was waited for)."""
        process = self._process
        return cputime.tree_usage(process.pid) if process is not None else cputime.Usage()

    # ------------------------------------------------------------------ requests
    def request(self, message: dict, on_callback: Callable[[dict], dict] | None = None):
        __tracebackhide__ = True
        if self._process is None:
            self._start()
        try:
            self._send(message)
            while True:
                reply = self._receive()
                if not (isinstance(reply, dict) and set(reply) == {"callback", "args", "kwargs"} and on_callback):
                    break
                self._send(on_callback(reply))
        except (WorkerCrashed, WorkerTimeout):
            raise
        except BaseException:
            if self._process is not None:  # interrupted mid-conversation: the next answer would be out of step
                self.close(kill=True)
            raise
        return self._value(reply)

    def _send(self, message: dict) -> None:
        try:
            wire.write_frame(self._to_worker, wire.encode(message))
        except (BrokenPipeError, OSError) as error:
            raise self._crashed(f"({error})") from None

    def _receive(self):
        try:
            return wire.decode(wire.read_frame(self._from_worker, time.monotonic() + self.call_seconds))
        except wire.WireTimeout:
            self.close(kill=True)
            raise WorkerTimeout(f"the submission did not answer within {self.call_seconds:g} s") from None
        except (wire.WireError, OSError) as error:
            raise self._crashed(f"({error})") from None

    def _value(self, reply):
        __tracebackhide__ = True
        if not isinstance(reply, dict) or set(reply) not in ({"value"}, {"error"}, {"value", "snapshots"},
                                                            {"error", "frames"}):
            raise self._crashed(f"sent a malformed answer: {str(reply)[:200]}", ended=False)
        snapshots = reply.get("snapshots", {})
        if not (isinstance(snapshots, dict) and all(k.isdigit() and type(v) is np.ndarray for k, v in snapshots.items())):
            raise self._crashed(f"sent malformed snapshots: {str(snapshots)[:200]}", ended=False)
        self.snapshots = {int(k): v for k, v in snapshots.items()}
        if "error" in reply:
            error = reply["error"]
            if not (isinstance(error, list) and len(error) == 2 and all(isinstance(e, str) for e in error)):
                raise self._crashed(f"sent a malformed error: {str(error)[:200]}", ended=False)
            raised = builtin_error(*error)
            raised.kata_frames = _frames(reply.get("frames", []))
            raise raised
        return reply["value"]

    def _crashed(self, detail: str, ended: bool = True) -> WorkerCrashed:
        output = self._output
        code = self.close(kill=not ended)
        what = f"{_ending(code)} {detail}" if ended else detail
        if output is not None:
            output.finish(timeout=1)  # the process is gone: its last words are in the pipe
        last = last_line(output.data()) if output else ""
        return WorkerCrashed(f"the submission's process {what}" + (f"; its last output: {last}" if last else ""))


def last_line(output: bytes) -> str:
    """The last non-blank line of what the worker printed, as data (no control characters), at most
    LAST_LINE_CHARACTERS: the submission's raw output is never quoted into a message."""
    lines = [line.strip() for line in output.decode("utf-8", errors="replace").splitlines() if line.strip()]
    text = printable(lines[-1]) if lines else ""
    return text if len(text) <= LAST_LINE_CHARACTERS else text[:LAST_LINE_CHARACTERS - 3] + "..."


def _frames(frames) -> list[tuple[str, int]]:
    """The worker's [path, line] pairs that are well formed (a display hint, never a verdict)."""
    if not isinstance(frames, list):
        return []
    return [(path, line) for path, line in (f for f in frames[:FRAMES_PER_ERROR] if isinstance(f, list) and len(f) == 2)
            if isinstance(path, str) and len(path) <= 1000 and type(line) is int and line > 0]


def _ending(code: int | None) -> str:
    if code is None or code == 0:
        return "closed the channel"
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


def _limit_processes(process: subprocess.Popen, limit: int) -> None:
    """Kill the worker's sandbox once it runs more than `limit` processes."""
    while process.poll() is None:
        if sandbox.count_processes(process.pid) > limit:
            sandbox.kill_group(process)
            return
        time.sleep(WATCH_SECONDS)
