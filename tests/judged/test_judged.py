"""The judged mode's proxy package: tests written against `tinytorch` see the same behaviour through
the proxy as in-process, while this process never imports the submission.

Each test installs the proxy package in this process, with a worker on a copy of the reference
(a plain subprocess: the sandbox is tested with the grader), and removes it afterwards.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from grading import REPO_ROOT
from grading.judged import proxy, remote
from grading.judged.proxy import StaleObject


def _package(tmp_path: Path, extra: str = "", module: str = "tensor") -> Path:
    root = tmp_path / "submission"
    shutil.copytree(REPO_ROOT / "reference" / "tinytorch", root / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    if extra:
        path = root / "tinytorch" / "core" / f"{module}.py"
        path.write_text(path.read_text() + "\n" + extra)
    return root


@pytest.fixture
def judged(tmp_path):
    """Install the proxy package for one test; yields the runtime."""
    runtime = proxy.install(remote.Worker(_package(tmp_path), call_seconds=20))
    yield runtime
    proxy.uninstall()


def _hostile(tmp_path, extra: str, module: str = "tensor"):
    runtime = proxy.install(remote.Worker(_package(tmp_path, extra, module), call_seconds=20))
    return runtime


@pytest.fixture
def cleanup():
    yield
    proxy.uninstall()


def test_the_test_process_never_imports_the_submission(judged, tmp_path):
    from tinytorch.core.tensor import Tensor
    from tinytorch.core.layers import Linear

    out = Linear(3, 2, seed=0)(Tensor(np.ones((4, 3))))
    assert out.shape == (4, 2)
    loaded = [m for m in sys.modules.values() if str(getattr(m, "__file__", "") or "").startswith(str(tmp_path))]
    assert loaded == [], "no module of the submission was loaded here"
    assert type(sys.modules["tinytorch.core.tensor"]) is proxy.ProxyModule


def test_values_cross_as_plain_numpy_and_python_values(judged):
    from tinytorch.core.tensor import Tensor

    t = Tensor(np.arange(6.0).reshape(2, 3), dtype=np.float32)
    assert type(t.data) is np.ndarray and t.data.dtype == np.float32
    assert t.shape == (2, 3) and type(t.shape) is tuple
    assert t.dtype == np.float32 and isinstance(t.dtype, np.dtype)
    assert type(t.sum().item()) is float and t.sum().item() == 15.0


def test_operators_reflected_and_in_place(judged):
    from tinytorch.core.tensor import Tensor

    t = Tensor(np.array([1.0, 2.0]))
    np.testing.assert_array_equal((2 + t).data, [3.0, 4.0])
    np.testing.assert_array_equal((np.array([10.0, 20.0]) - t).data, [9.0, 18.0])  # numpy defers to the proxy
    np.testing.assert_array_equal((t ** 2 @ t).data, 9.0)
    np.testing.assert_array_equal((-t).data, [-1.0, -2.0])
    np.testing.assert_array_equal((t < 1.5).data, [True, False])
    before = t
    t += 1  # no __iadd__ in the API: rebinding to t + 1, as in-process
    np.testing.assert_array_equal(t.data, [2.0, 3.0])
    assert t is not before


def test_attributes_methods_keywords_indexing_len_bool_repr(judged):
    from tinytorch.core.tensor import Tensor

    t = Tensor(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(t.reshape(4, 3)[1:3, ...].data, np.arange(12.0).reshape(4, 3)[1:3])
    np.testing.assert_array_equal(t.sum(axis=0, keepdims=True).data, [[12.0, 15.0, 18.0, 21.0]])
    assert len(t) == 3 and bool(Tensor([1.0])) is True
    assert repr(t).startswith("Tensor(")
    t.data = np.zeros(2)
    np.testing.assert_array_equal(t.data, [0.0, 0.0])
    with pytest.raises(ValueError, match="reshape"):
        t.reshape(5)
    with pytest.raises(AttributeError):
        t.no_such_attribute


def test_isinstance_issubclass_and_identity(judged):
    from tinytorch.core.layers import Linear, Module, Parameter
    from tinytorch.core.tensor import Tensor

    layer = Linear(2, 3)
    assert isinstance(layer, Module) and isinstance(layer.weight, Parameter) and isinstance(layer.weight, Tensor)
    assert issubclass(Parameter, Tensor) and not issubclass(Tensor, Parameter)
    assert layer.weight is layer.weight, "one remote object is one proxy"
    assert layer.parameters()[0] is layer.weight
    assert layer.weight is not layer.bias


def test_context_managers_and_iteration(judged):
    from tinytorch.core.autograd import enable_autograd, no_grad
    from tinytorch.core.dataloader import DataLoader, TensorDataset
    from tinytorch.core.tensor import Tensor

    enable_autograd()
    with no_grad():
        assert not (Tensor(np.ones(2), requires_grad=True) * 2).requires_grad
    batches = list(DataLoader(TensorDataset(np.arange(5.0)), batch_size=2))
    assert [b[0].shape for b in batches] == [(2,), (2,), (1,)]


def test_a_module_subclass_defined_in_a_test_trains(judged):
    from tinytorch.core.autograd import enable_autograd
    from tinytorch.core.layers import Linear, Module
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import Tensor

    enable_autograd()

    class Doubler(Module):
        def __init__(self):
            super().__init__()
            self.inner = Linear(2, 1, seed=0)

        def forward(self, x, scale=2.0):
            return self.inner(x) * scale

    model = Doubler()
    assert isinstance(model, Doubler) and isinstance(model, Module)
    assert [name for name, _ in model.named_parameters()] == ["inner.weight", "inner.bias"]
    before = model.inner.weight.data.copy()
    loss = (model(Tensor(np.ones((3, 2))), scale=3.0) ** 2).sum()  # the worker calls forward back
    loss.backward()
    SGD(model.parameters(), lr=0.1).step()
    assert not np.allclose(model.inner.weight.data, before)


def test_a_function_subclass_and_a_dataset_subclass_defined_in_a_test(judged):
    from tinytorch.core.autograd import Function, enable_autograd
    from tinytorch.core.dataloader import DataLoader, Dataset
    from tinytorch.core.tensor import Tensor

    enable_autograd()

    class Cube(Function):
        calls = 0

        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            Cube.calls += 1
            return (3 * ctx.x ** 2 * grad,)

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    Cube.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 12.0])
    assert Cube.calls == 1

    class Squares(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            return Tensor([float(index)]), index * index

    (features, labels), = list(DataLoader(Squares(), batch_size=3))
    np.testing.assert_array_equal(labels.data, [0, 1, 4])


def test_a_callback_replaces_a_method_and_is_called_back(judged):
    from tinytorch.core.layers import Linear
    from tinytorch.core.tensor import Tensor

    layer, seen = Linear(2, 2, seed=0), []
    original = layer.forward
    layer.forward = lambda x: seen.append(x.shape) or original(x)
    layer(Tensor(np.ones((5, 2))))
    assert seen == [(5, 2)], "the submission's __call__ reached the test's function"


@pytest.mark.parametrize("handling", ["pass", "raise ValueError('something else')"], ids=["swallowed", "replaced"])
def test_a_failed_assertion_in_a_callback_fails_the_test_whatever_the_submission_does(tmp_path, cleanup, handling):
    _hostile(tmp_path, f"def swallow(callback):\n    try:\n        callback()\n    except BaseException:\n"
                       f"        {handling}\n    return 'fine'\n")
    from tinytorch.core import tensor

    def check():
        assert False, "the test's own check"

    with pytest.raises(AssertionError, match="the test's own check"):
        tensor.swallow(check)


def test_aliasing_is_observed_through_references(judged):
    from spec.support import data_object
    from tinytorch.core.autograd import enable_autograd
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import Tensor

    enable_autograd()
    param = Tensor(np.ones(3), requires_grad=True)
    storage = data_object(param)
    param.grad = Tensor(np.ones(3))
    SGD([param], lr=0.5).step()
    assert data_object(param) is storage
    param.data = np.zeros(3)  # a new array: a different object
    assert data_object(param) is not storage


def test_a_crashed_worker_fails_that_call_and_the_next_starts_afresh(tmp_path, cleanup):
    runtime = _hostile(tmp_path, "def die():\n    import os\n    os._exit(7)\n")
    from tinytorch.core import tensor
    from tinytorch.core.tensor import Tensor

    old = Tensor([1.0])
    with pytest.raises(remote.WorkerCrashed, match="exited with code 7"):
        tensor.die()
    with pytest.raises(remote.WorkerCrashed, match="exited with code 7"):
        Tensor([2.0])  # the rest of the same test meets the same failure (Hypothesis replays see it too)
    runtime.new_test()  # what the pytest plugin does as the next test starts
    with pytest.raises(StaleObject, match="crashed or been stopped"):
        old + 1
    assert (Tensor([2.0]) + 1).data.tolist() == [3.0]
    assert runtime.worker.generation == 2


def test_a_hanging_call_runs_out_of_time_and_the_next_starts_afresh(tmp_path, cleanup):
    runtime = _hostile(tmp_path, "def hang():\n    while True:\n        pass\n")
    runtime.worker.call_seconds = 0.5
    from tinytorch.core import tensor
    from tinytorch.core.tensor import Tensor

    with pytest.raises(remote.WorkerTimeout, match="did not answer within 0.5 s"):
        tensor.hang()
    runtime.worker.call_seconds = 20
    runtime.new_test()
    assert Tensor([1.0]).shape == (1,)


def test_a_fresh_interpreter_runs_beside_the_worker(judged):
    from spec.support import run_fresh_python

    done = run_fresh_python("from tinytorch.core.tensor import Tensor\nprint(Tensor([1.5]).data.tolist())")
    assert done.returncode == 0 and done.stdout.strip() == "[1.5]"


def test_a_data_read_right_after_the_answer_needs_no_round_trip(judged):
    from tinytorch.core.tensor import Tensor

    t = Tensor(np.arange(3.0)) * 2
    sent = judged.epoch
    np.testing.assert_array_equal(t.data, [0.0, 2.0, 4.0])
    assert judged.epoch == sent, "the array came with the answer"
    assert t.shape == (3,)  # a request: the submission's code may have run since
    np.testing.assert_array_equal(t.data, [0.0, 2.0, 4.0])
    assert judged.epoch == sent + 2, "after another request, .data is read again"


def test_judged_runs_spread_over_cpus_and_give_them_back():
    from grading.engine.runner import CpuSlots, current_cpu

    slots, cpus = CpuSlots(), sorted(os.sched_getaffinity(0))
    taken = [slots.take() for _ in cpus]
    assert sorted(taken) == cpus, "one run per CPU before any CPU gets a second"
    slots.give_back(taken[-1])
    assert slots.take() == taken[-1], "a freed CPU is the next one handed out"
    assert current_cpu() in cpus


def test_api_functions_and_methods_cross_as_arguments(judged):
    from tinytorch.core.layers import Linear
    from tinytorch.core.tensor import Tensor
    from tinytorch.perf.profiling import count_parameters, measure_latency, peak_memory

    layer = Linear(3, 2, seed=0)
    # A function of the API passed to another: the worker calls its own function object.
    assert measure_latency(count_parameters, layer, warmup=1, repeats=2)["repeats"] == 2
    assert measure_latency(count_parameters, layer, warmup=0, repeats=2)["repeats"] == 2, "and again"
    # A bound method of a worker object, likewise.
    assert peak_memory(layer.forward, Tensor(np.ones((64, 3), dtype=np.float32))) >= 64 * 2 * 4
