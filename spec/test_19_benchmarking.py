"""Module 19 -- Benchmarking: the visible specification.

Run just this module:  pytest spec/test_19_benchmarking.py     (or: kata test 19)
Every statistic is checked against values worked out here: closed forms of Student's t for 1 and 2
degrees of freedom, published t-table values, and means, deviations, intervals and test statistics
computed by hand from small fixed samples. Timings come from a fake clock the tests own.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinytorch.perf.benchmarking import (compare, confidence_interval, environment, mann_whitney_u, run_benchmark,
                                         student_t_cdf, summarize, t_critical, welch_t_test)

pytestmark = pytest.mark.module(19)

# Two-sided 95% critical values of Student's t (any statistics table), by degrees of freedom.
T_TABLE_95 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 9: 2.2622, 19: 2.0930, 29: 2.0452, 100: 1.9840}


class FakeClock:
    """Readings such that the timed calls take exactly `durations` seconds."""

    def __init__(self, durations):
        self.readings, now = [], 50.0
        for duration in durations:
            self.readings += [now, now + duration]
            now += duration + 0.5
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return self.readings[self.reads - 1]


# ---------------------------------------------------------------- the t-distribution
@given(t=st.floats(-50, 50))
def test_one_degree_of_freedom_is_the_cauchy_distribution(t):
    assert student_t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)


@given(t=st.floats(-50, 50))
def test_two_degrees_of_freedom_have_a_closed_form(t):
    assert student_t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)


@given(t=st.floats(-6, 6))
def test_many_degrees_of_freedom_approach_the_normal(t):
    normal = 0.5 * (1 + math.erf(t / math.sqrt(2)))
    assert student_t_cdf(t, 1e7) == pytest.approx(normal, abs=1e-6)


@given(t=st.floats(0, 30), df=st.floats(0.5, 200))
def test_the_distribution_is_symmetric(t, df):
    assert student_t_cdf(t, df) + student_t_cdf(-t, df) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.points(2)
@pytest.mark.parametrize("df, expected", sorted(T_TABLE_95.items()))
def test_critical_values_match_the_t_table(df, expected):
    assert t_critical(0.95, df) == pytest.approx(expected, abs=6e-5)


def test_a_critical_value_leaves_the_stated_probability_outside():
    t = t_critical(0.9, 7.5)
    assert student_t_cdf(t, 7.5) == pytest.approx(0.95, abs=1e-10)


# ---------------------------------------------------------------- describing measurements
@pytest.mark.points(2)
def test_summary_of_five_timings_by_hand():
    summary = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    half = T_TABLE_95[4] * math.sqrt(2.5) / math.sqrt(5)   # s^2 = 10 / 4
    assert summary["n"] == 5 and summary["mean"] == 3.0 and summary["median"] == 3.0
    assert summary["std"] == pytest.approx(math.sqrt(2.5), rel=1e-12)
    assert summary["min"] == 1.0 and summary["max"] == 5.0
    assert summary["ci_half_width"] == pytest.approx(half, rel=3e-5)
    assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((3 - half, 3 + half), abs=1e-4)


@given(values=st.lists(st.floats(0.001, 10), min_size=2, max_size=30))
def test_the_interval_is_centred_on_the_mean_and_widens_with_confidence(values):
    low, high = confidence_interval(values)
    mean = float(np.mean(values))
    assert (low + high) / 2 == pytest.approx(mean, rel=1e-9, abs=1e-12)
    wide_low, wide_high = confidence_interval(values, 0.99)
    assert wide_high - wide_low >= high - low - 1e-12


@pytest.mark.points(3)
def test_benchmark_runner_warms_up_then_summarizes_the_timed_calls():
    calls = []
    clock = FakeClock([0.2, 0.4, 0.3, 0.5])
    result = run_benchmark(lambda a, b=0: calls.append((a, b)), 1, b=2, warmup=3, repeats=4, timer=clock)
    assert calls == [(1, 2)] * 7, "3 warm-up calls and 4 timed calls"
    assert clock.reads == 8, "two readings per timed call, none during warm-up"
    assert result["times"] == pytest.approx([0.2, 0.4, 0.3, 0.5])
    assert result["mean"] == pytest.approx(0.35) and result["median"] == pytest.approx(0.35)
    std = math.sqrt((0.15 ** 2 + 0.05 ** 2 + 0.05 ** 2 + 0.15 ** 2) / 3)
    assert result["std"] == pytest.approx(std, rel=1e-9)
    assert result["ci_half_width"] == pytest.approx(T_TABLE_95[3] * std / 2, rel=3e-5)
    assert result["warmup"] == 3 and result["n"] == 4


@pytest.mark.parametrize("options", [{"repeats": 1}, {"warmup": -1}, {"confidence": 1.0}])
def test_runner_refuses_settings_that_cannot_give_an_interval(options):
    with pytest.raises(ValueError):
        run_benchmark(lambda: None, timer=FakeClock([0.1] * 20), **options)


# ---------------------------------------------------------------- significance
@pytest.mark.points(2)
def test_welch_by_hand_with_two_degrees_of_freedom():
    # means 2 and 6, variances 2 and 2, n = 2: t = -4 / sqrt(2) and df = (1 + 1)^2 / (1 + 1) = 2
    result = welch_t_test([1.0, 3.0], [5.0, 7.0])
    t = -4 / math.sqrt(2)
    assert result["t"] == pytest.approx(t, rel=1e-12) and result["df"] == pytest.approx(2.0, rel=1e-12)
    p = 2 * (1 - (0.5 + abs(t) / (2 * math.sqrt(2 + t * t))))
    assert result["p_value"] == pytest.approx(p, rel=1e-9)


def test_welch_degrees_of_freedom_with_unequal_variances():
    a, b = [1.0, 2.0, 3.0, 4.0], [10.0, 14.0, 18.0]
    share_a, share_b = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 3
    df = (share_a + share_b) ** 2 / (share_a ** 2 / 3 + share_b ** 2 / 2)
    result = welch_t_test(a, b)
    assert result["df"] == pytest.approx(df, rel=1e-12)
    assert result["t"] == pytest.approx((2.5 - 14.0) / math.sqrt(share_a + share_b), rel=1e-12)


@pytest.mark.points(2)
def test_mann_whitney_by_hand_with_a_tie():
    # ranks of [1, 2, 2, 3 | 2, 3, 4, 5]: 1, 3, 3, 5.5 | 3, 5.5, 7, 8 -> R_a = 12.5, U_a = 12.5 - 10 = 2.5
    result = mann_whitney_u([1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0])
    assert result["u_a"] == 2.5 and result["u"] == 2.5
    ties = (3 ** 3 - 3) + (2 ** 3 - 2)
    sigma = math.sqrt(16 / 12 * (9 - ties / (8 * 7)))
    z = (abs(2.5 - 8) - 0.5) / sigma
    assert result["z"] == pytest.approx(z, rel=1e-12)
    assert result["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)


@pytest.mark.points(2)
@pytest.mark.parametrize("method", ["welch", "mann-whitney"])
def test_a_clear_speedup_is_significant_and_noise_is_not(method):
    baseline = [2.00, 2.05, 1.95, 2.02, 1.98, 2.01, 1.99, 2.03]
    faster = [1.00, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.00]
    result = compare(baseline, faster, method=method)
    assert result["significant"] is True and result["speedup"] == pytest.approx(np.mean(baseline) / np.mean(faster))
    assert result["verdict"].startswith("candidate is faster")
    shuffled = [1.99, 2.03, 2.00, 1.98, 2.02, 1.95, 2.05, 2.01]
    same = compare(baseline, shuffled, method=method)
    assert same["significant"] is False and same["verdict"].startswith("no significant difference")
    assert same["p_value"] > 0.05


def test_environment_names_the_software_and_machine():
    facts = environment()
    assert facts["numpy"] == np.__version__
    assert facts["python"].count(".") == 2 and isinstance(facts["cpu_count"], (int, type(None)))
    assert {"platform", "machine", "processor", "implementation", "byteorder"} <= set(facts)
