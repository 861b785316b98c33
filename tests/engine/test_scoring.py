"""Scoring: suite weights split over tests exactly, in binary quanta; statuses."""
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from grading.engine.scoring import apportion, earned, max_scores, status

weights = st.lists(st.sampled_from([0.5, 1, 2, 3, 5]), min_size=1, max_size=60)


@given(units=st.integers(0, 2000), weights=weights)
def test_apportion_hands_out_every_unit_within_one_of_the_exact_share(units, weights):
    shares = apportion(units, weights)
    assert sum(shares) == units
    total = sum(Fraction(w) for w in weights)
    for share, weight in zip(shares, weights):
        exact = Fraction(units) * Fraction(weight) / total
        assert exact - 1 < share < exact + 1


@given(weights=weights, suite_points=st.integers(1, 50), quantum=st.sampled_from([1, 4, 16, 64]))
def test_test_scores_are_exact_binary_fractions_that_add_up_to_the_suite_weight(weights, suite_points, quantum):
    scores = max_scores(weights, suite_points, quantum)
    assert sum(scores) == suite_points, "float addition of multiples of 1/2^k is exact here"
    assert all((score * quantum).is_integer() for score in scores)


def test_apportion_breaks_ties_towards_the_earlier_test_and_rejects_negative_weights():
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert apportion(5, [0, 0]) == [0, 0]
    with pytest.raises(ValueError, match="non-negative"):
        apportion(3, [1, -1])


def test_only_a_pass_earns_points():
    assert [earned(0.5, o) for o in ("passed", "failed", "error", "skipped", "not-run")] == [0.5, 0, 0, 0, 0]


def test_status_is_error_for_a_broken_run_fail_for_any_failure_and_pass_otherwise():
    assert status(["passed", "passed"]) == "pass"
    assert status(["passed", "failed"]) == "fail"
    assert status([]) == "fail"
    assert status(["passed"], run_problem="crashed") == "error"
