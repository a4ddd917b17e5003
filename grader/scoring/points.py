"""Points: pure functions from checks and accuracies to the rubric items ("tests")."""
from __future__ import annotations

from grader.load.answers import manual_items
from grader.inspection.checks import CheckResult
from grader.rubric import Rubric, Tier

CHANCE_FACTOR = 1.5  # "trains" needs test accuracy above 1.5x chance (0.15 for 10 classes)


def gain_points(gain_pp: float, tiers: list[Tier]) -> float:
    """Points of the highest tier whose min_gain the gain reaches; 0 below every tier."""
    reached = [t.points for t in tiers if gain_pp >= t.min_gain - 1e-9]
    return max(reached, default=0.0)


def next_tier(gain_pp: float, tiers: list[Tier]) -> Tier | None:
    return next((t for t in tiers if gain_pp < t.min_gain - 1e-9), None)


def rubric_items(rubric: Rubric, checks: list[CheckResult], accuracy: float | None,
                 baseline_accuracy: float | None, num_classes: int,
                 answers: dict | None = None) -> list[dict]:
    """The rubric's items in Gradescope's `tests` form: checks, then training, then gain,
    then the written answers a person grades (pending)."""
    items = [_item(c.title, c.points, c.max_points, c.output, c.id) for c in checks]
    s = rubric.scoring
    chance = 1.0 / num_classes
    if s.trains_points:
        if accuracy is None:
            items.append(_item("Trains to the end above chance", 0, s.trains_points,
                               "Training did not finish (see the failure above).", "trains"))
        else:
            ok = accuracy > CHANCE_FACTOR * chance
            items.append(_item("Trains to the end above chance", s.trains_points if ok else 0,
                               s.trains_points,
                               f"Test accuracy {accuracy:.2%} (needs more than "
                               f"{CHANCE_FACTOR * chance:.0%}).", "trains"))
    tiers = s.gain_tiers
    if tiers:
        top = max(t.points for t in tiers)
        if accuracy is None or baseline_accuracy is None:
            items.append(_item("Accuracy gain over the baseline", 0, top,
                               "No test accuracy, so no gain to score.", "gain"))
        else:
            gain = (accuracy - baseline_accuracy) * 100
            pts = gain_points(gain, tiers)
            nxt = next_tier(gain, tiers)
            more = (f" Next tier: a gain of {nxt.min_gain:g} percentage points earns {nxt.points:g}."
                    if nxt else " Top tier reached.")
            items.append(_item("Accuracy gain over the baseline", pts, top,
                               f"{accuracy:.2%} vs baseline {baseline_accuracy:.2%}: "
                               f"{gain:+.2f} percentage points.{more}", "gain"))
    return items + manual_items(rubric.manual, answers or {})


def total(items: list[dict]) -> tuple[float, float]:
    """Score and maximum of what the grader graded; pending items are not in either."""
    graded = [i for i in items if i["status"] != "pending"]
    return sum(i["score"] for i in graded), sum(i["max_score"] for i in graded)


def pending_points(items: list[dict]) -> float:
    return sum(i["max_score"] for i in items if i["status"] == "pending")


def _item(name, score, max_score, output, item_id):
    return {"name": name, "score": float(score), "max_score": float(max_score),
            "status": "passed" if score >= max_score else "failed",
            "output": output, "tags": [item_id]}
