"""The harness side of the judged mode's channel: one worker process, requests with deadlines.

`Worker.request` sends one request (grading/worker.py lists them) and returns the answer's value,
or raises the builtin exception the submission raised (by name, from a fixed list; anything else
as RuntimeError). A worker that dies, hangs past the deadline or sends something that is not a
well-formed frame is killed, and the call raises WorkerCrashed or WorkerTimeout: the test that
made it fails as "crashed" or "ran out of time", and the next request starts a fresh worker.
"""
from __future__ import annotations

import builtins
import os
import subprocess
import sys
import time
from pathlib import Path

from grading import import_path_env, wire
from grading.worker import BUILTIN_ERRORS, MESSAGE_LIMIT


class WorkerCrashed(RuntimeError):
    """The worker died or sent garbage; the message says which."""


class WorkerTimeout(RuntimeError):
    """The worker did not answer before the request's deadline."""


def remote_error(name: str, message: str) -> BaseException:
    """The exception to raise in the harness for an error the worker reported."""
    cls = getattr(builtins, name, None) if name in BUILTIN_ERRORS else None
    text = str(message)[:MESSAGE_LIMIT]
    return cls(text) if isinstance(cls, type) and issubclass(cls, BaseException) else RuntimeError(text)


class Worker:
    """One worker process importing the package found in `root`; restarted after any failure."""

    def __init__(self, root: Path, call_seconds: float, env: dict[str, str] | None = None):
        self.root, self.call_seconds, self.env = root, call_seconds, env
        self._process: subprocess.Popen | None = None
        self._to_worker = self._from_worker = -1

    def _start(self) -> None:
        request_read, self._to_worker = os.pipe()
        self._from_worker, answer_write = os.pipe()
        env = {**(self.env if self.env is not None else os.environ), **import_path_env()}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "grading.worker", str(request_read), str(answer_write)], cwd=self.root,
            pass_fds=(request_read, answer_write), env=env, stdin=subprocess.DEVNULL)
        os.close(request_read)
        os.close(answer_write)

    def request(self, message: dict):
        if self._process is None:
            self._start()
        try:
            wire.write_frame(self._to_worker, wire.encode(message))
            reply = wire.decode(wire.read_frame(self._from_worker, time.monotonic() + self.call_seconds))
        except wire.WireTimeout:
            self.close(kill=True)
            raise WorkerTimeout(f"the submission did not answer within {self.call_seconds:g} s") from None
        except (wire.WireError, BrokenPipeError) as error:
            code = self.close()
            raise WorkerCrashed(f"the submission's process {_ending(code)} ({error})") from None
        if not isinstance(reply, dict) or len(reply) != 1 or not ({"value", "error"} & set(reply)):
            self.close()
            raise WorkerCrashed(f"the submission's process sent a malformed answer: {str(reply)[:200]}")
        if "error" in reply:
            error = reply["error"]
            if not (isinstance(error, list) and len(error) == 2 and all(isinstance(e, str) for e in error)):
                self.close()
                raise WorkerCrashed(f"the submission's process sent a malformed error: {str(error)[:200]}")
            raise remote_error(*error)
        return reply["value"]

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
            process.kill()
        try:
            return process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def _ending(code: int | None) -> str:
    if code is None or code == 0:
        return "closed the channel"
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
