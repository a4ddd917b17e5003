"""Training noise: the baseline's spread over seeds, the gain with its 95% interval, and
whether that interval decides a tier. Pure functions on accuracies (fractions in, gains in
percentage points out).

The estimator (README, "Noise"). Two runs at the same seed of the same training code are
the same run, so a submission whose every run reproduces the baseline's at that seed (the
untouched template) has a gain of exactly 0: a paired comparison with no noise left. Any
real change (another model, optimizer or augmentation) draws its own random numbers, and
its runs no longer move with the baseline's at that seed; pairing them would charge the
submission the baseline's seed noise a second time. It is compared instead with the
baseline's mean over its calibration seeds:

    gain = mean(student's accuracies over k seeds) - mean(baseline's over n seeds)
    se   = sqrt(s^2 / k + sigma^2 / n),   interval = gain +- t(0.975, n - 1) * se

with sigma the baseline's standard deviation over its n seeds and s the student's own
spread, taken as sigma until it has two seeds or more (then the larger of the two: a
model is never assumed steadier than it showed). Without a measured distribution (no
calibration, nothing pinned) the gain is the paired difference and its interval unknown.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

# Student's t, 97.5th percentile, by degrees of freedom (a 95% two-sided interval)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
        16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042,
        40: 2.021, 60: 2.000, 120: 1.980}


def t975(df: int) -> float:
    """The table's value for the largest df it lists at or below `df` (conservative)."""
    return T975[max(d for d in T975 if d <= max(df, 1))] if df < 1000 else 1.960


@dataclass(frozen=True)
class Distribution:
    """The baseline's test accuracy over seeds (fractions)."""
    mean: float
    std: float                      # sample standard deviation (n - 1)
    n: int
    source: str                     # "calibrated" (measured here) or "pinned" (by the rubric)
    seeds: tuple[int, ...] = ()
    accuracies: tuple[float, ...] = ()
    measured_on: str | None = None

    @classmethod
    def of(cls, seeds, accuracies, source="calibrated", measured_on=None) -> Distribution:
        acc = tuple(float(a) for a in accuracies)
        return cls(statistics.fmean(acc), statistics.stdev(acc) if len(acc) > 1 else 0.0,
                   len(acc), source, tuple(seeds), acc, measured_on)


@dataclass(frozen=True)
class Gain:
    point_pp: float
    interval_pp: tuple[float, float] | None   # 95%; None when the noise is unknown
    method: str                               # "paired-identical", "calibrated", "paired"
    reference: float                          # the baseline accuracy the gain is measured from


def estimate_gain(student: list[float], paired: list[float], identical: list[bool],
                  dist: Distribution | None) -> Gain:
    """`student`: the submission's accuracy per seed; `paired`: the baseline's at the same
    seeds; `identical`: whether each student run reproduced the baseline's exactly."""
    k = len(student)
    if paired and all(identical) and len(identical) == k:
        ref = statistics.fmean(paired)
        return Gain(0.0, (0.0, 0.0), "paired-identical", ref)
    if dist is None or dist.n < 2:
        ref = statistics.fmean(paired)
        return Gain((statistics.fmean(student) - ref) * 100, None, "paired", ref)
    spread = max(dist.std, statistics.stdev(student)) if k > 1 else dist.std
    se = math.sqrt(spread ** 2 / k + dist.std ** 2 / dist.n) * 100
    point = (statistics.fmean(student) - dist.mean) * 100
    half = t975(dist.n - 1) * se
    return Gain(point, (point - half, point + half), "calibrated", dist.mean)


def smallest_detectable_pp(dist: Distribution, seeds: int) -> float:
    """The gain whose interval, with `seeds` student seeds, just excludes 0."""
    se = math.sqrt(dist.std ** 2 / seeds + dist.std ** 2 / dist.n) * 100
    return t975(dist.n - 1) * se


def tier_index(gain_pp: float, boundaries: list[float]) -> int:
    """How many tier boundaries (ascending min_gain values) the gain reaches."""
    return sum(gain_pp >= b - 1e-9 for b in boundaries)


def straddles(gain: Gain, boundaries: list[float]) -> bool:
    """Whether the interval holds a tier boundary, so that more seeds could decide it."""
    if gain.interval_pp is None:
        return False
    low, high = gain.interval_pp
    return tier_index(low, boundaries) != tier_index(high, boundaries)
