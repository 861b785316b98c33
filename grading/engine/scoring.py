"""Points: how a suite's weight is split over its tests, and what a run earned.

A suite (one module's unit tests, the integration suite, the milestones) is worth a fixed number
of points from the manifest. Each test carries a `points` marker (default 1). The suite's weight
is split in proportion to the markers, in whole quanta of 1/`score_quantum` (a power of two), by
the largest-remainder method: every test score is then an exact binary fraction and the test
scores of a suite add up to exactly its weight, with no float noise in any total.
"""
from __future__ import annotations

from fractions import Fraction


def apportion(units: int, weights: list[float]) -> list[int]:
    """Split `units` whole units in proportion to `weights` (largest remainder; ties to the earlier).

    Args:
        units: how many indivisible units to hand out.
        weights: one non-negative weight per recipient.

    Returns:
        One integer per weight, summing to `units` (all zero when every weight is zero).

    >>> apportion(10, [1, 1, 1])
    [4, 3, 3]
    """
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must be non-negative, got {weights}")
    total = sum(Fraction(w) for w in weights)
    if not weights or total == 0:
        return [0] * len(weights)
    exact = [Fraction(units) * Fraction(w) / total for w in weights]
    shares = [int(e) for e in exact]  # floor: the exact values are non-negative
    leftover = units - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for index in by_remainder[:leftover]:
        shares[index] += 1
    return shares


def max_scores(points: list[float], suite_points: float, quantum: int) -> list[float]:
    """The most each test can earn: `suite_points` split by `points`, in multiples of 1/quantum."""
    units = apportion(round(suite_points * quantum), points)
    return [u / quantum for u in units]


def earned(max_score: float, outcome: str) -> float:
    """A test earns all of its points when it passed and none otherwise (skips earn nothing)."""
    return max_score if outcome == "passed" else 0.0


def status(outcomes: list[str], run_problem: str = "") -> str:
    """A suite's Classroom status: `error` when its run could not be completed or trusted (import
    failure, policy violation, crash, tampering), else `fail` when any test did not pass, else `pass`."""
    if run_problem:
        return "error"
    return "pass" if outcomes and all(o == "passed" for o in outcomes) else "fail"
