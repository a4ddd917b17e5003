"""#27's paired estimator end to end: which runs the grader pairs with the baseline's at
their seed (the same initial weights and random stream, digests the children report), on
synthetic data. The statistics themselves: tests/scoring/test_noise.py."""
import pytest

from conftest import SUBMISSIONS, TINY_RUBRIC, grade


PAIRED = """\
  paired:
    measured_on: "a test"
    changes:
      - {name: a, differences_pp: [1.0, -1.0, 0.5, -0.5]}
"""


def test_a_change_that_keeps_the_initial_weights_is_measured_seed_by_seed(tmp_path, fmnist_dir):
    """With baseline.paired, a submission whose model starts from the baseline's weights
    and draws the same random stream (only its optimizer changed) gets a paired interval
    with no calibration at all; one whose model starts elsewhere (the placebo's extra draw),
    one whose dropout draws masks from the same weights, and one whose augmentation differs
    are not paired."""
    text = TINY_RUBRIC.format(time_limit=120).replace("  calibration_seeds: 2\n",
                                                      "  calibration_seeds: 2\n" + PAIRED)
    rubric = tmp_path / "paired.yaml"
    text = text.replace("max_epochs: 5", "max_epochs: 2")  # two epochs tell the runs apart
    rubric.write_text(text)
    cache = tmp_path / "cache"
    # the full budget (two epochs of 1,200 images): at --quick (one epoch, 300 images) the
    # two runs end with the same accuracy and confusion here, which is "paired-identical"
    m = grade(SUBMISSIONS / "passes_only_optimizer_changed.py", rubric, fmnist_dir, cache,
              quick=False)["metrics"]
    assert m["gain_method"] == "paired-seeds" and m["gain_interval_pp"] is not None
    assert m["gain_pp"] == pytest.approx(100 * (m["accuracy"] - m["baseline_accuracy"]))
    for unpaired in ("passes_placebo_extra_random_draw.py", "passes_dropout_keeps_the_weights.py",
                     "passes_own_transform_callable.py"):
        r = grade(SUBMISSIONS / unpaired, rubric, fmnist_dir, cache, quick=False)
        assert r["metrics"]["gain_method"] == "paired", unpaired  # no interval without calibration
