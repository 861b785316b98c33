"""The judged mode's worker and its harness-side client: values, handles, errors, and a worker that
dies, hangs or sends garbage (each a clean failure of that one call, and a fresh worker after it)."""
from __future__ import annotations

import numpy as np
import pytest

from grading.judged.remote import Worker, WorkerCrashed, WorkerTimeout
from grading.judged.wire import Handle

SUBMISSION = '''
import os
import sys

import numpy as np


class Box:
    def __init__(self, value):
        self.value = value

    def doubled(self):
        return Box(self.value * 2)


class Custom(Exception):
    pass


class SneakyValue(ValueError):
    pass


SHARED = Box(0)


def square(x):
    return x * x


def arange(n):
    return np.arange(n, dtype=np.float64)


def pair():
    return (np.zeros(2, dtype=np.float32), Box(1))


def shared():
    return SHARED


def fail(kind):
    errors = {"value": ValueError, "custom": Custom, "sneaky": SneakyValue, "stub": NotImplementedError}
    raise errors[kind]("m" * 5000 if kind == "value" else f"{kind} error")


def die():
    os._exit(3)


def hang():
    while True:
        pass


def garbage():
    os.write(int(sys.argv[2]), b"\\x00\\x00\\x00\\x05hello")
    return 1
'''


@pytest.fixture
def worker(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "m.py").write_text(SUBMISSION, encoding="utf-8")
    running = Worker(tmp_path, call_seconds=5)
    yield running
    running.close(kill=True)


def call(worker: Worker, name: str, *args, **kwargs):
    module = worker.request({"op": "import", "module": "pkg.m"})
    function = worker.request({"op": "getattr", "target": module, "name": name})
    return worker.request({"op": "call", "target": function, "args": list(args), "kwargs": kwargs})


def test_values_cross_by_value_and_objects_by_handle(worker):
    assert call(worker, "square", 3) == 9
    values = call(worker, "arange", n=4)
    assert values.dtype == np.float64 and values.tolist() == [0.0, 1.0, 2.0, 3.0]
    array, box = call(worker, "pair")
    assert array.dtype == np.float32 and isinstance(box, Handle)
    assert worker.request({"op": "getattr", "target": box, "name": "value"}) == 1
    doubled = worker.request({"op": "getattr", "target": box, "name": "doubled"})
    bigger = worker.request({"op": "call", "target": doubled, "args": [], "kwargs": {}})
    assert worker.request({"op": "getattr", "target": bigger, "name": "value"}) == 2


def test_one_object_keeps_one_handle_until_released(worker):
    first, second = call(worker, "shared"), call(worker, "shared")
    assert first == second
    worker.request({"op": "setattr", "target": first, "name": "value", "value": np.ones(3)})
    assert worker.request({"op": "getattr", "target": second, "name": "value"}).tolist() == [1.0, 1.0, 1.0]
    worker.request({"op": "release", "handles": [first.id]})
    with pytest.raises(ValueError, match=f"no object with handle {first.id}"):
        worker.request({"op": "getattr", "target": first, "name": "value"})


@pytest.mark.parametrize("kind, raised, message", [
    ("value", ValueError, "m" * 1000),
    ("stub", NotImplementedError, "stub error"),
    ("sneaky", ValueError, "sneaky error"),
    ("custom", RuntimeError, "custom error"),
], ids=["builtin-capped", "stub", "subclass-of-builtin", "own-class"])
def test_errors_cross_as_builtin_classes_with_capped_messages(worker, kind, raised, message):
    with pytest.raises(Exception) as caught:
        call(worker, "fail", kind)
    assert type(caught.value) is raised and str(caught.value) == message


def test_an_error_carries_the_lines_it_passed_in_the_package(worker, tmp_path):
    with pytest.raises(ValueError) as caught:
        call(worker, "fail", "value")
    source = (tmp_path / "pkg" / "m.py").read_text().splitlines()
    raising = next(i for i, line in enumerate(source, start=1) if "raise errors[kind]" in line)
    assert caught.value.kata_frames == [(str(tmp_path / "pkg" / "m.py"), raising)]


def test_a_worker_that_dies_fails_that_call_and_the_next_gets_a_fresh_worker(worker):
    with pytest.raises(WorkerCrashed, match="exited with code 3"):
        call(worker, "die")
    assert call(worker, "square", 4) == 16


def test_a_worker_that_hangs_times_out_on_time_and_is_replaced(worker):
    worker.call_seconds = 0.5
    with pytest.raises(WorkerTimeout, match="did not answer within 0.5 s"):
        call(worker, "hang")
    worker.call_seconds = 5
    assert call(worker, "square", 5) == 25


def test_a_worker_that_sends_garbage_is_a_crash(worker):
    with pytest.raises(WorkerCrashed, match="the submission's process"):
        call(worker, "garbage")
    assert call(worker, "square", 6) == 36


def test_unknown_requests_are_errors_not_crashes(worker):
    module = worker.request({"op": "import", "module": "pkg.m"})
    with pytest.raises(ValueError, match="unknown op 'exec'; known: import, getattr, setattr, delattr, call, invoke, op, define"):
        worker.request({"op": "exec", "target": module})
    # ImportError is not on the list of classes that cross: it arrives as RuntimeError, message kept.
    with pytest.raises(RuntimeError, match="No module named 'no_such_module_here'"):
        worker.request({"op": "import", "module": "no_such_module_here"})
