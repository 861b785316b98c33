"""The judged mode's worker: the only process that imports a submission.

`python -m grading.judged.worker IN_FD OUT_FD` reads requests from IN_FD and answers on OUT_FD, one
grading.judged.wire frame each, until IN_FD closes. It keeps every object the harness may not hold by
value in a table and hands out Handles to it, labelled with what the object is (an instance of an
API class, a class a test defined, ...). A request is a dict with an "op":

    import   {module}                        the module
    getattr  {target, name}   setattr {target, name, value}   delattr {target, name}
    call     {target, args, kwargs}          target(*args, **kwargs)
    invoke   {target, name, args, kwargs}    getattr(target, name)(*args, **kwargs): one round trip
                                             (with "via_class": the method as the class defines it)
    op       {name, args}                    one of OPERATIONS (operators, len, iter, repr, ...) with
                                             Python's own semantics, reflected operands included
    define   {tag, name, bases, members}     a class a test defined, whose methods call back
    replay   {steps, made, input, inputs}    the recorded requests `steps` again for each of `inputs`, the
                                             input at `input` ([step, path]) swapped in: each result's
                                             `.data` (grading/judged/replay.py)
    fresh    {code, timeout}                 run code in a new interpreter; its exit code and output
    hello    {api, snapshot}                 the API's class names, for labelling handles, and those whose
                                             `.data` array travels with their handles (see _snapshots)
    release  {handles}                       forget objects the harness no longer holds

Any request may also carry "release": [ids], done first, and "by_reference": true, which answers with
a Handle even for a value that could cross by value (a test that checks identity, `a is b`). The answer is {"value": ...} or
{"error": [builtin exception name, message]}. Exceptions cross as the name of their nearest builtin
class (BUILTIN_ERRORS) with a message of at most MESSAGE_LIMIT characters; a class outside that list
(an exception the submission derives from nothing useful, pytest's own outcomes) crosses as
"RuntimeError".

While it works on a request the worker may call back into the harness (a test's function passed to
the submission, a method of a class a test defined): it sends {"callback": id, "args", "kwargs"} and
serves the harness's nested requests until the callback's own answer arrives.

Everything here runs in the submission's process, so nothing here is trusted: the harness reads
every frame as hostile input (grading/judged/wire.py) and decides every verdict itself.
"""
from __future__ import annotations

import builtins
import importlib
import operator
import os
import subprocess
import sys
import threading
import time
import traceback
import types

import numpy as np

from grading.judged import wire
from grading.judged.wire import Callback, Handle

MESSAGE_LIMIT = 1000
BUILTIN_ERRORS = ("NotImplementedError", "TypeError", "ValueError", "IndexError", "KeyError", "AttributeError",
                  "ZeroDivisionError", "OverflowError", "FloatingPointError", "ArithmeticError", "LookupError",
                  "RecursionError", "AssertionError", "StopIteration", "MemoryError", "FileNotFoundError",
                  "OSError", "RuntimeError")
FRAMES_PER_ERROR = 20
# Requests a replay may repeat: those that compute, and setting an attribute (a test that varies a
# parameter's `.data`). Never a definition, an import or a fresh interpreter.
REPLAYABLE_OPS = ("call", "invoke", "op", "getattr", "setattr")
SNAPSHOT_BYTES = 1 << 16  # larger arrays are read when asked for
SNAPSHOTS_PER_ANSWER = 8
FRESH_OUTPUT_LIMIT = 100_000  # characters of a fresh interpreter's stdout and stderr sent back

# Operations with Python's own semantics, so `2 + t`, `a @ b`, `t += 1` and `len(t)` mean in the
# worker exactly what they mean in a test.
OPERATIONS = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_", "or_", "xor", "lshift", "rshift",
    "iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow", "imatmul", "iand", "ior", "ixor",
    "ilshift", "irshift", "neg", "pos", "abs", "invert", "eq", "ne", "lt", "le", "gt", "ge",
    "getitem", "setitem", "delitem", "contains", "index")}
OPERATIONS.update(len=len, iter=iter, next=next, bool=bool, repr=repr, str=str, float=float, int=int,
                  complex=complex, dir=dir, enter=lambda target: target.__enter__())


def error_name(error: BaseException) -> str:
    """The nearest builtin exception class in BUILTIN_ERRORS along the error's class hierarchy."""
    for cls in type(error).__mro__:
        if cls.__name__ in BUILTIN_ERRORS and getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "RuntimeError"


def builtin_error(name: str, message: str) -> BaseException:
    """The exception for an error the other side reported: a builtin class from BUILTIN_ERRORS by
    name (anything else as RuntimeError), the message capped."""
    cls = getattr(builtins, name, None) if name in BUILTIN_ERRORS else None
    text = str(message)[:MESSAGE_LIMIT]
    return cls(text) if isinstance(cls, type) and issubclass(cls, BaseException) else RuntimeError(text)


def _exit(target, error_name_or_none, message):
    """`with` block exit: the harness says which builtin error left the block, if any."""
    if error_name_or_none is None:
        return target.__exit__(None, None, None)
    error = builtin_error(error_name_or_none, message)
    return target.__exit__(type(error), error, None)


OPERATIONS["exit"] = _exit


class Objects:
    """The worker's table of objects the harness holds by Handle, and of the harness's callbacks."""

    def __init__(self, labels: "Labels") -> None:
        self.labels = labels
        self._by_id: dict[int, object] = {}
        self._ids: dict[int, int] = {}  # id(object) -> handle, so one object keeps one handle
        self._next = 1
        self._callbacks: dict[int, HarnessCallable] = {}

    def handle(self, value) -> Handle:
        known = self._ids.get(id(value))
        if known is None:
            known, self._next = self._next, self._next + 1
            self._by_id[known], self._ids[id(value)] = value, known
        return Handle(known, self.labels.kind(value))

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

    @property
    def next_id(self) -> int:
        """The handle the next new object will get (handles only grow)."""
        return self._next

    def release_since(self, first: int) -> None:
        """Forget every object handed out from handle `first` on."""
        self.release([number for number in self._by_id if number >= first])

    def outgoing(self, value):
        """A result as it crosses: by value where the wire allows, else (element-wise) by reference."""
        return wire.by_value_or(value, self._reference)

    def _reference(self, value, depth: int):
        return Callback(value.callback_id) if isinstance(value, HarnessCallable) else self.handle(value)

    def incoming(self, value, session: "Session"):
        """An argument as the submission sees it: Handles replaced by their objects, Callbacks by
        callables that call back into the harness."""
        if isinstance(value, Handle):
            return self.resolve(value)
        if isinstance(value, Callback):
            if value.id not in self._callbacks:
                self._callbacks[value.id] = HarnessCallable(session, value.id)
            return self._callbacks[value.id]
        if isinstance(value, list):
            return [self.incoming(v, session) for v in value]
        if isinstance(value, tuple):
            return tuple(self.incoming(v, session) for v in value)
        if isinstance(value, dict):
            return {k: self.incoming(v, session) for k, v in value.items()}
        return value


class Labels:
    """What kind of object a Handle names, so the harness can give it the matching proxy class:
    "api:<module>.<Name>" for an instance of an API class (the nearest one in its class's MRO),
    "class:<module>.<Name>" for an API class itself, "test:<tag>" / "class-test:<tag>" for a class a
    test defined (and its instances), "module:<name>" for a module, "" for anything else."""

    def __init__(self) -> None:
        self.api: list[str] = []  # "tinytorch.core.tensor.Tensor", ...
        self.snapshot: set[str] = set()  # kinds ("api:...") whose `.data` travels with the handle
        self._cache: dict[type, str] = {}
        self._modules_seen = -1

    def kind(self, value) -> str:
        if type(value) is type(sys):
            return f"module:{value.__name__}"
        if isinstance(value, type):
            own = self._class_label(value)
            return ("class-" + own) if own.startswith("test:") else (own.replace("api:", "class:", 1) if own else "")
        for cls in type(value).__mro__:
            label = self._class_label(cls)
            if label:
                return label
        return ""

    def _class_label(self, cls: type) -> str:
        tag = cls.__dict__.get("__kata_test_tag__")
        if isinstance(tag, int):
            return f"test:{tag}"
        if len(sys.modules) != self._modules_seen:  # an API class can only appear once its module is imported
            self._cache.clear()
            self._modules_seen = len(sys.modules)
        if cls not in self._cache:
            self._cache[cls] = next((f"api:{name}" for name in self.api if self._lookup(name) is cls), "")
        return self._cache[cls]

    @staticmethod
    def _lookup(dotted: str):
        module_name, _, name = dotted.rpartition(".")
        module = sys.modules.get(module_name)
        return getattr(module, name, None) if module is not None else None


class HarnessCallable:
    """A function of the harness (a test's callback) as the submission sees it."""

    def __init__(self, session: "Session", callback_id: int):
        self.session, self.callback_id = session, callback_id

    def __call__(self, *args, **kwargs):
        return self.session.call_harness(self.callback_id, args, kwargs)

    def __get__(self, instance, owner=None):
        """Binds like a function, so a test's method defined in the worker receives `self`."""
        return self if instance is None else types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<test callback {self.callback_id}>"


class Session:
    """One conversation with the harness: requests in, answers and callbacks out."""

    def __init__(self, in_fd: int, out_fd: int):
        self.in_fd, self.out_fd = in_fd, out_fd
        self.labels = Labels()
        self.objects = Objects(self.labels)

    def serve(self) -> int:
        while True:
            try:
                message = wire.decode(wire.read_frame(self.in_fd, deadline=float("inf")))
            except wire.WireError:
                return 0  # the harness closed the channel (or broke it): done
            self._send(self.answer(message))

    def _send(self, reply: dict) -> None:
        try:
            frame = wire.encode(reply)
        except (wire.WireError, TypeError) as error:
            frame = wire.encode({"error": ["RuntimeError", f"the worker could not send its answer: {error}"[:MESSAGE_LIMIT]]})
        wire.write_frame(self.out_fd, frame)

    def answer(self, request) -> dict:
        """Carry out one request; every exception becomes an error answer."""
        try:
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise TypeError(f"a request is a dict with an 'op', got {type(request).__name__}")
            self.objects.release(list(request.get("release", [])))
            result = self._perform(request)
            if request.get("by_reference"):  # the object itself, for identity checks, never a copy
                return {"value": self.objects.handle(result)}
            value = self.objects.outgoing(result)
        except BaseException as error:  # noqa: BLE001 -- the submission's errors are answers, not crashes
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
            answer = {"error": [error_name(error), str(error)[:MESSAGE_LIMIT]]}
            frames = _package_frames(error)
            return {**answer, "frames": frames} if frames else answer
        snapshots = self._snapshots(value)
        return {"value": value, "snapshots": snapshots} if snapshots else {"value": value}

    def _snapshots(self, value) -> dict:
        """`.data` of the array-holding objects in an answer ({handle id: array}), read now: the
        harness uses them for reads of `.data` before its next request (one round trip fewer per
        read, and nothing can have changed them in between)."""
        found = {}
        for handle in _handles(value):
            if handle.kind in self.labels.snapshot and len(found) < SNAPSHOTS_PER_ANSWER:
                try:
                    data = self.objects.resolve(handle).data
                except Exception:  # noqa: BLE001 -- no snapshot; a real read reports the error
                    continue
                if type(data) is np.ndarray and data.dtype.kind in wire.ARRAY_KINDS and data.nbytes <= SNAPSHOT_BYTES:
                    found[str(handle.id)] = data
        return found

    def call_harness(self, callback_id: int, args: tuple, kwargs: dict):
        """Call a harness function and serve the harness's nested requests until its answer comes."""
        self._send({"callback": callback_id, "args": self.objects.outgoing(list(args)),
                    "kwargs": self.objects.outgoing(dict(kwargs))})
        while True:
            message = wire.decode(wire.read_frame(self.in_fd, deadline=float("inf")))
            if isinstance(message, dict) and "op" in message:
                self._send(self.answer(message))
            elif isinstance(message, dict) and "value" in message:
                return self._in(message["value"])
            elif isinstance(message, dict) and "error" in message:
                raise builtin_error(*message["error"])
            else:
                raise RuntimeError("the harness sent something that is neither a request nor an answer")

    def _in(self, value):
        return self.objects.incoming(value, self)

    def _perform(self, request: dict):
        op = request["op"]
        if op == "import":
            return importlib.import_module(request["module"])
        if op == "hello":
            self.labels.api = [str(name) for name in request["api"]]
            self.labels.snapshot = {f"api:{name}" for name in request.get("snapshot", [])}
            return None
        if op == "release":
            return self.objects.release(list(request["handles"]))
        if op == "op":
            return OPERATIONS[request["name"]](*self._in(list(request["args"])))
        if op == "fresh":
            return _fresh_interpreter(request["code"], float(request["timeout"]))
        if op == "define":
            return self._define(request)
        if op == "replay":
            return self._replay(request)
        target = self.objects.resolve(request["target"])
        if op == "getattr":
            return getattr(target, request["name"])
        if op == "setattr":
            return setattr(target, request["name"], self._in(request["value"]))
        if op == "delattr":
            return delattr(target, request["name"])
        if op == "invoke":
            target = _class_attribute(target, request["name"]) if request.get("via_class") else \
                getattr(target, request["name"])
        if op in ("call", "invoke"):
            return target(*self._in(list(request.get("args", []))), **self._in(dict(request.get("kwargs", {}))))
        raise ValueError(f"unknown op {op!r}; known: import, getattr, setattr, delattr, call, invoke, op, define, "
                         "replay, fresh, hello, release")

    def _replay(self, request: dict) -> list:
        """The requests of one recorded evaluation again, once per input (grading/judged/replay.py): the
        recorded input swapped for each new one, and every object an earlier step made for the recording
        swapped for the one it made this time. Answers each evaluation's result's `.data`."""
        steps, made, (at_step, path) = request["steps"], request["made"], request["input"]
        if not (len(steps) == len(made) > 0 and type(made[-1]) is int
                and all(isinstance(s, dict) and s.get("op") in REPLAYABLE_OPS for s in steps)
                and all(m is None or type(m) is int for m in made)):
            raise ValueError("a replay needs one recorded answer (a handle, or None) per step, steps a replay "
                             "may repeat, and an object made by the last step")
        results = []
        for value in request["inputs"]:
            first_new = self.objects.next_id
            this_time: dict[int, Handle] = {}
            try:
                for index, (step, recorded) in enumerate(zip(steps, made)):
                    message = _swapped(step, this_time)
                    if index == at_step:
                        message = _placed(message, path, value)
                    result = self._perform(message)
                    if recorded is not None:
                        this_time[recorded] = self.objects.handle(result)
                results.append(self.objects.resolve(this_time[made[-1]]).data)
            finally:
                self.objects.release_since(first_new)  # this evaluation's objects: nobody holds them
        return results

    def _define(self, request: dict) -> type:
        """A class a test defined, here with the same bases; its methods call back into the harness."""
        namespace = {"__kata_test_tag__": int(request["tag"]), "__module__": "kata_tests",
                     "__qualname__": str(request["name"])}
        for name, (kind, *payload) in request["members"].items():
            namespace[str(name)] = self._member(kind, payload)
        bases = tuple(self.objects.resolve(base) for base in request["bases"]) or (object,)
        return type(str(request["name"]), bases, namespace)

    def _member(self, kind: str, payload: list):
        if kind == "value":
            return self._in(payload[0])
        callbacks = [self._in(callback) if isinstance(callback, Callback) else None for callback in payload]
        wrap = {"method": lambda f: f, "static": staticmethod, "class": classmethod}.get(kind)
        if wrap is not None:
            return wrap(callbacks[0])
        if kind == "property":
            return property(*callbacks)
        raise ValueError(f"unknown member kind {kind!r}")


def _swapped(value, handles: dict[int, Handle]):
    """`value` with every Handle named in `handles` (by number) replaced by the one it maps to."""
    if isinstance(value, Handle):
        return handles.get(value.id, value)
    if isinstance(value, list):
        return [_swapped(item, handles) for item in value]
    if isinstance(value, tuple):
        return tuple(_swapped(item, handles) for item in value)
    if isinstance(value, dict):
        return {key: _swapped(item, handles) for key, item in value.items()}
    return value


def _placed(container, path: list, value):
    """A copy of `container` (nested dicts, lists and tuples) with `value` at `path` (keys and indices)."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(container, dict) and key in container:
        return {**container, key: _placed(container[key], rest, value)}
    if isinstance(container, (list, tuple)) and type(key) is int and 0 <= key < len(container):
        items = list(container)
        items[key] = _placed(items[key], rest, value)
        return items if isinstance(container, list) else tuple(items)
    raise ValueError(f"a replay's input path {path!r} does not lead into the recorded request")


def _package_frames(error: BaseException) -> list[list]:
    """Where in the submission's package the error passed, innermost last ([path, line], at most
    FRAMES_PER_ERROR): the grader points a student at their own line with it."""
    root = os.getcwd() + os.sep
    frames = [[frame.filename, frame.lineno] for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename.startswith(root) and frame.lineno is not None]
    return frames[-FRAMES_PER_ERROR:]


def _handles(value, depth: int = 0):
    if isinstance(value, Handle):
        yield value
    elif isinstance(value, (list, tuple)) and depth < 2:
        for item in value:
            yield from _handles(item, depth + 1)


def _class_attribute(target, name: str):
    """`target.name` as its class defines it, bound to target: what a method read before an
    instance attribute of the same name was set still calls."""
    for klass in type(target).__mro__:
        if name in klass.__dict__:
            attribute = klass.__dict__[name]
            getter = getattr(type(attribute), "__get__", None)
            return getter(attribute, target, type(target)) if getter else attribute
    return getattr(target, name)


def _fresh_interpreter(code: str, timeout: float) -> dict:
    """Run `code` in a new interpreter beside the submission (same sandbox, same import path)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.getcwd(), "OPENBLAS_NUM_THREADS": "1",
           "HOME": os.environ.get("HOME", "/tmp"), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        returncode, stdout, stderr = -9, str(expired.stdout or ""), f"timed out after {timeout:g} s"
    return {"returncode": returncode, "stdout": stdout[-FRESH_OUTPUT_LIMIT:], "stderr": stderr[-FRESH_OUTPUT_LIMIT:]}


def _end_with_the_harness(parent: int) -> None:
    """Exit when the harness that started this worker is gone (bubblewrap's --die-with-parent does
    this in a sandbox; without one, a worker stuck in a loop would otherwise outlive its grade)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


if __name__ == "__main__":
    threading.Thread(target=_end_with_the_harness, args=(os.getppid(),), daemon=True).start()
    sys.exit(Session(int(sys.argv[1]), int(sys.argv[2])).serve())
