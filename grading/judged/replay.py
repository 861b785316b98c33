"""Many evaluations of one test function in one round trip: record the first, replay the rest in the worker.

A finite-difference gradient check evaluates the same function of the submission's objects twice per
input element, each time on an input that differs in one element. In a judged grade every step of
every evaluation is a round trip to the worker, which made the checks most of module 06's time.
`evaluate_all(build, inputs)` runs `build(inputs[0])` as usual while recording the requests it makes,
then sends the recording and the other inputs in one request: the worker performs the same requests
for each input, the recorded input swapped for the new one, and answers with each result's `.data`.

The worker runs the submission's code exactly as the evaluations one by one would, in the same order,
so nothing it could compute differs; only the round trips are saved. A recording is replayed only when
it cannot depend on the values seen along the way: every request answered with an object that stays
in the worker (a plain value could have steered the test's code), or set an attribute (a test that
varies a parameter's `.data`), no callback into the test, the input sent exactly once, and the result
the last object made. Otherwise each input is evaluated on its own.
"""
from __future__ import annotations

from collections.abc import Callable

from grading.judged.wire import Handle
from grading.judged.worker import REPLAYABLE_OPS


class Recording:
    """The requests one evaluation made, as (message, answer), and why it cannot be replayed ("" if it can)."""

    def __init__(self, held_before: frozenset[int]) -> None:
        self.held_before = held_before  # handles the harness held when the recording began
        self.steps: list[tuple[dict, Handle]] = []
        self.unreplayable = ""

    def saw(self, message: dict, answer) -> None:
        op = message.get("op")
        if op not in REPLAYABLE_OPS:
            self._refuse(f"it made a {op!r} request")
        elif op == "setattr":
            if answer is not None:
                self._refuse("setting an attribute answered with a value")
        elif not isinstance(answer, Handle):
            self._refuse("a request answered with a plain value")
        elif answer.id in self.held_before:
            # Later requests may name that object for itself, not as this step's result: which one
            # a replay should use is unknowable.
            self._refuse("a request answered with an object the test already held")
        step = {key: value for key, value in message.items() if key != "release"}
        self.steps.append((step, answer))

    def _refuse(self, reason: str) -> None:
        self.unreplayable = self.unreplayable or reason

    def saw_callback(self) -> None:
        self._refuse("the submission called back into the test")

    def plan(self, input_value, result: Handle) -> dict | None:
        """The replay request for this recording (without its inputs), or None when it cannot be replayed."""
        last = self.steps[-1][1] if self.steps else None
        if self.unreplayable or not isinstance(last, Handle) or last.id != result.id:
            return None
        places = [(index, path) for index, (step, _) in enumerate(self.steps)
                  for path in paths_to(step, input_value)]
        if len(places) != 1:
            return None
        at_step, path = places[0]
        return {"op": "replay", "steps": [step for step, _ in self.steps],
                "made": [answer.id if isinstance(answer, Handle) else None for _, answer in self.steps],
                "input": [at_step, path]}


def paths_to(value, target, path: tuple = ()) -> list[list]:
    """Where `target` itself (by identity) sits inside nested dicts, lists and tuples: lists of keys and indices."""
    if value is target:
        return [list(path)]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return []
    return [found for key, item in items for found in paths_to(item, target, (*path, key))]


def evaluate_all(runtime, build: Callable, inputs: list) -> list:
    """`build(x).data` for every x in `inputs`, in order (see the module docstring)."""
    recording = Recording(runtime.live_handles())
    runtime.recorder = recording
    try:
        first = build(inputs[0])
    finally:
        runtime.recorder = None
    results = [getattr(first, "data", None)]
    if len(inputs) == 1:
        return results
    plan = recording.plan(inputs[0], runtime.handle_of(first)) if runtime.is_remote(first) else None
    if plan is None:
        return results + [getattr(build(x), "data", None) for x in inputs[1:]]
    rest = runtime.request({**plan, "inputs": list(inputs[1:])})
    if not (isinstance(rest, list) and len(rest) == len(inputs) - 1):
        raise RuntimeError(f"the submission's process answered a replay of {len(inputs) - 1} evaluations with "
                           f"{type(rest).__name__}")
    return results + rest
