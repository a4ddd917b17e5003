import pytest

from grader.inspection.checks import CheckResult
from grader.rubric import load_rubric, Tier
from grader.scoring.noise import Gain
from grader.scoring.points import gain_points, rubric_items, total

TIERS = [Tier(0.0, 20), Tier(2.0, 40), Tier(5.0, 60), Tier(8.0, 70)]


@pytest.mark.parametrize("gain,points", [
    (-3.0, 0), (-0.01, 0), (0.0, 20), (1.99, 20), (2.0, 40), (4.9, 40), (5.0, 60),
    (7.99, 60), (8.0, 70), (25.0, 70),
])
def test_gain_points_takes_the_highest_tier_reached(gain, points):
    assert gain_points(gain, TIERS) == points


def test_no_tiers_no_points():
    assert gain_points(10.0, []) == 0


def _checks(passed=True):
    return [CheckResult("output_shape", "Output", passed, 5.0 if passed else 0.0, 5.0, "")]


def test_items_for_a_good_run():
    r = load_rubric("cifar10")
    gain = Gain(15.0, None, "paired", 0.60)
    items = rubric_items(r, _checks(), accuracy=0.75, gain=gain, num_classes=10)
    names = [i["name"] for i in items]
    assert names == ["Output", "Trains to the end above chance", "Accuracy gain over the baseline"]
    gain = items[-1]
    assert gain["score"] == 50 and gain["max_score"] == 70  # +15.00 pp: the 15 -> 50 tier
    assert "+15.00 percentage points" in gain["output"] and "Interval unknown" in gain["output"]
    # credit: evidence, with no interval to weigh: the tier line at the point estimate
    assert "Points for the gain as measured: 50." in gain["output"]
    assert total(items) == (5 + 15 + 50, 5 + 15 + 70)


def test_items_under_the_old_step_tiers_still_name_the_next_tier(tmp_path):
    from conftest import TINY_RUBRIC
    path = tmp_path / "tiers.yaml"
    path.write_text(TINY_RUBRIC.format(time_limit=60))  # no `credit:`: tiers, as before
    r = load_rubric(str(path))
    assert r.scoring.credit_mode == "tiers"
    items = rubric_items(r, [], accuracy=0.61, gain=Gain(1.0, None, "paired", 0.60),
                         num_classes=10)
    assert items[-1]["score"] == 20
    assert "Next tier: a gain of 2 percentage points earns 40" in items[-1]["output"]


def test_items_when_training_failed_keep_check_points():
    r = load_rubric("cifar10")
    items = rubric_items(r, _checks(), accuracy=None, gain=None, num_classes=10)
    assert total(items) == (5, 90)
    assert items[1]["status"] == "failed" and items[2]["score"] == 0


@pytest.mark.parametrize("accuracy,points", [(0.10, 0), (0.15, 0), (0.151, 15), (0.9, 15)])
def test_trains_item_needs_better_than_one_and_a_half_chance(accuracy, points):
    r = load_rubric("cifar10")
    items = rubric_items(r, [], accuracy=accuracy, gain=Gain(0.0, None, "paired", 0.5),
                         num_classes=10)
    assert items[0]["score"] == points
