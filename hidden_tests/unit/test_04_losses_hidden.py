"""Module 04 -- Losses: held-out properties and edge cases."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import assert_tensor, values
from tinytorch.core.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(4)


def test_confident_correct_prediction_costs_almost_nothing():
    logits = Tensor(np.array([[100.0, 0.0, 0.0]]))
    assert values(CrossEntropyLoss()(logits, np.array([0]))) < 1e-30


def test_confident_wrong_prediction_costs_the_margin():
    logits = Tensor(np.array([[1e4, 0.0]]))
    assert_tensor(CrossEntropyLoss()(logits, np.array([1])), 1e4, rtol=1e-9)


def test_cross_entropy_accepts_integer_tensors_of_any_width():
    logits = Tensor(np.zeros((2, 4)))
    for dtype in (np.int8, np.int32, np.uint8, np.int64):
        assert_tensor(CrossEntropyLoss()(logits, Tensor(np.array([1, 3], dtype=dtype))), np.log(4.0), rtol=1e-9)


def test_cross_entropy_keeps_float32():
    out = CrossEntropyLoss()(Tensor(np.zeros((2, 3), dtype=np.float32)), np.array([0, 1]))
    assert out.dtype == np.float32


def test_cross_entropy_rejects_wrong_rank_and_non_tensor_logits():
    with pytest.raises(ValueError):
        CrossEntropyLoss()(Tensor(np.zeros(3)), np.array([0]))
    with pytest.raises(TypeError):
        CrossEntropyLoss()(np.zeros((1, 3)), np.array([0]))
    with pytest.raises(ValueError):
        CrossEntropyLoss()(Tensor(np.zeros((1, 3))), np.array([-1]))


@given(st.integers(1, 8), st.integers(2, 8))
def test_sum_is_mean_times_count(n, c):
    rng = np.random.default_rng(n * 31 + c)
    logits, targets = rng.normal(size=(n, c)) * 5, rng.integers(0, c, size=n)
    total = values(CrossEntropyLoss("sum")(Tensor(logits), targets))
    mean = values(CrossEntropyLoss("mean")(Tensor(logits), targets))
    np.testing.assert_allclose(total, n * mean, rtol=1e-12)


def test_mse_of_identical_inputs_is_zero_and_accepts_arrays():
    x = np.arange(6.0).reshape(2, 3)
    assert values(MSELoss()(Tensor(x), x)) == 0.0
    with pytest.raises(TypeError):
        MSELoss()(Tensor(x), x.tolist())


def test_bce_soft_targets():
    p, y = np.array([0.2, 0.7]), np.array([0.3, 0.6])
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert_tensor(BCELoss(reduction="none")(Tensor(p), Tensor(y)), expected, rtol=1e-9)


def test_bce_with_logits_at_zero_is_log_two():
    assert_tensor(BCEWithLogitsLoss()(Tensor(np.zeros(4)), Tensor(np.array([0.0, 1.0, 0.0, 1.0]))), np.log(2.0), rtol=1e-12)


def test_bce_with_logits_extremes_are_exact():
    out = values(BCEWithLogitsLoss(reduction="none")(Tensor([1e4, -1e4, 1e4]), Tensor([1.0, 0.0, 0.0])))
    np.testing.assert_allclose(out, [0.0, 0.0, 1e4], atol=1e-6)


def test_losses_do_not_modify_inputs():
    logits = np.array([[1.0, 2.0], [0.5, -1.0]])
    kept = logits.copy()
    CrossEntropyLoss()(Tensor(logits), np.array([0, 1]))
    BCEWithLogitsLoss()(Tensor(logits), Tensor(np.ones((2, 2))))
    np.testing.assert_array_equal(logits, kept)
