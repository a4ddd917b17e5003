"""The statistics behind every grade's interval, on synthetic accuracies: coverage, the
exact zero of an unchanged submission, the stopping rule and the undecided-tier policies."""
import random
import statistics

import pytest

from grader.rubric import load_rubric
from grader.scoring.noise import Distribution, estimate_gain, smallest_detectable_pp, straddles, t975
from grader.scoring.points import boundaries, decide_tier


def baseline(rng, mean=0.60, std=0.04, n=10):
    seeds = list(range(n))
    return Distribution.of(seeds, [rng.gauss(mean, std) for _ in seeds])


@pytest.mark.parametrize("seeds", [1, 3])
def test_the_95_interval_covers_the_true_gain_about_95_percent_of_the_time(seeds):
    rng = random.Random(seeds)
    trials, true_gain, covered = 2000, 0.03, 0
    for _ in range(trials):
        dist = baseline(rng)
        student = [rng.gauss(0.60 + true_gain, 0.04) for _ in range(seeds)]
        low, high = estimate_gain(student, [0.6] * seeds, [False] * seeds, dist).interval_pp
        covered += low <= true_gain * 100 <= high
    assert 0.93 <= covered / trials <= 0.985


def test_an_unchanged_submission_gains_exactly_zero_whatever_the_seed_noise():
    rng = random.Random(0)
    dist = baseline(rng)
    runs = [0.571, 0.634]  # two seeds, far apart: the baseline's own noise
    gain = estimate_gain(runs, runs, [True, True], dist)
    assert gain.point_pp == 0.0 and gain.interval_pp == (0.0, 0.0)
    assert gain.method == "paired-identical" and gain.reference == statistics.fmean(runs)


def test_a_placebo_is_measured_from_the_calibrated_mean_not_its_own_seed():
    dist = Distribution.of(range(10), [0.55, 0.62, 0.60, 0.58, 0.64, 0.57, 0.61, 0.59, 0.63, 0.61])
    # the baseline at this seed happened to be low; the placebo's own draw is typical
    gain = estimate_gain([0.60], [0.55], [False], dist)
    assert gain.method == "calibrated" and gain.reference == pytest.approx(dist.mean)
    assert gain.point_pp == pytest.approx((0.60 - dist.mean) * 100)
    low, high = gain.interval_pp
    assert low < 0 < high
    # not charged the baseline's noise twice: narrower than pairing two noisy runs would be
    assert high - low < 2 * t975(9) * (2 ** 0.5) * dist.std * 100


def test_without_a_measured_spread_the_interval_is_unknown():
    gain = estimate_gain([0.66], [0.61], [False], None)
    assert gain.point_pp == pytest.approx(5.0) and gain.interval_pp is None
    assert gain.method == "paired"


def test_a_student_noisier_than_the_baseline_gets_a_wider_interval():
    dist = Distribution.of(range(10), [0.60 + 0.01 * (i % 3) for i in range(10)])
    steady = estimate_gain([0.65, 0.65, 0.65], [0.6] * 3, [False] * 3, dist).interval_pp
    noisy = estimate_gain([0.55, 0.65, 0.75], [0.6] * 3, [False] * 3, dist).interval_pp
    assert noisy[1] - noisy[0] > steady[1] - steady[0]


def test_more_seeds_tell_smaller_gains_from_noise():
    dist = Distribution.of(range(10), [0.60 + 0.03 * ((-1) ** i) for i in range(10)])
    assert smallest_detectable_pp(dist, 5) < smallest_detectable_pp(dist, 1)


def test_stopping_rule_runs_more_seeds_only_while_a_boundary_is_inside_the_interval():
    dist = Distribution.of(range(10), [0.60 + 0.01 * ((-1) ** i) for i in range(10)])
    cuts = [0.0, 5.0, 10.0]
    assert straddles(estimate_gain([0.65], [0.6], [False], dist), cuts)     # +5 +- ~2.5
    assert not straddles(estimate_gain([0.66], [0.6], [False], dist), [0.0, 10.0, 20.0])
    assert not straddles(estimate_gain([0.6], [0.6], [True], dist), cuts)   # exactly 0
    assert not straddles(estimate_gain([0.7], [0.6], [False], None), cuts)  # nothing to decide


def _rubric_with(tmp_path, undecided):
    from conftest import TINY_RUBRIC
    text = TINY_RUBRIC.format(time_limit=60).replace(
        "  trains_points: 15\n",
        f"  trains_points: 15\n  seeds: {{min: 1, max: 3, undecided: {undecided}}}\n")
    text = text.replace("calibration_seeds: 2", "calibration_seeds: 3")
    path = tmp_path / f"{undecided}.yaml"
    path.write_text(text)
    return load_rubric(str(path))


@pytest.mark.parametrize("undecided,points", [("lower", 20), ("point", 20), ("linear", 20 + 20 * 0.25)])
def test_an_undecided_tier_follows_the_rubrics_policy(tmp_path, undecided, points):
    from grader.scoring.noise import Gain
    rubric = _rubric_with(tmp_path, undecided)   # tiers: +0 -> 20, +2 -> 40
    gain = Gain(1.0, (0.5, 2.5), "calibrated", 0.6)  # a quarter of the interval is above +2
    decision = decide_tier(gain, rubric)
    assert not decision.decided and (decision.low_points, decision.high_points) == (20, 40)
    assert decision.points == pytest.approx(points)
    assert boundaries(rubric) == [0.0, 2.0]


def test_a_decided_tier_is_the_one_the_whole_interval_lies_in(tmp_path):
    from grader.scoring.noise import Gain
    rubric = _rubric_with(tmp_path, "lower")
    decision = decide_tier(Gain(4.0, (2.5, 5.5), "calibrated", 0.6), rubric)
    assert decision.decided and decision.points == 40
