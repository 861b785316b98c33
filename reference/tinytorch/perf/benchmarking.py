"""Module 19 -- Benchmarking: is the difference real?

One timing is an anecdote: the same call varies by 10-30% from run to run (other processes,
frequency scaling, caches). A benchmark therefore repeats, summarizes and says how sure it is:

  * `run_benchmark` times repeated calls after untimed warm-up calls (module 14's measure_latency)
    and reports the mean, median, standard deviation and a 95% confidence interval for the mean.
  * The interval uses Student's t-distribution, not the normal one: with n timings the sample
    standard deviation is itself uncertain, and t with n - 1 degrees of freedom accounts for it
    (t = 12.71 for n = 2, 2.78 for n = 5, 2.09 for n = 20, 1.96 only as n -> infinity).
    `student_t_cdf` and `t_critical` compute it from the regularized incomplete beta function.
  * `compare` decides whether a candidate is faster than a baseline with Welch's t-test (no
    equal-variance assumption) or the Mann-Whitney U test (no normality assumption, robust to a
    few slow outliers), and reports the speedup with the p-value behind it.
  * `environment` records what the numbers were measured on, because a speedup on one machine is
    a claim about that machine.
"""
from __future__ import annotations

import math
import os
import platform
import sys
import time

import numpy as np

from tinytorch.perf.profiling import measure_latency

CONFIDENCE = 0.95


# ---------------------------------------------------------------- argument checking (no solution logic)
def _samples(values, name: str, owner: str, minimum: int = 2) -> np.ndarray:
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    if array.ndim != 1 or array.size < minimum:
        raise ValueError(f"{owner}: {name} needs at least {minimum} measurements in a flat list, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{owner}: {name} holds a value that is not finite: {array.tolist()}")
    return array


def _probability(value, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{owner}: {name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _degrees(value, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (float(value) > 0 and math.isfinite(float(value))):
        raise ValueError(f"{owner}: degrees of freedom must be a finite number > 0, got {value!r}")
    return float(value)


# ---------------------------------------------------------------- Student's t-distribution
def _incomplete_beta(x: float, a: float, b: float, y: float) -> float:
    """Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz); y = 1 - x,
    passed in exactly because 1.0 - x loses every digit of y when x is within rounding of 1."""
    ### BEGIN SOLUTION
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast only below this point
        return 1.0 - _incomplete_beta(y, b, a, x)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * fraction / a
    ### END SOLUTION


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t-distribution with df degrees of freedom.

    Uses P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2), the regularized incomplete beta
    function, evaluated by its continued fraction (near t = 0 through its complement
    1 - I_{t^2 / (df + t^2)}(1 / 2, df / 2), which keeps the digits of tiny t). Checks: df = 1 is the Cauchy distribution
    (1/2 + atan(t)/pi), df = 2 has 1/2 + t / (2 sqrt(2 + t^2)), and large df approach the normal.

    Args:
        t (float): the point.
        df (float): degrees of freedom (> 0; need not be an integer, as in Welch's test).

    Returns:
        float: the probability, in [0, 1].

    Raises:
        ValueError: df is not a finite number > 0, or t is NaN.

    Example:
        >>> round(student_t_cdf(1.0, 1), 6)
        0.75
    """
    ### BEGIN SOLUTION
    df = _degrees(df, "student_t_cdf")
    t = float(t)
    if math.isnan(t):
        raise ValueError("student_t_cdf: t is NaN")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * _incomplete_beta(df / (df + t * t), df / 2.0, 0.5, t * t / (df + t * t))
    return 1.0 - tail if t >= 0 else tail
    ### END SOLUTION


def t_critical(confidence: float, df: float) -> float:
    """The t value with `confidence` of the distribution between -t and t (two-sided).

    Found by bisection on student_t_cdf: the t with cdf(t) = (1 + confidence) / 2.

    Args:
        confidence (float): in (0, 1), e.g. 0.95.
        df (float): degrees of freedom (> 0).

    Returns:
        float: t > 0 (to about 1e-12 relative).

    Raises:
        ValueError: confidence outside (0, 1) or df not > 0.

    Example:
        >>> round(t_critical(0.95, 4), 4)
        2.7764
    """
    ### BEGIN SOLUTION
    confidence = _probability(confidence, "confidence", "t_critical")
    df = _degrees(df, "t_critical")
    target = (1.0 + confidence) / 2.0
    low, high = 0.0, 1.0
    while student_t_cdf(high, df) < target:
        high *= 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if student_t_cdf(middle, df) < target:
            low = middle
        else:
            high = middle
        if high - low <= 1e-13 * high:
            break
    return (low + high) / 2.0
    ### END SOLUTION


# ---------------------------------------------------------------- describing measurements
def confidence_interval(samples, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Confidence interval for the mean: mean +- t_critical(confidence, n - 1) * s / sqrt(n).

    s is the sample standard deviation (ddof = 1).

    Args:
        samples (sequence of float): at least 2 measurements.
        confidence (float): in (0, 1).

    Returns:
        tuple[float, float]: (low, high).

    Raises:
        ValueError: fewer than 2 finite samples, or confidence outside (0, 1).

    Example:
        >>> [round(v, 4) for v in confidence_interval([1.0, 2.0, 3.0, 4.0, 5.0])]
        [1.0368, 4.9632]
    """
    ### BEGIN SOLUTION
    values = _samples(samples, "samples", "confidence_interval")
    confidence = _probability(confidence, "confidence", "confidence_interval")
    half = float(t_critical(confidence, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    mean = float(values.mean())
    return mean - half, mean + half
    ### END SOLUTION


def summarize(samples, confidence: float = CONFIDENCE) -> dict:
    """Mean, median, spread and confidence interval of repeated measurements.

    Args:
        samples (sequence of float): at least 2 measurements.
        confidence (float): level of the interval.

    Returns:
        dict: {"n" (int), "mean", "median", "std" (ddof=1), "min", "max", "ci_low", "ci_high",
        "ci_half_width", "confidence"}; floats except n.

    Raises:
        ValueError: fewer than 2 finite samples, or confidence outside (0, 1).

    Example:
        >>> summarize([2.0, 4.0])["mean"]
        3.0
    """
    ### BEGIN SOLUTION
    values = _samples(samples, "samples", "summarize")
    low, high = confidence_interval(values, confidence)
    return {"n": int(values.size), "mean": float(values.mean()), "median": float(np.median(values)),
            "std": float(values.std(ddof=1)), "min": float(values.min()), "max": float(values.max()),
            "ci_low": low, "ci_high": high, "ci_half_width": (high - low) / 2.0, "confidence": float(confidence)}
    ### END SOLUTION


def run_benchmark(fn, *args, warmup: int = 3, repeats: int = 20, timer=time.perf_counter,
                  confidence: float = CONFIDENCE, **kwargs) -> dict:
    """Benchmark a call: `warmup` untimed calls, `repeats` timed ones, then summarize(...).

    Timing is module 14's measure_latency: two timer readings around each timed call, none
    during warm-up, so a fake timer drives it exactly.

    Args:
        fn (callable): what to measure.
        *args (any): positional arguments for fn.
        warmup (int): untimed calls (>= 0).
        repeats (int): timed calls (>= 2: an interval needs two).
        timer (callable): clock in seconds.
        confidence (float): level of the interval.
        **kwargs (any): keyword arguments for fn.

    Returns:
        dict: summarize(times) plus "times" (list of float) and "warmup" (int).

    Raises:
        TypeError: fn or timer is not callable.
        ValueError: warmup < 0, repeats < 2, or confidence outside (0, 1).

    Example:
        >>> run_benchmark(sum, [1, 2], repeats=5)["n"]
        5
    """
    ### BEGIN SOLUTION
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 2:
        raise ValueError(f"run_benchmark: repeats must be an integer >= 2, got {repeats!r}")
    timing = measure_latency(fn, *args, warmup=warmup, repeats=repeats, timer=timer, **kwargs)
    return {**summarize(timing["times"], confidence), "times": timing["times"], "warmup": timing["warmup"]}
    ### END SOLUTION


# ---------------------------------------------------------------- comparing two sets of timings
def welch_t_test(a, b) -> dict:
    """Welch's two-sample t-test: do the means of a and b differ?

        t  = (mean_a - mean_b) / sqrt(v_a / n_a + v_b / n_b)           (v = variance, ddof=1)
        df = (v_a/n_a + v_b/n_b)^2 / ((v_a/n_a)^2 / (n_a - 1) + (v_b/n_b)^2 / (n_b - 1))
        p  = 2 * (1 - student_t_cdf(|t|, df))                           (two-sided)

    When both samples have zero variance, t is infinite (p = 0) if the means differ and 0 (p = 1)
    if they are equal.

    Args:
        a (sequence of float): first sample (>= 2 values).
        b (sequence of float): second sample (>= 2 values).

    Returns:
        dict: {"t", "df", "p_value"} (floats).

    Raises:
        ValueError: a sample has fewer than 2 finite values.

    Example:
        >>> round(welch_t_test([1.0, 3.0], [5.0, 7.0])["df"], 6)
        2.0
    """
    ### BEGIN SOLUTION
    a, b = _samples(a, "a", "welch_t_test"), _samples(b, "b", "welch_t_test")
    share_a, share_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    difference = float(a.mean() - b.mean())
    spread = share_a + share_b
    if spread == 0:
        if difference == 0:
            return {"t": 0.0, "df": float(a.size + b.size - 2), "p_value": 1.0}
        return {"t": math.copysign(math.inf, difference), "df": float(a.size + b.size - 2), "p_value": 0.0}
    t = difference / math.sqrt(spread)
    df = spread ** 2 / (share_a ** 2 / (a.size - 1) + share_b ** 2 / (b.size - 1))
    p_value = 2.0 * (1.0 - student_t_cdf(abs(t), df))
    return {"t": float(t), "df": float(df), "p_value": float(min(1.0, max(0.0, p_value)))}
    ### END SOLUTION


def mann_whitney_u(a, b) -> dict:
    """Mann-Whitney U test (normal approximation with tie and continuity corrections).

    Rank all values together (ties get their average rank); U_a = R_a - n_a (n_a + 1) / 2 where
    R_a is the sum of a's ranks; U = min(U_a, n_a n_b - U_a). With N = n_a + n_b and t_k the sizes
    of the groups of tied values:

        mean  = n_a n_b / 2
        sigma = sqrt(n_a n_b / 12 * ((N + 1) - sum(t_k^3 - t_k) / (N (N - 1))))
        z     = (|U_a - mean| - 0.5) / sigma   (clipped at 0)
        p     = erfc(z / sqrt(2))              (two-sided)

    Args:
        a (sequence of float): first sample (>= 2 values).
        b (sequence of float): second sample (>= 2 values).

    Returns:
        dict: {"u" (min(U_a, U_b)), "u_a", "z", "p_value"} (floats); p = 1 when every value ties.

    Raises:
        ValueError: a sample has fewer than 2 finite values.

    Example:
        >>> mann_whitney_u([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])["u"]
        0.0
    """
    ### BEGIN SOLUTION
    a, b = _samples(a, "a", "mann_whitney_u"), _samples(b, "b", "mann_whitney_u")
    both = np.concatenate([a, b])
    order = np.argsort(both, kind="stable")
    ranks = np.empty(both.size)
    ranks[order] = np.arange(1, both.size + 1)
    unique, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    average = np.bincount(inverse, weights=ranks) / counts  # each tie group shares its mean rank
    ranks = average[inverse]
    n_a, n_b, total = a.size, b.size, both.size
    u_a = float(ranks[:n_a].sum() - n_a * (n_a + 1) / 2.0)
    tie_term = float(((counts ** 3) - counts).sum()) / (total * (total - 1))
    variance = n_a * n_b / 12.0 * ((total + 1) - tie_term)
    if variance <= 0:
        return {"u": min(u_a, n_a * n_b - u_a), "u_a": u_a, "z": 0.0, "p_value": 1.0}
    z = max(0.0, abs(u_a - n_a * n_b / 2.0) - 0.5) / math.sqrt(variance)
    return {"u": min(u_a, n_a * n_b - u_a), "u_a": u_a, "z": float(z), "p_value": float(math.erfc(z / math.sqrt(2)))}
    ### END SOLUTION


def compare(baseline, candidate, alpha: float = 0.05, method: str = "welch") -> dict:
    """Is the candidate faster than the baseline, and is the difference more than noise?

    Args:
        baseline (sequence of float): timings of the original (seconds, >= 2).
        candidate (sequence of float): timings of the change (seconds, >= 2).
        alpha (float): significance level in (0, 1): the difference is called significant when
            p_value < alpha.
        method (str): "welch" (Welch's t-test) or "mann-whitney" (Mann-Whitney U).

    Returns:
        dict: {"speedup" (mean baseline / mean candidate), "median_speedup", "difference"
        (mean baseline - mean candidate, seconds), "p_value", "significant" (bool), "method",
        "alpha", "verdict" (one sentence)}.

    Raises:
        ValueError: bad samples, alpha outside (0, 1), an unknown method, or a candidate mean of 0.

    Example:
        >>> compare([2.0, 2.1, 1.9, 2.0], [1.0, 1.1, 0.9, 1.0])["significant"]
        True
    """
    ### BEGIN SOLUTION
    alpha = _probability(alpha, "alpha", "compare")
    tests = {"welch": welch_t_test, "mann-whitney": mann_whitney_u}
    if method not in tests:
        raise ValueError(f"compare: method must be one of {sorted(tests)}, got {method!r}")
    base, cand = _samples(baseline, "baseline", "compare"), _samples(candidate, "candidate", "compare")
    if cand.mean() == 0 or np.median(cand) == 0:
        raise ValueError("compare: the candidate's timings average 0 seconds, so no speedup can be computed")
    p_value = tests[method](base, cand)["p_value"]
    speedup = float(base.mean() / cand.mean())
    significant = bool(p_value < alpha)
    if not significant:
        verdict = f"no significant difference ({speedup:.2f}x, p = {p_value:.3g} >= {alpha})"
    elif speedup > 1:
        verdict = f"candidate is faster: {speedup:.2f}x (p = {p_value:.3g} < {alpha})"
    else:
        verdict = f"candidate is slower: {speedup:.2f}x (p = {p_value:.3g} < {alpha})"
    return {"speedup": speedup, "median_speedup": float(np.median(base) / np.median(cand)),
            "difference": float(base.mean() - cand.mean()), "p_value": float(p_value), "significant": significant,
            "method": method, "alpha": alpha, "verdict": verdict}
    ### END SOLUTION


# ---------------------------------------------------------------- where it was measured
def environment() -> dict:
    """Facts about the machine and software a measurement was made on.

    Returns:
        dict: {"python" (version string), "implementation", "numpy" (version string),
        "platform" (platform.platform()), "machine" (e.g. "x86_64"), "processor",
        "cpu_count" (int | None), "byteorder"}.

    Example:
        >>> environment()["numpy"] == np.__version__
        True
    """
    ### BEGIN SOLUTION
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "numpy": np.__version__, "platform": platform.platform(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "byteorder": sys.byteorder}
    ### END SOLUTION
