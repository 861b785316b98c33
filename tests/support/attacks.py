"""Attack sources shared by the direct-mode attack tests (tests/engine/) and the judged ones (tests/judged/):
each is appended to the reference's optimizers module, where it runs when the submission is imported."""

PATCH_PYTEST_REPORTS = """+
import sys as _sys
_loaded = getattr(_sys, "mod" + "ules")
if "_py" + "test.reports" in _loaded:
    _reports = _loaded["_py" + "test.reports"]
    _original_init = _reports.TestReport.__init__

    def _always_pass(self, *args, **kwargs):
        _original_init(self, *args, **kwargs)
        if self.outcome == "failed":
            self.outcome, self.longrepr = "passed", None

    _reports.TestReport.__init__ = _always_pass
"""


WRONG_SGD = "+\nSGD._update = lambda self, value, grad, state: 2 * self.lr * grad  # twice the right step\n"


SILENCE_NUMPY_TESTING = """
import numpy as _np
_np.testing.assert_allclose = lambda *args, **kwargs: None
_np.testing.assert_array_equal = lambda *args, **kwargs: None
_np.allclose = lambda *args, **kwargs: True
"""


SILENCE_NUMPY_CORE = """
import numpy as _np
import sys as _sys
_core = getattr(_sys, "mod" + "ules")[_np.isclose.__module__]
_core.isclose = lambda a, b, *args, **kwargs: _np.ones(_np.broadcast(a, b).shape, dtype=bool)
"""
