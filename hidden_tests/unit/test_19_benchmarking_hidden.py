"""Module 19 -- Benchmarking: held-out checks (extreme tails, fractional degrees of freedom,
identical samples, outliers, slower candidates, bad inputs).

Expected values are closed forms and hand computations written here.
"""
import math

import numpy as np
import pytest

from tinytorch.perf.benchmarking import (compare, confidence_interval, mann_whitney_u, run_benchmark, student_t_cdf,
                                         summarize, t_critical, welch_t_test)

pytestmark = pytest.mark.module(19)


def test_far_tails_and_infinities():
    assert student_t_cdf(1e6, 1) == pytest.approx(0.5 + math.atan(1e6) / math.pi, abs=1e-12)
    assert student_t_cdf(-200.0, 2) == pytest.approx(0.5 - 200 / (2 * math.sqrt(2 + 200 ** 2)), abs=1e-12)
    assert student_t_cdf(float("inf"), 3) == 1.0 and student_t_cdf(float("-inf"), 3) == 0.0
    assert student_t_cdf(0.0, 5.5) == 0.5
    assert student_t_cdf(1e-8, 2) - 0.5 == pytest.approx(1e-8 / (2 * math.sqrt(2)), rel=1e-6), "tiny t keeps its digits"


def test_cauchy_quantiles_are_tangents():
    assert t_critical(0.5, 1) == pytest.approx(1.0, rel=1e-10), "the Cauchy quartiles are -1 and 1"
    assert t_critical(0.99, 1) == pytest.approx(math.tan(math.pi * 0.495), rel=1e-9)


@pytest.mark.parametrize("df", [0, -1, float("inf"), float("nan"), True])
def test_degrees_of_freedom_must_be_positive_and_finite(df):
    with pytest.raises(ValueError):
        student_t_cdf(1.0, df)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.2])
def test_confidence_must_lie_strictly_between_zero_and_one(confidence):
    with pytest.raises(ValueError):
        t_critical(confidence, 3)
    with pytest.raises(ValueError):
        confidence_interval([1.0, 2.0], confidence)


def test_one_measurement_is_not_a_sample():
    for bad in ([1.0], [], [1.0, float("nan")], [[1.0, 2.0]]):
        with pytest.raises(ValueError):
            summarize(bad)


def test_identical_timings_have_a_zero_width_interval():
    summary = summarize([0.25, 0.25, 0.25])
    assert summary["std"] == 0.0 and summary["ci_low"] == summary["ci_high"] == 0.25


def test_identical_samples_and_constant_but_different_samples():
    same = welch_t_test([1.0, 1.0], [1.0, 1.0])
    assert same["p_value"] == 1.0 and same["t"] == 0.0
    apart = welch_t_test([1.0, 1.0], [2.0, 2.0])
    assert apart["p_value"] == 0.0 and apart["t"] == -math.inf
    assert mann_whitney_u([3.0, 3.0], [3.0, 3.0])["p_value"] == 1.0


def test_one_slow_outlier_hides_a_speedup_from_welch_but_not_from_mann_whitney():
    baseline = [2.0, 2.01, 1.99, 2.02, 1.98, 2.0, 2.01, 1.99, 2.0, 2.02]
    candidate = [1.5, 1.51, 1.49, 1.5, 1.52, 1.48, 1.5, 1.51, 1.49, 30.0]
    assert compare(baseline, candidate, method="welch")["significant"] is False
    robust = compare(baseline, candidate, method="mann-whitney")
    assert robust["significant"] is True and robust["median_speedup"] == pytest.approx(2.0 / 1.5, rel=1e-2)


def test_a_slower_candidate_is_called_slower():
    result = compare([1.0, 1.01, 0.99, 1.0], [2.0, 2.01, 1.99, 2.0])
    assert result["significant"] is True and result["speedup"] < 1
    assert result["verdict"].startswith("candidate is slower") and result["difference"] == pytest.approx(-1.0)


def test_compare_refuses_unknown_methods_levels_and_zero_timings():
    with pytest.raises(ValueError, match="method"):
        compare([1.0, 2.0], [1.0, 2.0], method="anova")
    with pytest.raises(ValueError):
        compare([1.0, 2.0], [1.0, 2.0], alpha=0.0)
    with pytest.raises(ValueError):
        compare([1.0, 2.0], [0.0, 0.0])


def test_mann_whitney_without_ties_by_hand():
    result = mann_whitney_u([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    sigma = math.sqrt(9 / 12 * 7)
    assert result["u"] == 0.0 and result["u_a"] == 0.0
    assert result["z"] == pytest.approx((4.5 - 0.5) / sigma, rel=1e-12)
    reverse = mann_whitney_u([4.0, 5.0, 6.0], [1.0, 2.0, 3.0])
    assert reverse["u_a"] == 9.0 and reverse["p_value"] == pytest.approx(result["p_value"], rel=1e-12)


def test_runner_accepts_a_ninety_percent_interval():
    readings = iter([0.0, 1.0, 2.0, 4.0, 5.0, 6.5])
    result = run_benchmark(lambda: None, warmup=0, repeats=3, timer=lambda: next(readings), confidence=0.9)
    assert result["times"] == [1.0, 2.0, 1.5] and result["confidence"] == 0.9
    assert result["ci_half_width"] == pytest.approx(2.9200 * 0.5 / math.sqrt(3), abs=1e-4)
    with pytest.raises(TypeError):
        run_benchmark("not callable")
    with pytest.raises(ValueError):
        run_benchmark(lambda: None, repeats=np.float64(3))
