"""Module 04 -- Losses: the visible specification.

Run just this module:  pytest spec/test_04_losses.py     (or: kata test 04)
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import assert_close_in_ulps, assert_tensor, float_arrays, log_uniform_arrays, values
from tinytorch.core.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(4)


def np_cross_entropy(logits, targets):
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.max(axis=-1, keepdims=True)
    log_z = top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return log_z - picked


@st.composite
def classification(draw, sequence=False, magnitude=50.0):
    n = draw(st.integers(1, 6))
    c = draw(st.integers(1, 6))
    shape = (n, draw(st.integers(1, 4)), c) if sequence else (n, c)
    logits = draw(float_arrays(shape, dtype=np.float64, magnitude=magnitude))
    targets = draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, c - 1)))
    return logits, targets


@pytest.mark.points(3)
@given(classification(), st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_matches_log_sum_exp_oracle(case, reduction):
    logits, targets = case
    per_example = np_cross_entropy(logits, targets)
    expected = {"mean": per_example.mean(), "sum": per_example.sum(), "none": per_example}[reduction]
    assert_tensor(CrossEntropyLoss(reduction=reduction)(Tensor(logits), targets), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.points(2)
@given(classification(sequence=True))
def test_cross_entropy_over_sequences(case):
    logits, targets = case
    assert_tensor(CrossEntropyLoss()(Tensor(logits), Tensor(targets)), np_cross_entropy(logits, targets).mean(),
                  rtol=1e-9, atol=1e-9)
    assert CrossEntropyLoss(reduction="none")(Tensor(logits), targets).shape == targets.shape


@given(classification(), st.floats(-1e3, 1e3))
def test_cross_entropy_is_shift_invariant_and_non_negative(case, shift):
    logits, targets = case
    base = values(CrossEntropyLoss(reduction="none")(Tensor(logits), targets))
    shifted = values(CrossEntropyLoss(reduction="none")(Tensor(logits + shift), targets))
    assert (base >= -1e-12).all()
    np.testing.assert_allclose(shifted, base, rtol=1e-6, atol=1e-6)


@given(classification(magnitude=1e4))
def test_cross_entropy_is_finite_for_huge_logits(case):
    logits, targets = case
    assert np.isfinite(values(CrossEntropyLoss()(Tensor(logits.astype(np.float32)), targets))).all()


def test_cross_entropy_of_uniform_logits_is_log_of_classes():
    assert_tensor(CrossEntropyLoss()(Tensor(np.zeros((3, 10))), np.array([0, 4, 9])), np.log(10.0), rtol=1e-6)


def test_cross_entropy_rejects_float_targets_and_bad_ids():
    loss = CrossEntropyLoss()
    with pytest.raises(TypeError, match="integer"):
        loss(Tensor(np.zeros((2, 3))), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss(Tensor(np.zeros((2, 3))), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        loss(Tensor(np.zeros((2, 3))), np.array([0, 1, 2]))


@pytest.mark.points(2)
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_mse_matches_numpy(data, reduction):
    predictions = data.draw(float_arrays(dtype=np.float64, magnitude=100, min_dims=1))
    targets = data.draw(float_arrays(predictions.shape, dtype=np.float64, magnitude=100))
    squared = (predictions - targets) ** 2
    expected = {"mean": squared.mean(), "sum": squared.sum(), "none": squared}[reduction]
    assert_tensor(MSELoss(reduction)(Tensor(predictions), Tensor(targets)), expected, rtol=1e-9, atol=1e-9)


def test_mse_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as caught:
        MSELoss()(Tensor(np.zeros((2, 3))), Tensor(np.zeros((3, 2))))
    assert "(2, 3)" in str(caught.value) and "(3, 2)" in str(caught.value)


@st.composite
def binary(draw, magnitude=30.0):
    logits = draw(float_arrays(dtype=np.float64, magnitude=magnitude, min_dims=1))
    targets = draw(hnp.arrays(np.float64, logits.shape, elements=st.sampled_from([0.0, 1.0])))
    return logits, targets


@pytest.mark.points(2)
@given(binary())
def test_bce_with_logits_matches_stable_oracle(case):
    logits, targets = case
    expected = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    assert_tensor(BCEWithLogitsLoss(reduction="none")(Tensor(logits), Tensor(targets)), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_bce_with_logits_keeps_relative_precision_of_tiny_losses(dtype, data):
    # A confident right answer (x = 20, y = 1) costs log1p(e^-20) = 2.06e-9; computing log(1 + e^-20)
    # rounds 1 + 2.06e-9 to 1 and returns 0. Every loss, tiny or not, must keep its relative precision.
    logits = data.draw(log_uniform_arrays(dtype, -3, 2))  # |x| from 0.001 to 100
    targets = data.draw(hnp.arrays(dtype, logits.shape, elements=st.sampled_from([0.0, 1.0])))
    x = logits.astype(np.float64)
    expected = np.maximum(x, 0) - x * targets + np.log1p(np.exp(-np.abs(x)))
    got = values(BCEWithLogitsLoss(reduction="none")(Tensor(logits), Tensor(targets)))
    assert got.dtype == dtype, f"dtype: expected {np.dtype(dtype)}, got {got.dtype}"
    assert_close_in_ulps(got, expected, dtype, ulps=8)


@given(binary(magnitude=15))
def test_bce_on_sigmoid_equals_bce_with_logits(case):
    logits, targets = case
    probabilities = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(values(BCELoss()(Tensor(probabilities), Tensor(targets))),
                               values(BCEWithLogitsLoss()(Tensor(logits), Tensor(targets))), rtol=1e-6, atol=1e-7)


@given(binary(magnitude=1e4))
def test_bce_with_logits_is_finite_for_huge_logits(case):
    logits, targets = case
    out = values(BCEWithLogitsLoss(reduction="none")(Tensor(logits.astype(np.float32)), Tensor(targets.astype(np.float32))))
    assert np.isfinite(out).all() and (out >= 0).all()


def test_bce_of_certain_wrong_answer_is_large_but_finite():
    out = values(BCELoss()(Tensor([0.0, 1.0]), Tensor([1.0, 0.0])))
    assert np.isfinite(out) and out > 10


def test_binary_losses_validate_targets_and_probabilities():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BCELoss()(Tensor([0.5]), Tensor([2.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BCELoss()(Tensor([1.5]), Tensor([1.0]))
    with pytest.raises(ValueError):
        BCEWithLogitsLoss()(Tensor([0.5, 0.1]), Tensor([1.0]))


def test_unknown_reduction_is_rejected():
    assert MSELoss("sum")(Tensor([1.0]), Tensor([0.0])).item() == 1.0
    with pytest.raises(ValueError, match="reduction"):
        MSELoss(reduction="average")
