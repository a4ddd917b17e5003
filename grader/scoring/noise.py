"""Training noise: the baseline's spread over seeds, diverged runs, the gain with its 95%
interval. Pure functions on accuracies (fractions in, gains in percentage points out).

The estimator (docs/scoring.md, "Noise"). Two runs at the same seed of the same training code are
the same run, so a submission whose every run reproduces the baseline's at that seed (the
untouched template) has a gain of exactly 0: a paired comparison with no noise left. Any
real change draws its own random numbers, and its runs no longer move with the baseline's
at that seed; it is compared instead with the baseline's mean over its calibration seeds.

A diverged run (the training loss stuck near ln(classes), or the validation accuracy near
chance, at the end of an epoch: `diverged`) is a real event, not Gaussian noise: about
one CIFAR-10 baseline run in six. It is left out of the gain for the baseline and the
student alike (the student's next seed replaces it) and reported; the gain compares
converged runs with converged runs:

    gain = mean(student's converged runs, k) - mean(baseline's converged runs, n)
    se   = s_p * sqrt(1/k + 1/n),   interval = gain +- t(0.975, n + k - 2) * se

with s_p the two samples' pooled standard deviation (the baseline's alone while the
student has one run). Its coverage is measured on resampled, skewed runs with divergences
(tests/scoring/test_noise.py). Without a measured distribution (no calibration, nothing pinned)
the gain is the paired difference and its interval unknown.

A change that keeps the model's initial weights and its random stream (an optimizer, a loss,
a schedule) still moves with the baseline at each seed (r 0.96-1.00 measured; dropout, which
keeps the weights but draws its own masks, r 0.38): where the rubric pins that paired
spread (`PairedNoise`) and every run started from the baseline's weights at its seed and
drew the same stream, the gain is the mean per-seed difference, its spread the pinned one
pooled with the submission's own ("paired-seeds"); a single run's interval is the measured
residuals' conformal bound (`PairedNoise.one_run_half_pp`), their tails being too heavy for
the t.
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
# and the 95th (a one-sided 95% bound: the gain the evidence shows)
T95 = {1: 6.314, 2: 2.920, 3: 2.353, 4: 2.132, 5: 2.015, 6: 1.943, 7: 1.895, 8: 1.860,
       9: 1.833, 10: 1.812, 11: 1.796, 12: 1.782, 13: 1.771, 14: 1.761, 15: 1.753,
       16: 1.746, 17: 1.740, 18: 1.734, 19: 1.729, 20: 1.725, 25: 1.708, 30: 1.697,
       40: 1.684, 60: 1.671, 120: 1.658}

# A run is judged for divergence only once it has taken this many optimizer steps: a few
# steps of a tiny smoke run have not left ln(classes) yet, and are no evidence.
DIVERGENCE_MIN_STEPS = 50
STUCK_LOSS = 0.97       # of ln(classes): the loss of a model that predicts the prior
NEAR_CHANCE = 0.05      # of the way from chance to perfect: validation accuracy near chance
# With no history (pinned accuracies, a simulator's file), a run whose accuracy above
# chance is under this share of the median run's counts as diverged.
DIVERGED_SHARE = 0.8


def _table(table: dict, df: int, infinite: float) -> float:
    """The table's value for the largest df it lists at or below `df` (conservative)."""
    return table[max(d for d in table if d <= max(df, 1))] if df < 1000 else infinite


def t975(df: int) -> float:
    return _table(T975, df, 1.960)


def t95(df: int) -> float:
    return _table(T95, df, 1.645)


@dataclass(frozen=True)
class Divergence:
    epoch: int
    loss: float | None
    val_accuracy: float | None
    by: str                 # "loss" (stuck near ln(classes)) or "accuracy" (near chance)


def diverged(history: list[dict] | None, num_classes: int,
             steps_per_epoch: int | None = None) -> Divergence | None:
    """The last epoch at whose end the run was stuck (training loss near ln(classes), or
    validation accuracy near chance), once it has taken DIVERGENCE_MIN_STEPS steps; None
    when it was never stuck (or has no history to judge)."""
    if not history or num_classes < 2:
        return None
    stuck_loss = STUCK_LOSS * math.log(num_classes)
    chance = 1.0 / num_classes
    found = None
    for e in history:
        epoch = int(e.get("epoch") or 0)
        if epoch < 1 or (steps_per_epoch or DIVERGENCE_MIN_STEPS) * epoch < DIVERGENCE_MIN_STEPS:
            continue
        loss, val = e.get("train_loss"), e.get("val_accuracy")
        if loss is not None and loss >= stuck_loss:
            found = Divergence(epoch, loss, val, "loss")
        elif val is not None and val < chance + NEAR_CHANCE * (1 - chance):
            found = Divergence(epoch, loss, val, "accuracy")
    return found


def outliers(accuracies, num_classes: int = 10) -> list[bool]:
    """Without a run's history: which accuracies are so far under the median run's (less
    than DIVERGED_SHARE of its accuracy above chance) that the run must have diverged."""
    acc = [float(a) for a in accuracies]
    if len(acc) < 3:
        return [False] * len(acc)
    chance = 1.0 / num_classes
    floor = chance + DIVERGED_SHARE * (statistics.median(acc) - chance)
    return [a < floor for a in acc]


@dataclass(frozen=True)
class Distribution:
    """The baseline's test accuracy over seeds (fractions). `mean`, `std` and `n` are its
    converged runs'; `accuracies` and `diverged` hold every run, in seed order."""
    mean: float
    std: float                      # sample standard deviation (n - 1) of the converged runs
    n: int                          # converged runs
    source: str                     # "calibrated" (measured here) or "pinned" (by the rubric)
    seeds: tuple[int, ...] = ()
    accuracies: tuple[float, ...] = ()
    measured_on: str | None = None
    diverged: tuple[bool, ...] = ()

    @classmethod
    def of(cls, seeds, accuracies, source="calibrated", measured_on=None,
           diverged=None) -> Distribution:
        acc = tuple(float(a) for a in accuracies)
        flags = tuple(bool(d) for d in diverged) if diverged is not None else (False,) * len(acc)
        kept = [a for a, d in zip(acc, flags) if not d] or list(acc)
        return cls(statistics.fmean(kept), statistics.stdev(kept) if len(kept) > 1 else 0.0,
                   len(kept), source, tuple(seeds), acc, measured_on, flags)

    @property
    def runs(self) -> int:
        return len(self.accuracies) or self.n

    @property
    def diverged_runs(self) -> int:
        return sum(self.diverged)


@dataclass(frozen=True)
class PairedNoise:
    """How far a run lands from the baseline's at the same seed, beyond the gain, for a
    change that keeps the model's initial weights and random stream (the two then share the
    initial weights, the data order and the augmentation draws, and move together: r =
    0.96-1.00 measured on CIFAR-10, bench/runs/cifar10_paired_correlation*.json). Each
    measured change's per-seed differences less their own mean, pooled."""
    residuals_pp: tuple[float, ...]
    df: int
    # each residual's size as a fresh run's deviation: |r| * sqrt(m / (m - 1)), m the
    # change's runs (a difference from its own mean is that much closer to it)
    sizes_pp: tuple[float, ...] = ()

    @property
    def sd_pp(self) -> float:
        return math.sqrt(sum(r * r for r in self.residuals_pp) / self.df)

    def one_run_half_pp(self) -> float | None:
        """A single run's 95% half-width by split conformal prediction: the
        ceil((n + 1) * 0.95)-th smallest of the n measured sizes. For exchangeable runs it
        covers ceil((n + 1) * 0.95) / (n + 1) of them (96% from 24) whatever the shape of
        their spread; the measured residuals are heavy-tailed (two of 24 are -6 pp), and the
        t interval of one run holds only 22 of them. None under 19 sizes: too few to bound 95%."""
        n = len(self.sizes_pp)
        rank = math.ceil((n + 1) * 0.95)
        return sorted(self.sizes_pp)[rank - 1] if n and rank <= n else None

    @classmethod
    def of(cls, changes) -> PairedNoise | None:
        """From each change's per-seed differences (pp); None where they give no spread."""
        kept = [list(c) for c in changes if len(c) >= 2]
        each = [([d - statistics.fmean(c) for d in c], math.sqrt(len(c) / (len(c) - 1)))
                for c in kept]
        residuals = tuple(r for rs, _ in each for r in rs)
        sizes = tuple(abs(r) * scale for rs, scale in each for r in rs)
        df = len(residuals) - len(kept)
        return cls(residuals, df, sizes) if df >= 1 else None


@dataclass(frozen=True)
class Gain:
    point_pp: float
    interval_pp: tuple[float, float] | None   # 95%; None when the noise is unknown
    method: str                               # "paired-identical", "paired-seeds",
                                              # "calibrated", "paired" (no interval)
    reference: float                          # the baseline accuracy the gain is measured from
    se_pp: float | None = None                # the point's standard error
    df: int | None = None                     # its degrees of freedom
    runs: int = 0                             # the student's runs the gain is measured from
    diverged: int = 0                         # the student's runs left out (diverged)

    @property
    def shown_pp(self) -> float:
        """The one-sided 95% lower bound: the gain the evidence shows."""
        if self.se_pp is None:
            return self.point_pp if self.interval_pp is None else self.interval_pp[0]
        return self.point_pp - t95(self.df or 1) * self.se_pp


def estimate_gain(student: list[float], paired: list[float], identical: list[bool],
                  dist: Distribution | None, student_diverged: list[bool] | None = None,
                  noise: PairedNoise | None = None, same_init: list[bool] | None = None,
                  paired_diverged: list[bool] | None = None) -> Gain:
    """`student`: the submission's accuracy per seed; `paired`: the baseline's at the same
    seeds; `identical`: whether each student run reproduced the baseline's exactly;
    `student_diverged`: whether each student run diverged (left out while any converged).
    With `noise` (the rubric's paired spread) and every run starting from the baseline's
    initial weights at its seed with the same random stream (`same_init`), the gain is the
    mean of the per-seed differences, a pair left out where either run diverged
    ("paired-seeds"); otherwise it is measured from the distribution ("calibrated")."""
    k = len(student)
    if paired and all(identical) and len(identical) == k:
        ref = statistics.fmean(paired)
        return Gain(0.0, (0.0, 0.0), "paired-identical", ref, 0.0, None, k, 0)
    flags = list(student_diverged or [False] * k)
    if noise is not None and same_init and len(same_init) == k and all(same_init) and paired:
        gain = _paired_gain(student, paired, flags, list(paired_diverged or [False] * k), noise)
        if gain is not None:
            return gain
    kept = [a for a, d in zip(student, flags) if not d]
    # every run diverged: the submission itself does not train, and is measured as it is
    left_out = k - len(kept) if kept else 0
    kept = kept or list(student)
    if dist is None or dist.n < 2:
        ref = statistics.fmean(paired)
        return Gain((statistics.fmean(kept) - ref) * 100, None, "paired", ref,
                    runs=len(kept), diverged=left_out)
    m = len(kept)
    ss = dist.std ** 2 * (dist.n - 1) + (statistics.variance(kept) * (m - 1) if m > 1 else 0.0)
    df = dist.n + m - 2
    se = math.sqrt(ss / df * (1 / m + 1 / dist.n)) * 100
    point = (statistics.fmean(kept) - dist.mean) * 100
    half = t975(df) * se
    return Gain(point, (point - half, point + half), "calibrated", dist.mean, se, df, m, left_out)


def _paired_gain(student, paired, flags, paired_flags, noise: PairedNoise) -> Gain | None:
    """The mean per-seed difference, its standard error from the pinned paired spread
    pooled with the submission's own differences (as the calibrated estimate pools the
    distribution's spread with the submission's runs)."""
    pairs = [(s, b) for s, b, ds, db in zip(student, paired, flags, paired_flags) if not ds and not db]
    if not pairs:
        return None
    d = [(s - b) * 100 for s, b in pairs]
    k = len(d)
    ss = noise.sd_pp ** 2 * noise.df + (statistics.variance(d) * (k - 1) if k > 1 else 0.0)
    df = noise.df + k - 1
    se = math.sqrt(ss / df / k)
    point = statistics.fmean(d)
    half = t975(df) * se
    # One run: its interval from the measured sizes, not the t (PairedNoise.one_run_half_pp), and
    # its standard error widened to match, so that the one-sided bound agrees with it. From
    # two runs on the mean's tails thin and the t interval covers 97.5-98.5% of them.
    if k == 1 and (conformal := noise.one_run_half_pp()) is not None:
        half, se = conformal, conformal / t975(df)
    # a pair is kept only where the student's run converged, so its diverged runs are left out
    return Gain(point, (point - half, point + half), "paired-seeds",
                statistics.fmean(b for _, b in pairs), se, df, k, sum(flags))


def smallest_detectable_pp(dist: Distribution, seeds: int) -> float:
    """The gain whose one-sided 95% bound, with `seeds` student seeds, just clears 0."""
    se = dist.std * math.sqrt(1 / seeds + 1 / dist.n) * 100
    return t95(dist.n + seeds - 2) * se


def tier_index(gain_pp: float, boundaries: list[float]) -> int:
    """How many tier boundaries (ascending min_gain values) the gain reaches."""
    return sum(gain_pp >= b - 1e-9 for b in boundaries)


def straddles(gain: Gain, boundaries: list[float]) -> bool:
    """Whether the interval holds a tier boundary, so that more seeds could decide it."""
    if gain.interval_pp is None:
        return False
    low, high = gain.interval_pp
    return tier_index(low, boundaries) != tier_index(high, boundaries)
