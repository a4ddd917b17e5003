"""How a rubric's credit and seed policy fare against training noise: the grader's own
decision procedure run on resampled runs.

For each true gain G (percentage points), many simulated gradings: a calibration of the
rubric's `calibration_seeds` baseline runs drawn with replacement from FILE's measured
runs, then a submission whose runs are other draws from them shifted by G (a diverged run
stays diverged), run seed by seed through grader.scoring.points.seed_loop, the same
estimator, stopping rule and credit (decide_tier) that grader.grading uses. Prints one JSON
object: the untouched template's gain points, and per G the share of gradings at each
gain-item points value, their mean and sd, and the mean seeds run.

    python bench/noise_policy.py --rubric cifar10 --runs bench/runs/cifar10_measured.json \\
        --gains 0 2 5 10 --json
    python bench/noise_policy.py --rubric cifar10 --mean 0.60 --std 0.031 --gains 0 5  # Gaussian

FILE is a JSON object with "accuracies" (fractions; `grade calibrate --json`'s output works
as is) and optionally "diverged" (one true/false per accuracy); without it the runs far
under the median are taken as diverged (grader.scoring.noise.outliers), as for a rubric's
pinned accuracies.

--keeps-init simulates a change that keeps the model's initial weights and random stream
(an optimizer, a loss, a schedule), which the grader measures seed by seed against the
baseline's run at the same seed where the rubric pins a paired spread (baseline.paired): each of the
submission's runs is the baseline's run at its seed, plus G, plus a residual drawn from
the rubric's measured ones (the paired differences less their change's mean).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.rubric import load_rubric  # noqa: E402
from grader.scoring.noise import Distribution, Gain, outliers  # noqa: E402
from grader.scoring.points import SeedRun, decide_tier, paired_noise, seed_loop  # noqa: E402


def read_runs(path: str, num_classes: int = 10) -> list[tuple[float, bool]]:
    data = json.loads(Path(path).read_text())
    acc = [float(a) for a in data["accuracies"]]
    flags = data.get("diverged")
    if flags is None or len(flags) != len(acc):
        flags = outliers(acc, num_classes)
    return list(zip(acc, (bool(f) for f in flags)))


def gaussian(mean: float, std: float):
    return lambda rng: (rng.gauss(mean, std), False)


def bootstrap(runs: list[tuple[float, bool]]):
    return lambda rng: rng.choice(runs)


def one_grading(rubric, draw, gain_pp: float, rng: random.Random,
                calibration_seeds: int, residuals: tuple[float, ...] | None = None) -> tuple[float, int]:
    """The gain item's points and the seeds run in one simulated grading; with `residuals`
    (pp), of a change that keeps the initial weights, paired with the baseline's runs."""
    n = calibration_seeds
    cal = [draw(rng) for _ in range(n)]
    dist = Distribution.of(range(n), [a for a, _ in cal], diverged=[d for _, d in cal])
    seeds = rubric.seed_sequence(rubric.max_seeds)

    def run_seed(seed: int) -> SeedRun:
        if residuals is not None:  # the baseline's own run at this seed, moved by G and a residual
            acc, div = cal[seed % n]
            acc += rng.choice(residuals) / 100
            return SeedRun(seed, min(1.0, acc + gain_pp / 100), cal[seed % n][0], False, div,
                           same_init=True, paired_diverged=div)
        acc, div = draw(rng)
        # the baseline's run at this seed is its calibration run at the same seed
        return SeedRun(seed, min(1.0, acc + gain_pp / 100), cal[seed % n][0], False, div)

    runs, gain = seed_loop(rubric, dist, seeds, run_seed)
    return decide_tier(gain, rubric).points, len(runs)


def template_points(rubric) -> float:
    return decide_tier(Gain(0.0, (0.0, 0.0), "paired-identical", 0.6, 0.0, None, 1), rubric).points


def simulate(rubric, draw, gains: list[float], trials: int, seed: int = 0,
             calibration_seeds: int | None = None, keeps_init: bool = False) -> dict:
    n = calibration_seeds or rubric.baseline.calibration_seeds
    noise = paired_noise(rubric) if keeps_init else None
    if keeps_init and noise is None:
        raise SystemExit(f"--keeps-init: rubric {rubric.name} pins no paired spread (baseline.paired)")
    residuals = noise.residuals_pp if noise else None
    out = {"rubric": rubric.name, "template_points": template_points(rubric),
           "calibration_seeds": n, "trials": trials, "keeps_init": keeps_init,
           "policy": {"credit": rubric.scoring.credit_mode, "margin_pp": rubric.scoring.margin,
                      "seeds": [rubric.min_seeds, rubric.max_seeds],
                      "tiers": [[t.min_gain, t.points] for t in rubric.scoring.gain_tiers]},
           "gains": {}}
    for g in gains:
        rng = random.Random(f"{seed}:{g}")
        points, seeds = zip(*(one_grading(rubric, draw, g, rng, n, residuals) for _ in range(trials)))
        shares: dict[str, float] = {}
        for p in points:
            key = f"{round(p, 1):g}"
            shares[key] = shares.get(key, 0) + 1 / trials
        out["gains"][f"{g:g}"] = {
            "points": {k: round(v, 4) for k, v in sorted(shares.items(), key=lambda kv: float(kv[0]))},
            "mean_points": round(statistics.fmean(points), 3),
            "sd_points": round(statistics.pstdev(points), 3),
            "mean_seeds": round(statistics.fmean(seeds), 3),
            "within_2_of_template": round(sum(abs(p - out["template_points"]) <= 2 for p in points) / trials, 4),
            "above_template": round(sum(p > out["template_points"] + 1e-9 for p in points) / trials, 4),
        }
    return out


def table(result: dict) -> str:
    lines = [f"rubric {result['rubric']}: template {result['template_points']:g} points, "
             f"{result['calibration_seeds']} calibration seeds, {result['trials']} gradings per gain",
             "| true gain | gain points (share of gradings, coarse) | mean | sd | mean seeds |",
             "| --- | --- | --- | --- | --- |"]
    for g, r in result["gains"].items():
        bins: dict[str, float] = {}
        for p, share in r["points"].items():
            b = 5 * int(float(p) // 5)
            bins[f"{b}-{b + 5}"] = bins.get(f"{b}-{b + 5}", 0) + share
        dist = ", ".join(f"{k}: {v:.0%}" for k, v in bins.items() if v >= 0.005)
        lines.append(f"| {g} pp | {dist} | {r['mean_points']:.1f} | {r['sd_points']:.1f} | "
                     f"{r['mean_seeds']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rubric", required=True)
    p.add_argument("--runs", help="JSON with the measured per-seed `accuracies` (fractions)")
    p.add_argument("--mean", type=float, help="Gaussian mode: the baseline's mean (a fraction)")
    p.add_argument("--std", type=float, help="Gaussian mode: its standard deviation")
    p.add_argument("--gains", type=float, nargs="+", default=[0, 2, 5, 10])
    p.add_argument("--trials", type=int, default=4000)
    p.add_argument("--calibration-seeds", type=int,
                   help="the calibration's size (default: the rubric's calibration_seeds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keeps-init", action="store_true",
                   help="a change that keeps the initial weights: paired with the baseline's runs")
    p.add_argument("--json", action="store_true", help="print the one JSON object")
    a = p.parse_args(argv)
    rubric = load_rubric(a.rubric)
    if a.runs:
        draw = bootstrap(read_runs(a.runs))
    elif a.mean is not None and a.std is not None:
        draw = gaussian(a.mean, a.std)
    else:
        p.error("give --runs FILE, or --mean and --std")
    result = simulate(rubric, draw, a.gains, a.trials, a.seed, a.calibration_seeds, a.keeps_init)
    print(json.dumps(result, indent=None if a.json else 2) if a.json else table(result))


if __name__ == "__main__":
    main()
