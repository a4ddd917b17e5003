"""Points: pure functions from checks and accuracies to the rubric items ("tests")."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from grader.i18n import _, ngettext
from grader.inspection.checks import CheckResult
from grader.load.answers import is_pending, manual_items
from grader.rubric import Rubric, Tier
from grader.scoring.noise import Distribution, Gain, PairedNoise, estimate_gain, straddles, t95

CHANCE_FACTOR = 1.5  # "trains" needs test accuracy above 1.5x chance (0.15 for 10 classes)


def gain_points(gain_pp: float, tiers: list[Tier]) -> float:
    """Points of the highest tier whose min_gain the gain reaches; 0 below every tier."""
    reached = [t.points for t in tiers if gain_pp >= t.min_gain - 1e-9]
    return max(reached, default=0.0)


def next_tier(gain_pp: float, tiers: list[Tier]) -> Tier | None:
    return next((t for t in tiers if gain_pp < t.min_gain - 1e-9), None)


def boundaries(rubric: Rubric) -> list[float]:
    return [t.min_gain for t in rubric.scoring.gain_tiers]


def credit_curve(gain_pp: float, tiers: list[Tier]) -> float:
    """The tiers as a continuous line: each tier's points at its min_gain, straight lines
    between them, the top tier's points above it; below the lowest tier a fall to 0 over
    the width of the first step (5 percentage points with a single tier)."""
    if not tiers:
        return 0.0
    edges = [(t.min_gain, t.points) for t in tiers]
    (g0, p0), top = edges[0], edges[-1]
    if gain_pp >= top[0]:
        return float(top[1])
    if gain_pp < g0:
        width = edges[1][0] - g0 if len(edges) > 1 else 5.0
        return max(0.0, p0 * (1 - (g0 - gain_pp) / width))
    for (ga, pa), (gb, pb) in zip(edges, edges[1:]):
        if ga <= gain_pp < gb:
            return pa + (pb - pa) * (gain_pp - ga) / (gb - ga)
    return float(top[1])


def evidence_gain(gain: Gain, margin: float) -> float:
    """The gain the points are for under `credit: evidence`: the value nearest 0 that the
    evidence allows. Above 0 only as far as the one-sided 95% lower bound shows (a noisy
    high draw earns nothing extra); below 0 only once the 95% interval's upper end is under
    -margin (non-inferiority: no change is no loss), and then by as much as it is."""
    if gain.interval_pp is None:
        return gain.point_pp
    return min(max(0.0, gain.shown_pp), gain.interval_pp[1] + margin)


def partial_points(gain: Gain, most: float) -> float:
    """`scoring.partial_points`: of `most`, the share a positive gain has come towards being
    shown, estimate / (t95 * se): 0 at no gain, all of it where the one-sided 95% bound
    reaches 0 and beyond, so the credit stays continuous. A noisy run's gain earns little
    (a no-op at most `most`), a real one that more seeds would show more; never for
    exactly no change, an unknown spread or a gain at or under 0."""
    if (not most or gain.method == "paired-identical" or not gain.se_pp
            or gain.point_pp <= 0):
        return 0.0
    return most * min(1.0, gain.point_pp / (t95(gain.df or 1) * gain.se_pp))


@dataclass(frozen=True)
class TierDecision:
    points: float
    decided: bool            # the whole 95% interval lies within one tier
    low_points: float        # the tiers the interval's ends reach
    high_points: float
    credited_pp: float | None = None  # credit: evidence: the gain the points are for
    partial: float = 0.0     # credit: evidence: of the points, those for a gain on its way


def decide_tier(gain: Gain, rubric: Rubric) -> TierDecision:
    """The points a gain earns. `credit: evidence`: the continuous tier line at the gain
    the evidence shows (evidence_gain), plus the partial points of a gain on its way
    (partial_points), never past the top tier. `credit: tiers`: the tier the whole interval lies
    in; where it straddles a boundary, what the rubric's `scoring.seeds.undecided` says."""
    tiers = rubric.scoring.gain_tiers
    if rubric.scoring.credit_mode == "evidence":
        low, high = gain.interval_pp or (gain.point_pp, gain.point_pp)
        shown = evidence_gain(gain, rubric.scoring.margin)
        partial = partial_points(gain, rubric.scoring.partial_points)
        top = max((t.points for t in tiers), default=0.0)
        points = credit_curve(shown, tiers)
        partial = max(0.0, min(points + partial, top) - points)
        return TierDecision(points + partial, not straddles(gain, boundaries(rubric)),
                            credit_curve(low, tiers), credit_curve(high, tiers), shown, partial)
    at_point = gain_points(gain.point_pp, tiers)
    if gain.interval_pp is None or not straddles(gain, boundaries(rubric)):
        return TierDecision(at_point, True, at_point, at_point)
    low, high = gain.interval_pp
    low_points, high_points = gain_points(low, tiers), gain_points(high, tiers)
    policy = rubric.scoring.undecided_policy
    if policy == "point":
        points = at_point
    elif policy == "linear":  # each boundary inside pays in proportion to the part above it
        points = low_points + sum(
            (gain_points(b, tiers) - gain_points(b - 1e-6, tiers)) * (high - b) / (high - low)
            for b in boundaries(rubric) if low < b <= high)
    else:
        points = low_points
    return TierDecision(points, False, low_points, high_points)


@dataclass(frozen=True)
class SeedRun:
    """What the decision needs of one seed: the student's accuracy, the baseline's at the
    same seed, whether the student's run reproduced it exactly, whether it diverged."""
    seed: int
    accuracy: float
    paired: float
    identical: bool = False
    diverged: bool = False
    same_init: bool = False          # it started from the baseline's initial weights and drew
                                     # the same random stream (grading.grade._same_start)
    paired_diverged: bool = False    # the baseline's run at this seed diverged


def gain_of(runs: Sequence[SeedRun], dist: Distribution | None,
            noise: PairedNoise | None = None) -> Gain:
    return estimate_gain([r.accuracy for r in runs], [r.paired for r in runs],
                         [r.identical for r in runs], dist, [r.diverged for r in runs],
                         noise, [r.same_init for r in runs], [r.paired_diverged for r in runs])


def paired_noise(rubric: Rubric) -> PairedNoise | None:
    """The rubric's paired spread (baseline.paired), or None."""
    spec = rubric.baseline.paired
    return PairedNoise.of([c.differences_pp for c in spec.changes]) if spec else None


GAIN_RUNS = 2  # credit: evidence: a gain above the template's rests on 2 converged runs at least
               # (and, where partial_points pays for a gain on its way, any gain)
# A paired gain (its spread known from the rubric) runs another seed only while the evidence
# could still show it by the last seed allowed, were the true gain this many standard errors
# above the estimate: set with bench/noise_policy.py --keeps-init (docs/scoring.md), where it
# took a +1 pp gain from 3.7 seeds to 3.0 of 5 and kept a +5 pp one above the template in 91%.
FUTILITY_SE = 0.5


def wants_another_seed(gain: Gain, rubric: Rubric, runs: Sequence[SeedRun]) -> bool:
    """The stopping rule: another seed runs only where it can change the points, never past
    the rubric's `scoring.seeds.max`, always up to its `min`. `credit: evidence`: while the
    converged runs are fewer than `min` (a diverged run is replaced by the next seed), and
    while the point estimate sees a gain that the evidence does not show yet (its one-sided
    95% bound under 0) or shows from a single converged run, and (a paired gain) while the
    last seed allowed could still show it (`_futile`), and, once shown, while its points
    are more uncertain than `seeds.points_se` (`points_se`); never when the runs reproduce
    the baseline exactly, the noise is unknown, or the evidence already reaches the top
    tier. A gain at or under 0 stops (after 2 converged runs where `partial_points` pays
    for a gain on its way, which a second run could show): more seeds could only confirm
    the +0 standing, which is lost only when the evidence already shows the submission
    worse. `credit: tiers`: while the 95% interval straddles a tier boundary."""
    if len(runs) >= rubric.max_seeds:
        return False
    if len(runs) < rubric.min_seeds:
        return True
    if gain.method == "paired-identical" or gain.interval_pp is None:
        return False
    if rubric.scoring.credit_mode != "evidence":
        return straddles(gain, boundaries(rubric))
    converged = sum(not r.diverged for r in runs)
    if converged < rubric.min_seeds:
        return True
    tiers = rubric.scoring.gain_tiers
    if not tiers or gain.shown_pp >= tiers[-1].min_gain:
        return False
    if converged < GAIN_RUNS and (gain.point_pp > 0 or rubric.scoring.partial_points):
        return True
    if gain.point_pp <= 0:
        return False
    if gain.shown_pp <= 0:
        return not _futile(gain, converged, rubric.max_seeds)
    return points_se(gain, rubric) > (rubric.scoring.seeds.points_se or math.inf)


def points_se(gain: Gain, rubric: Rubric) -> float:
    """How uncertain the gain item's points are: the credit line's slope (points per
    percentage point) at the shown gain, times the gain's standard error."""
    tiers, shown = rubric.scoring.gain_tiers, gain.shown_pp
    slope = credit_curve(shown + 0.5, tiers) - credit_curve(shown - 0.5, tiers)
    return slope * (gain.se_pp or 0.0)


def _futile(gain: Gain, converged: int, most: int) -> bool:
    """A paired gain that even FUTILITY_SE standard errors more would not show (its lower
    bound above 0) by the `most`-th run, its standard error shrinking as 1/sqrt(runs)."""
    if gain.method != "paired-seeds" or gain.se_pp is None:
        return False
    df = max(1, (gain.df or 1) + most - converged)
    hoped = gain.point_pp + FUTILITY_SE * gain.se_pp
    return hoped - t95(df) * gain.se_pp * math.sqrt(converged / most) <= 0


def seed_loop(rubric: Rubric, dist: Distribution | None, seeds: Sequence[int],
              run_seed: Callable[[int], SeedRun | None]) -> tuple[list[SeedRun], Gain | None]:
    """The seed loop of one grading (grader.grading) and of the simulator (bench/
    noise_policy.py): `run_seed(seed)` trains (or draws) one seed, None when it failed;
    after each, the gain so far and the stopping rule say whether the next one runs."""
    runs: list[SeedRun] = []
    gain = None
    noise = paired_noise(rubric)
    for seed in seeds:
        run = run_seed(seed)
        if run is None:
            break
        runs.append(run)
        gain = gain_of(runs, dist, noise)
        if not wants_another_seed(gain, rubric, runs):
            break
    return runs, gain


def rubric_items(rubric: Rubric, checks: list[CheckResult], accuracy: float | None,
                 gain: Gain | None, num_classes: int, answers: dict | None = None,
                 seeds_run: int = 1, divergences: dict | None = None,
                 baseline_diverged: tuple[int, int] = (0, 0)) -> list[dict]:
    """The rubric's items in Gradescope's `tests` form: checks, then training, then gain,
    then the written answers a person grades (pending). `divergences`: the student's
    diverged runs by seed (grader.scoring.noise.Divergence); `baseline_diverged`: how many
    of the baseline distribution's runs diverged, of how many."""
    items = [_item(c.title, c.points, c.max_points, c.output, c.id) for c in checks]
    s = rubric.scoring
    chance = 1.0 / num_classes
    if s.trains_points:
        if accuracy is None:
            items.append(_item(_("Trains to the end above chance"), 0, s.trains_points,
                               _("Training did not finish (see the failure above)."), "trains"))
        else:
            ok = accuracy > CHANCE_FACTOR * chance
            items.append(_item(_("Trains to the end above chance"), s.trains_points if ok else 0,
                               s.trains_points,
                               _("Test accuracy {accuracy} (needs more than {needed}).").format(
                                   accuracy=f"{accuracy:.2%}", needed=f"{CHANCE_FACTOR * chance:.0%}"),
                               "trains"))
    if s.gain_tiers:
        top = max(t.points for t in s.gain_tiers)
        if accuracy is None or gain is None:
            items.append(_item(_("Accuracy gain over the baseline"), 0, top,
                               _("No test accuracy, so no gain to score."), "gain"))
        else:
            decision = decide_tier(gain, rubric)
            text = gain_text(accuracy, gain, decision, rubric, seeds_run)
            notes = divergence_notes(divergences or {}, *baseline_diverged)
            items.append(_item(_("Accuracy gain over the baseline"), decision.points, top,
                               " ".join([text, *notes]), "gain"))
    return items + manual_items(rubric.manual, answers or {})


def gain_text(accuracy: float, gain: Gain, decision: TierDecision, rubric: Rubric,
              seeds_run: int) -> str:
    """What the gain item says: the numbers, the interval and how the tier was decided."""
    values = dict(accuracy=f"{accuracy:.2%}", n=seeds_run, baseline=f"{gain.reference:.2%}",
                  gain=f"{gain.point_pp:+.2f}")
    if seeds_run > 1:
        text = ngettext("{accuracy} over {n} seed vs baseline {baseline}: {gain} percentage points",
                        "{accuracy} over {n} seeds vs baseline {baseline}: {gain} percentage points",
                        seeds_run).format(**values)
    else:
        text = _("{accuracy} vs baseline {baseline}: {gain} percentage points").format(**values)
    if gain.method == "paired-identical":
        text += " " + _("(every run reproduced the baseline's at its seed: exactly no change).")
    elif gain.interval_pp is None:
        text += ". " + _("Interval unknown: the baseline's spread over seeds has not been measured "
                         "here (run `grade calibrate --rubric {rubric}`, or pin it in the "
                         "rubric).").format(rubric=rubric.name)
    else:
        low, high = gain.interval_pp
        # "95%" as a value: "% i" in a message id reads as a %-format to Babel's checks
        text += ", " + _("{level} interval [{low}, {high}].").format(
            level="95%", low=f"{low:+.2f}", high=f"{high:+.2f}")
    if rubric.scoring.credit_mode == "evidence":
        return text + " " + evidence_text(gain, decision, rubric)
    if not decision.decided:
        extra_n = seeds_run - rubric.min_seeds
        extra = (" " + ngettext("({n} extra seed run)", "({n} extra seeds run)", extra_n).format(n=extra_n)
                 if seeds_run > rubric.min_seeds else "")
        text += " " + ngettext(
            "Decided inside the noise after {n} seed{extra}: between {low} and {high} points; "
            "the rubric gives the {policy} value, {points}.",
            "Decided inside the noise after {n} seeds{extra}: between {low} and {high} points; "
            "the rubric gives the {policy} value, {points}.", seeds_run).format(
            n=seeds_run, extra=extra, low=f"{decision.low_points:g}",
            high=f"{decision.high_points:g}", policy=rubric.scoring.seeds.undecided,
            points=f"{decision.points:g}")
        return text
    nxt = next_tier(gain.point_pp, rubric.scoring.gain_tiers)
    if nxt:
        return text + " " + ngettext(
            "Next tier: a gain of {gain} percentage point earns {points}.",
            "Next tier: a gain of {gain} percentage points earns {points}.",
            1 if nxt.min_gain == 1 else 2).format(gain=f"{nxt.min_gain:g}", points=f"{nxt.points:g}")
    return text + " " + _("Top tier reached.")


def evidence_text(gain: Gain, decision: TierDecision, rubric: Rubric) -> str:
    """How `credit: evidence` paid the gain: for what it shows, or the +0 standing."""
    shown, points = decision.credited_pp or 0.0, f"{decision.points:g}"
    margin = f"{rubric.scoring.margin:g}"
    partial, most = f"{round(decision.partial, 2):g}", f"{rubric.scoring.partial_points:g}"
    if gain.interval_pp is not None and shown == 0 and decision.partial > 0:
        return ngettext(
            "The runs point to a gain ({gain} percentage points) that they do not show yet at "
            "{level} confidence (the one-sided lower bound is {low}): the baseline's standing "
            "and {partial} of the {most} point for a gain on its way to being shown, {points} "
            "points.",
            "The runs point to a gain ({gain} percentage points) that they do not show yet at "
            "{level} confidence (the one-sided lower bound is {low}): the baseline's standing "
            "and {partial} of the {most} points for a gain on its way to being shown, {points} "
            "points.", 1 if most == "1" else 2).format(
                gain=f"{gain.point_pp:+.2f}", level="95%", low=f"{gain.shown_pp:+.2f}",
                partial=partial, most=most, points=points)
    if gain.method == "paired-identical" or gain.interval_pp is None or shown == 0:
        if gain.interval_pp is None:
            return _("Points for the gain as measured: {points}.").format(points=points)
        return _("No measurable change: the baseline's standing, {points} points (lost only "
                 "when the interval lies below -{margin} percentage points).").format(
                     points=points, margin=margin)
    if shown > 0:
        text = _("Points for the gain the runs show at {level} confidence (the one-sided "
                 "lower bound), {shown} percentage points: {points}.").format(
                     level="95%", shown=f"{shown:+.2f}", points=points)
        if decision.partial > 0:
            text += " " + ngettext("They include {partial} point for a gain shown.",
                                   "They include {partial} points for a gain shown.",
                                   1 if partial == "1" else 2).format(partial=partial)
        return text
    return _("Measurably worse than the baseline (the interval lies below -{margin} "
             "percentage points): points for {shown} percentage points, {points}.").format(
                 margin=margin, shown=f"{shown:+.2f}", points=points)


def divergence_notes(divergences: dict, baseline_diverged: int = 0,
                     baseline_runs: int = 0) -> list[str]:
    """`seed 3 diverged: loss 2.30 after epoch 2`, per diverged run, and the baseline's."""
    notes = []
    for seed, d in sorted(divergences.items()):
        if d.by == "loss":
            notes.append(_("Seed {seed} diverged: loss {loss} after epoch {epoch}; left out "
                           "of the gain, as the baseline's diverged runs are.").format(
                               seed=seed, loss=f"{d.loss:.2f}", epoch=d.epoch))
        else:
            notes.append(_("Seed {seed} diverged: validation accuracy {accuracy} after epoch "
                           "{epoch}; left out of the gain, as the baseline's diverged runs "
                           "are.").format(seed=seed, accuracy=f"{d.val_accuracy:.1%}", epoch=d.epoch))
    if baseline_diverged:
        notes.append(ngettext(
            "The baseline's distribution leaves out {n} diverged run of {total}.",
            "The baseline's distribution leaves out {n} diverged runs of {total}.",
            baseline_diverged).format(n=baseline_diverged, total=baseline_runs))
    return notes


def total(items: list[dict]) -> tuple[float, float]:
    """Score and maximum of what the grader graded; pending items are not in either."""
    graded = [i for i in items if not is_pending(i)]
    return sum(i["score"] for i in graded), sum(i["max_score"] for i in graded)


def pending_points(items: list[dict]) -> float:
    return sum(i["max_score"] for i in items if is_pending(i))


def _item(name, score, max_score, output, item_id):
    return {"name": name, "score": float(score), "max_score": float(max_score),
            "status": "passed" if score >= max_score else "failed",
            "output": output, "tags": [item_id]}
