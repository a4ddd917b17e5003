"""How a rubric's seeds, tiers and undecided-tier policy fare against training noise.

Simulates the grader's own decision procedure (grader.scoring: the calibrated estimator,
the stopping rule, decide_tier) on accuracies drawn from the baseline's measured spread:
a calibration of n seeds, then a submission whose true gain is G, run seed by seed while
its interval straddles a tier boundary. Prints, per rubric: the spread, the smallest gain
told from noise, how often a placebo (G = 0) reaches a tier above the +0 one by luck, and
how often a real gain of each tier's size gets at least that tier.

    python bench/noise_policy.py --rubric cifar10 --mean 0.60 --std 0.034 [--trials 20000]
    python bench/noise_policy.py --rubric cifar10 --calibration calib.json  # grade calibrate --json
"""
from __future__ import annotations

import argparse
import json
import random

from grader.rubric import load_rubric
from grader.scoring.noise import Distribution, estimate_gain, smallest_detectable_pp, straddles
from grader.scoring.points import boundaries, decide_tier, gain_points


def simulate(rubric, mean: float, std: float, true_gain_pp: float, trials: int,
             seed: int = 0) -> tuple[list[float], list[int]]:
    """Points and seeds run in each trial."""
    rng = random.Random(seed)
    n, cuts = rubric.baseline.calibration_seeds, boundaries(rubric)
    points, seeds_run = [], []
    for _ in range(trials):
        dist = Distribution.of(range(n), [rng.gauss(mean, std) for _ in range(n)])
        student = []
        while True:
            student.append(rng.gauss(mean + true_gain_pp / 100, std))
            gain = estimate_gain(student, [mean] * len(student), [False] * len(student), dist)
            if len(student) >= rubric.max_seeds or (
                    len(student) >= rubric.min_seeds and not straddles(gain, cuts)):
                break
        points.append(decide_tier(gain, rubric).points)
        seeds_run.append(len(student))
    return points, seeds_run


def report(rubric, mean: float, std: float, trials: int) -> dict:
    tiers = rubric.scoring.gain_tiers
    zero_tier = gain_points(0.0, tiers)
    placebo, seeds = simulate(rubric, mean, std, 0.0, trials)
    dist = Distribution(mean, std, rubric.baseline.calibration_seeds, "model")
    out = {
        "rubric": rubric.name, "std_pp": round(100 * std, 2), "n": rubric.baseline.calibration_seeds,
        "policy": f"{rubric.min_seeds}-{rubric.max_seeds} seeds, {rubric.scoring.seeds.undecided}",
        "detectable_pp": round(smallest_detectable_pp(dist, rubric.max_seeds), 2),
        "placebo_above_zero_tier": sum(p > zero_tier for p in placebo) / trials,
        "placebo_mean_seeds": sum(seeds) / trials,
        "true_gain_reaches_its_tier": {},
    }
    for tier in tiers:
        if tier.min_gain > 0:
            pts, _ = simulate(rubric, mean, std, tier.min_gain + 2 * 100 * std, trials // 4)
            out["true_gain_reaches_its_tier"][f"+{tier.min_gain:g}+2sd"] = (
                sum(p >= tier.points for p in pts) / len(pts))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rubric", required=True)
    p.add_argument("--mean", type=float)
    p.add_argument("--std", type=float)
    p.add_argument("--calibration", help="the JSON of `grade calibrate --json`")
    p.add_argument("--trials", type=int, default=20000)
    a = p.parse_args()
    if a.calibration:
        c = json.load(open(a.calibration))
        a.mean, a.std = c["mean"], c["std"]
    print(json.dumps(report(load_rubric(a.rubric), a.mean, a.std, a.trials), indent=2))


if __name__ == "__main__":
    main()
