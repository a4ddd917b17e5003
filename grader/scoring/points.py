"""Points: pure functions from checks and accuracies to the rubric items ("tests")."""
from __future__ import annotations

from dataclasses import dataclass

from grader.i18n import _, ngettext
from grader.inspection.checks import CheckResult
from grader.load.answers import is_pending, manual_items
from grader.rubric import Rubric, Tier
from grader.scoring.noise import Gain, straddles

CHANCE_FACTOR = 1.5  # "trains" needs test accuracy above 1.5x chance (0.15 for 10 classes)


def gain_points(gain_pp: float, tiers: list[Tier]) -> float:
    """Points of the highest tier whose min_gain the gain reaches; 0 below every tier."""
    reached = [t.points for t in tiers if gain_pp >= t.min_gain - 1e-9]
    return max(reached, default=0.0)


def next_tier(gain_pp: float, tiers: list[Tier]) -> Tier | None:
    return next((t for t in tiers if gain_pp < t.min_gain - 1e-9), None)


def boundaries(rubric: Rubric) -> list[float]:
    return [t.min_gain for t in rubric.scoring.gain_tiers]


@dataclass(frozen=True)
class TierDecision:
    points: float
    decided: bool            # the whole 95% interval lies within one tier
    low_points: float        # the tiers the interval's ends reach
    high_points: float


def decide_tier(gain: Gain, rubric: Rubric) -> TierDecision:
    """The tier a gain earns, given its interval: the one the whole interval lies in; where
    it straddles a boundary, what the rubric's `scoring.seeds.undecided` says."""
    tiers = rubric.scoring.gain_tiers
    at_point = gain_points(gain.point_pp, tiers)
    if gain.interval_pp is None or not straddles(gain, boundaries(rubric)):
        return TierDecision(at_point, True, at_point, at_point)
    low, high = gain.interval_pp
    low_points, high_points = gain_points(low, tiers), gain_points(high, tiers)
    policy = rubric.scoring.seeds.undecided
    if policy == "point":
        points = at_point
    elif policy == "linear":  # each boundary inside pays in proportion to the part above it
        points = low_points + sum(
            (gain_points(b, tiers) - gain_points(b - 1e-6, tiers)) * (high - b) / (high - low)
            for b in boundaries(rubric) if low < b <= high)
    else:
        points = low_points
    return TierDecision(points, False, low_points, high_points)


def rubric_items(rubric: Rubric, checks: list[CheckResult], accuracy: float | None,
                 gain: Gain | None, num_classes: int, answers: dict | None = None,
                 seeds_run: int = 1) -> list[dict]:
    """The rubric's items in Gradescope's `tests` form: checks, then training, then gain,
    then the written answers a person grades (pending)."""
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
            items.append(_item(_("Accuracy gain over the baseline"), decision.points, top,
                               gain_text(accuracy, gain, decision, rubric, seeds_run), "gain"))
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
