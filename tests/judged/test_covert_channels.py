"""What of the tests reaches the submission's process in a judged run, tried by a submission that
reports back everything it is shown: no test's class name, no text of an error raised in the test's
code (a callback's, or one that ends a `with` block), only fixed words.

Each hostile package below raises what it saw in an error of its own, which a test (as the harness)
can read: the submission's own messages do reach visible tests' reports.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from grading.judged import proxy, remote
from tests.judged.test_judged import _package

SECRET = "test_hidden_secret_case"


@pytest.fixture
def hostile(tmp_path):
    def install(extra: str, module: str) -> proxy.Runtime:
        return proxy.install(remote.Worker(_package(tmp_path, extra, module), call_seconds=20))

    yield install
    proxy.uninstall()


def test_a_class_a_test_defines_reaches_the_submission_under_a_neutral_name(hostile):
    hostile("def _report_name(cls, **options):\n"
            "    if not cls.__module__.startswith('tinytorch'):  # a class the test defined\n"
            "        raise ValueError(f'seen: {cls.__name__} {cls.__qualname__} {cls.__module__}')\n"
            "Module.__init_subclass__ = classmethod(_report_name)\n", module="layers")
    from tinytorch.core.layers import Module

    class test_hidden_secret_case(Module):  # noqa: N801 -- named as a hidden test's helper might be
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match=r"^seen: TestClass\d+ TestClass\d+ kata_tests$") as caught:
        test_hidden_secret_case()
    assert SECRET not in str(caught.value)


def test_an_error_in_a_tests_callback_reaches_the_submission_as_fixed_words(hostile):
    hostile("def _report_error(self, *inputs, **options):\n"
            "    try:\n"
            "        return self.forward(*inputs, **options)\n"
            "    except Exception as error:\n"
            "        raise ValueError(f'seen: {type(error).__name__}: {error}')\n"
            "Module.__call__ = _report_error\n", module="layers")
    from tinytorch.core.layers import Module
    from tinytorch.core.tensor import Tensor

    class Failing(Module):
        def forward(self, x):
            raise TypeError(f"{SECRET} expected 3.14159 from the hidden data")

    with pytest.raises(ValueError) as caught:
        Failing()(Tensor(np.ones(2)))
    assert str(caught.value) == f"seen: TypeError: {proxy.TEST_ERROR_TEXT}"

    class Reshaping(Module):
        def forward(self, x):
            return x.reshape(7)  # the submission's own error, raised in the worker: its words are its own

    with pytest.raises(ValueError) as caught:
        Reshaping()(Tensor(np.ones(2)))
    assert str(caught.value).startswith("seen: ValueError: ") and proxy.TEST_ERROR_TEXT not in str(caught.value)

    class Asserting(Module):
        def forward(self, x):
            assert x.shape == (99,), f"{SECRET}: the hidden shape"

    with pytest.raises(AssertionError, match=SECRET):  # the test still fails, with its own message
        Asserting()(Tensor(np.ones(2)))


def test_an_error_that_ends_a_with_block_reaches_the_submission_as_fixed_words(hostile):
    hostile("def _report_exit(self, kind, error, traceback):\n"
            "    raise ValueError(f'seen: {kind.__name__}: {error}')\n"
            "no_grad.__exit__ = _report_exit\n", module="autograd")
    from tinytorch.core.autograd import no_grad

    with pytest.raises(ValueError) as caught:
        with no_grad():
            raise KeyError(f"{SECRET}: a value from the hidden test")
    assert str(caught.value) == f"seen: KeyError: {KeyError(proxy.TEST_ERROR_TEXT)}"  # (KeyError quotes its text)


def test_the_temporary_folders_the_submission_shares_are_not_named_after_tests(tmp_path):
    # pytest names a test's tmp_path after the test; in a judged run the worker can list the folder
    # that holds them all (a test hands the submission a path to save to). Here the submission lists
    # it in an error that the visible test's message shows.
    from grading import REPO_ROOT
    from tests.support.grading import graded, runner, submission

    training = (REPO_ROOT / "reference" / "tinytorch" / "core" / "training.py").read_text()
    signature = "def save_checkpoint(model: Module, path) -> Path:\n"
    listing = ("    import os\n"
               "    raise ValueError('listing: ' + ' '.join(sorted(os.listdir(os.path.dirname(os.path.dirname(path))))))\n")
    hostile = training.replace(signature, signature + listing, 1)
    report = graded(submission(tmp_path, tinytorch__core__training_py=hostile), modules=(8,), judged=True)
    (checked,) = [t for t in runner(report, "m08")["tests"] if t["nodeid"].endswith("::test_checkpoint_round_trip_is_exact")]
    folders = checked["message"].split("listing: ", 1)[1].splitlines()[0].split()
    assert folders and all(re.fullmatch(r"t(\d+|current)", name) for name in folders), folders  # (pytest links the newest)
