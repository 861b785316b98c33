"""Many evaluations in one round trip (grading/judged/replay.py): the same numbers as one by one, fewer requests,
and one by one whenever a recording could have depended on what it saw.

The worker runs a copy of the reference as a plain subprocess (the sandbox is tested with the grader).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from grading import REPO_ROOT
from grading.judged import proxy, remote
from grading.judged.replay import Recording, paths_to
from grading.judged.wire import Handle
from spec.support import shifted_points


def _package(tmp_path: Path, extra: str = "") -> Path:
    root = tmp_path / "submission"
    shutil.copytree(REPO_ROOT / "reference" / "tinytorch", root / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    if extra:
        path = root / "tinytorch" / "core" / "tensor.py"
        path.write_text(path.read_text() + "\n" + extra)
    return root


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """The proxy package on a worker whose requests are counted; yields the list of request ops."""
    worker = remote.Worker(_package(tmp_path), call_seconds=20)
    ops = []
    real_request = worker.request

    def counting(message, on_callback=None):
        ops.append(message.get("op"))
        return real_request(message, on_callback)

    monkeypatch.setattr(worker, "request", counting)
    proxy.install(worker)
    yield ops
    proxy.uninstall()


def points(x: np.ndarray, eps: float = 1e-6) -> list[np.ndarray]:
    return shifted_points(x, eps)  # the inputs of a finite-difference check, as spec.support makes them


def test_replayed_evaluations_give_the_same_numbers_in_one_request(counted):
    from tinytorch.core.tensor import Tensor

    weight = Tensor(np.linspace(-1, 1, 6).reshape(3, 2))

    def output(x):
        return ((Tensor(x) @ weight) * 3.0).sum(axis=0)

    inputs = points(np.arange(6.0).reshape(2, 3) / 7)
    one_by_one = [output(x).data for x in inputs]
    before = len(counted)
    replayed = proxy.evaluate_all(output, inputs)
    assert len(replayed) == len(inputs)
    for got, expected in zip(replayed, one_by_one):
        assert type(got) is np.ndarray and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)  # bitwise: the same code ran on the same numbers
    requests = counted[before:]
    assert requests.count("replay") == 1
    assert len(requests) < len(one_by_one) / 2, "the first evaluation's requests and one replay"


def test_a_parameter_varied_by_setting_its_data_replays_too(counted):
    from tinytorch.core.layers import Linear
    from tinytorch.core.tensor import Tensor

    layer, x = Linear(3, 2, seed=0), Tensor(np.ones((1, 3)))
    original = layer.weight.data.copy()

    def output(value):
        layer.weight.data = value
        return layer(x)

    inputs = points(original)
    one_by_one = [output(value).data for value in inputs]
    before = len(counted)
    replayed = proxy.evaluate_all(output, inputs)
    assert counted[before:].count("replay") == 1
    for got, expected in zip(replayed, one_by_one):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(layer.weight.data, inputs[-1])  # the last evaluation's value, as one by one


def test_an_error_in_a_replayed_evaluation_is_the_submissions_error(tmp_path):
    # A matmul that fails on one input only: the replay fails as that evaluation would have.
    extra = ("_matmul = Tensor.__matmul__\n"
             "def _picky(self, other):\n"
             "    if float(self.data.reshape(-1)[0]) < 0:\n"
             "        raise ValueError('negative first element')\n"
             "    return _matmul(self, other)\n"
             "Tensor.__matmul__ = _picky\n")
    proxy.install(remote.Worker(_package(tmp_path, extra), call_seconds=20))
    try:
        from tinytorch.core.tensor import Tensor

        weight = Tensor(np.ones((2, 1)))
        inputs = [np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), np.array([[-1.0, 4.0]])]
        with pytest.raises(ValueError, match="negative first element"):
            proxy.evaluate_all(lambda x: Tensor(x) @ weight, inputs)
    finally:
        proxy.uninstall()


def test_a_recording_that_read_a_value_is_evaluated_one_by_one(counted):
    from tinytorch.core.tensor import Tensor

    def output(x):
        t = Tensor(x)
        return t * 2.0 if t.shape[0] > 0 else t  # the shape was read: it could steer the test's code

    inputs = points(np.array([1.0, 2.0]))
    before = len(counted)
    results = proxy.evaluate_all(output, inputs)
    assert "replay" not in counted[before:]
    np.testing.assert_array_equal(results[1], [2.0 * (1.0 - 1e-6), 4.0])


def test_a_recording_whose_result_is_an_object_held_before_is_evaluated_one_by_one(counted):
    from tinytorch.core.tensor import Tensor

    held = Tensor(np.array([5.0]))
    before = len(counted)
    results = proxy.evaluate_all(lambda x: held if Tensor(x) is not None else None, points(np.array([1.0])))
    assert "replay" not in counted[before:]
    assert all(np.array_equal(r, [5.0]) for r in results)


# ---------------------------------------------------------------- the recording's rules
def _step(op="call", args=()):
    return {"op": op, "target": Handle(1), "args": list(args), "kwargs": {}, "release": [9]}


def test_a_plan_swaps_the_input_found_by_identity_and_drops_releases():
    x = np.array([1.0])
    recording = Recording(frozenset())
    recording.saw(_step(args=[x]), Handle(10))
    recording.saw(_step("op", args=[Handle(10), 2.0]), Handle(11))
    plan = recording.plan(x, Handle(11))
    assert plan["input"] == [0, ["args", 0]] and plan["made"] == [10, 11]
    assert all("release" not in step for step in plan["steps"])


@pytest.mark.parametrize(("steps", "result"), [
    (lambda x: [(_step("define", [x]), Handle(10))], 10),  # a request that defines something
    (lambda x: [(_step("setattr", [x]), Handle(9)), (_step(), Handle(10))], 10),  # an assignment with an answer
    (lambda x: [(_step(args=[x]), 3.0)], 10),  # a plain value came back: it could steer the test's code
    (lambda x: [(_step(args=[x]), Handle(7))], 7),  # an object the test held before
    (lambda x: [(_step(args=[x]), Handle(10)), (_step(), Handle(11))], 10),  # the result is not the last step's
    (lambda x: [(_step(), Handle(10))], 10),  # the input is nowhere
], ids=["define", "setattr-answered", "plain-value", "held-before", "not-the-last", "no-input"])
def test_what_a_recording_may_not_hold(steps, result):
    x = np.array([1.0])
    recording = Recording(frozenset({7}))
    for message, answer in steps(x):
        recording.saw(message, answer)
    assert recording.plan(x, Handle(result)) is None


def test_the_same_recording_without_its_fault_is_replayable():
    x = np.array([1.0])
    recording = Recording(frozenset({7}))
    recording.saw(_step(args=[x]), Handle(10))
    recording.saw(_step(), Handle(11))
    assert recording.plan(x, Handle(11)) is not None


def test_a_callback_during_the_recording_makes_it_unreplayable():
    x = np.array([1.0])
    recording = Recording(frozenset())
    recording.saw(_step(args=[x]), Handle(10))
    recording.saw_callback()
    assert recording.plan(x, Handle(10)) is None


def test_an_input_sent_twice_cannot_be_swapped_in_one_place():
    x = np.array([1.0])
    recording = Recording(frozenset())
    recording.saw(_step(args=[x, x]), Handle(10))
    assert recording.plan(x, Handle(10)) is None
    assert paths_to({"a": [x, (1, x)]}, x) == [["a", 0], ["a", 1, 1]]
