"""The judged mode's worker: the only process that imports a submission (issue #12, second part).

`python -m grading.worker IN_FD OUT_FD` reads requests from IN_FD and answers on OUT_FD, one
grading.wire frame each, until IN_FD closes. It keeps every object the harness may not hold by
value in a table and hands out Handles to it. A request is a dict:

    {"op": "import",  "module": "tinytorch.core.tensor"}
    {"op": "getattr", "target": Handle, "name": "shape"}
    {"op": "setattr", "target": Handle, "name": "data", "value": ...}
    {"op": "call",    "target": Handle, "args": [...], "kwargs": {...}}
    {"op": "release", "handles": [ids]}

and the answer is {"value": ...} or {"error": [builtin exception name, message]}. Exceptions cross
as the name of their nearest builtin exception class (BUILTIN_ERRORS) with a message of at most
MESSAGE_LIMIT characters; a class outside that list (an exception the submission defines and
derives from nothing useful, or pytest's own outcomes) crosses as "RuntimeError". The worker never
decides a verdict: it only returns what the submission's code returned.
"""
from __future__ import annotations

import builtins
import importlib
import sys

import numpy as np

from grading import wire
from grading.wire import Handle

MESSAGE_LIMIT = 1000
BUILTIN_ERRORS = ("NotImplementedError", "TypeError", "ValueError", "IndexError", "KeyError", "AttributeError",
                  "ZeroDivisionError", "OverflowError", "FloatingPointError", "ArithmeticError", "LookupError",
                  "RecursionError", "AssertionError", "StopIteration", "MemoryError", "RuntimeError")


def error_name(error: BaseException) -> str:
    """The nearest builtin exception class in BUILTIN_ERRORS along the error's class hierarchy."""
    for cls in type(error).__mro__:
        if cls.__name__ in BUILTIN_ERRORS and getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "RuntimeError"


class Objects:
    """The worker's table of objects the harness holds by Handle."""

    def __init__(self) -> None:
        self._by_id: dict[int, object] = {}
        self._ids: dict[int, int] = {}  # id(object) -> handle, so one object keeps one handle
        self._next = 1

    def handle(self, value) -> Handle:
        known = self._ids.get(id(value))
        if known is not None:
            return Handle(known)
        number, self._next = self._next, self._next + 1
        self._by_id[number], self._ids[id(value)] = value, number
        return Handle(number)

    def resolve(self, handle: Handle):
        try:
            return self._by_id[handle.id]
        except KeyError:
            raise ValueError(f"no object with handle {handle.id} (released, or never handed out)") from None

    def release(self, numbers: list[int]) -> None:
        for number in numbers:
            value = self._by_id.pop(number, None)
            if value is not None:
                self._ids.pop(id(value), None)

    def outgoing(self, value, depth: int = 0):
        """A result as it crosses: by value where the wire allows, else (element-wise) by Handle."""
        if depth > wire.MAX_DEPTH:
            return self.handle(value)
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if type(value) is np.ndarray and value.dtype.kind in wire.ARRAY_KINDS:
            return value
        if isinstance(value, np.generic) and value.dtype.kind in wire.ARRAY_KINDS:
            return np.asarray(value)
        if type(value) in (list, tuple):
            converted = [self.outgoing(v, depth + 1) for v in value]
            return converted if type(value) is list else tuple(converted)
        if type(value) is dict and all(type(k) is str for k in value):
            return {k: self.outgoing(v, depth + 1) for k, v in value.items()}
        return self.handle(value)

    def incoming(self, value):
        """An argument as the submission sees it: Handles replaced by their objects."""
        if isinstance(value, Handle):
            return self.resolve(value)
        if isinstance(value, list):
            return [self.incoming(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.incoming(v) for v in value)
        if isinstance(value, dict):
            return {k: self.incoming(v) for k, v in value.items()}
        return value


def answer(request, objects: Objects) -> dict:
    """Carry out one request; every exception becomes an error answer."""
    try:
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            raise TypeError(f"a request is a dict with an 'op', got {type(request).__name__}")
        return {"value": objects.outgoing(_perform(request, objects))}
    except BaseException as error:  # noqa: BLE001 -- the submission's errors are answers, not crashes
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        return {"error": [error_name(error), str(error)[:MESSAGE_LIMIT]]}


def _perform(request: dict, objects: Objects):
    op = request["op"]
    if op == "import":
        return importlib.import_module(request["module"])
    if op == "release":
        objects.release(list(request["handles"]))
        return None
    target = objects.resolve(request["target"])
    if op == "getattr":
        return getattr(target, request["name"])
    if op == "setattr":
        setattr(target, request["name"], objects.incoming(request["value"]))
        return None
    if op == "call":
        return target(*objects.incoming(list(request.get("args", []))),
                      **objects.incoming(dict(request.get("kwargs", {}))))
    raise ValueError(f"unknown op {op!r}; known: import, getattr, setattr, call, release")


def serve(in_fd: int, out_fd: int) -> int:
    objects = Objects()
    while True:
        try:
            body = wire.read_frame(in_fd, deadline=float("inf"))
        except wire.WireError:
            return 0  # the harness closed the channel: done
        try:
            reply = answer(wire.decode(body), objects)
            frame = wire.encode(reply)
        except (wire.WireError, TypeError) as error:
            frame = wire.encode({"error": ["RuntimeError", f"the worker could not read or answer: {error}"[:MESSAGE_LIMIT]]})
        wire.write_frame(out_fd, frame)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
