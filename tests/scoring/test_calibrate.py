"""End to end on synthetic data: `grade calibrate`, and grades that carry their interval."""
import json
import shutil
import statistics

import pytest

from conftest import REPO, SUBMISSIONS, TINY_RUBRIC, grade
from grader.cli import main as cli
from grader.rubric import load_rubric

ADAPTIVE = TINY_RUBRIC.format(time_limit=120).replace(
    "calibration_seeds: 2", "calibration_seeds: 4").replace(
    "  trains_points: 15\n", "  trains_points: 15\n  seeds: {min: 1, max: 3, undecided: lower}\n")


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, fmnist_dir):
    """A cache of its own (other modules' gradings must not see this calibration), and the
    two calibrate calls' JSON."""
    cache = tmp_path_factory.mktemp("calibration-cache")
    rubric = tmp_path_factory.mktemp("rubric") / "adaptive.yaml"
    rubric.write_text(ADAPTIVE)
    return cache, rubric


def calibrate_json(rubric, fmnist_dir, cache, monkeypatch, capsys):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(cache))
    args = ["calibrate", "--rubric", str(rubric), "--quick", "--seeds", "4",
            "--data-dir", str(fmnist_dir), "--json"]
    assert cli(args) == 0
    return json.loads(capsys.readouterr().out)


def test_calibrate_prints_the_distribution_and_a_second_call_comes_from_the_cache(
        calibrated, fmnist_dir, monkeypatch, capsys):
    cache, rubric = calibrated
    first = calibrate_json(rubric, fmnist_dir, cache, monkeypatch, capsys)
    assert {"rubric", "quick", "seeds", "accuracies", "mean", "std"} <= set(first)
    assert first["rubric"] == "tiny" and first["quick"] is True and first["seeds"] == [0, 1, 2, 3]
    assert all(0 < a <= 1 for a in first["accuracies"])
    assert first["mean"] == pytest.approx(statistics.fmean(first["accuracies"]))
    assert first["std"] == pytest.approx(statistics.stdev(first["accuracies"]))
    assert first["from_cache"] is False
    second = calibrate_json(rubric, fmnist_dir, cache, monkeypatch, capsys)
    assert second["from_cache"] is True
    assert second["accuracies"] == first["accuracies"]


def test_the_template_gains_exactly_zero(calibrated, fmnist_dir, monkeypatch, capsys):
    cache, rubric = calibrated
    calibrate_json(rubric, fmnist_dir, cache, monkeypatch, capsys)  # from the cache after the test above
    m = grade(REPO / "student_template", rubric, fmnist_dir, cache)["metrics"]
    assert m["gain_pp"] == 0 and m["gain_interval_pp"] == [0.0, 0.0]
    assert m["gain_method"] == "paired-identical" and m["extra_seeds"] == 0
    assert m["baseline_seeds"] == 4 and m["baseline_std_pp"] > 0


@pytest.fixture(scope="module")
def calibrated_full(tmp_path_factory, fmnist_dir):
    """The adaptive rubric at one epoch, calibrated at its full budget: --quick runs one
    seed whatever the policy, so the policy is seen in a full grading."""
    from grader.grading import calibrate
    cache = tmp_path_factory.mktemp("calibration-cache-full")
    rubric = tmp_path_factory.mktemp("rubric-full") / "adaptive.yaml"
    rubric.write_text(ADAPTIVE.replace("max_epochs: 5", "max_epochs: 1"))
    calibrate(rubric=load_rubric(str(rubric)), seeds=4, data_dir=fmnist_dir, quick=False,
              cache_dir=cache)
    return cache, rubric


def test_a_placebo_gets_an_interval_holding_zero_and_seeds_where_they_decide(calibrated_full, fmnist_dir):
    cache, rubric = calibrated_full
    r = grade(SUBMISSIONS / "passes_placebo_extra_random_draw.py", rubric, fmnist_dir, cache,
              quick=False)
    m = r["metrics"]
    low, high = m["gain_interval_pp"]
    assert m["gain_method"] == "calibrated" and low < 0 < high
    assert m["baseline_accuracy"] == pytest.approx(m["baseline_distribution"]["mean"])
    assert m["gain_pp"] == pytest.approx(100 * (m["accuracy"] - m["baseline_accuracy"]))
    # +0 and +2 are tier boundaries: an interval around 0 holds at least one, so the policy
    # ran seeds up to its maximum, and says the tier was decided inside the noise
    assert len(m["per_seed"]) == 3 and m["extra_seeds"] == 2 and m["tier_decided"] is False
    gain_item = next(t for t in r["tests"] if t["tags"] == ["gain"])
    assert "95% interval" in gain_item["output"] and "inside the noise after 3 seeds" in gain_item["output"]
    assert "95% interval" in r["output"]  # Gradescope's text


def test_without_calibration_the_interval_is_unknown_and_says_how_to_get_one(
        tmp_path, fmnist_dir, tiny_rubric):
    r = grade(SUBMISSIONS / "passes_placebo_extra_random_draw.py", tiny_rubric, fmnist_dir,
              tmp_path / "empty-cache")
    m = r["metrics"]
    assert m["gain_interval_pp"] is None and m["gain_method"] == "paired"
    assert m["baseline_std_pp"] is None and m["baseline_seeds"] == 1
    gain_item = next(t for t in r["tests"] if t["tags"] == ["gain"])
    assert "Interval unknown" in gain_item["output"] and "grade calibrate --rubric tiny" in gain_item["output"]


def test_a_pinned_distribution_needs_no_calibration(tmp_path, fmnist_dir):
    pinned = TINY_RUBRIC.format(time_limit=120).replace(
        "  calibration_seeds: 2\n",
        "  calibration_seeds: 2\n  pinned: {mean: 0.5, std: 0.02, n: 10, measured_on: test}\n")
    path = tmp_path / "pinned.yaml"
    path.write_text(pinned.replace("max_epochs: 5", "max_epochs: 1"))
    placebo = SUBMISSIONS / "passes_placebo_extra_random_draw.py"  # a change: not the baseline's runs
    m = grade(placebo, path, fmnist_dir, tmp_path / "cache", quick=False)["metrics"]
    assert m["gain_method"] == "calibrated" and m["baseline_distribution"]["source"] == "pinned"
    assert m["baseline_accuracy"] == 0.5 and m["baseline_seeds"] == 10
    # measured at the full budget: a --quick run does not use it
    quick = grade(placebo, path, fmnist_dir, tmp_path / "cache")["metrics"]
    assert quick["baseline_distribution"] is None and quick["gain_interval_pp"] is None


def test_a_cpu_baseline_is_kept_per_thread_count():
    """A 1-core batch worker's run at seed 0 is not the 2-thread run of `grade --local` (the
    float sums go in another order), so the untouched template, graded in a batch, must
    meet a baseline trained with its own thread count to gain exactly 0. A GPU's run does
    not depend on the CPU threads."""
    from grader.rubric import load_rubric
    from grader.scoring.baseline_cache import baseline_key
    common = dict(rubric=load_rubric("fashion_mnist"), seed=0, quick=True, data_digest="d",
                  reference_digest="r", versions={})
    assert baseline_key(device_type="cpu", threads=1, **common) != \
        baseline_key(device_type="cpu", threads=2, **common)
    assert baseline_key(device_type="cuda", threads=1, **common) == \
        baseline_key(device_type="cuda", threads=2, **common)


def test_a_grade_does_not_depend_on_what_was_graded_before_on_the_same_cache(
        tmp_path, fmnist_dir):
    """#27: the distribution and the seeds follow from the rubric and the mode. Gradings in
    between train baseline seeds into the cache, and a partial calibration (2 of the
    rubric's 4 seeds) lands there too; the second grading of the same submission runs the
    same seeds and gets the same score."""
    from grader.grading import calibrate
    rubric = tmp_path / "evidence.yaml"
    rubric.write_text(ADAPTIVE.replace("undecided: lower}", "}\n  credit: evidence"))
    cache = tmp_path / "cache"
    placebo = SUBMISSIONS / "passes_placebo_extra_random_draw.py"
    first = grade(placebo, rubric, fmnist_dir, cache)
    grade(REPO / "reference" / "strong.py", rubric, fmnist_dir, cache)
    calibrate(rubric=load_rubric(str(rubric)), seeds=2, data_dir=fmnist_dir, quick=True,
              cache_dir=cache)
    grade(REPO / "student_template", rubric, fmnist_dir, cache)
    second = grade(placebo, rubric, fmnist_dir, cache)
    for r in (first, second):
        assert r["metrics"]["distribution_rule"] == "calibrated"  # --quick: the quick calibration
        assert r["metrics"]["distribution_source"] is None        # not measured: none half-done
        assert r["metrics"]["credit"] == "evidence"
    assert second["metrics"]["seeds"] == first["metrics"]["seeds"]
    assert second["score"] == first["score"]
    assert second["metrics"]["gain_pp"] == pytest.approx(first["metrics"]["gain_pp"])


@pytest.mark.slow  # 42 s: a calibration and a batch
def test_workers_calibrate_seeds_at_once_into_the_runs_a_batch_of_as_many_workers_finds(
        tmp_path, fmnist_dir, monkeypatch, capsys):
    """`grade calibrate --workers 2` trains two seeds at a time, each on one core: the same
    runs (keys and accuracies) one core would make seed after seed, so `grade batch
    --workers 2` finds every one of them instead of calibrating again on one core."""
    import os
    from grader.grading import calibrate
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    rubric = tmp_path / "adaptive.yaml"
    rubric.write_text(ADAPTIVE)
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(cache))
    assert cli(["calibrate", "--rubric", str(rubric), "--quick", "--seeds", "4", "--workers", "2",
                "--data-dir", str(fmnist_dir), "--json"]) == 0
    parallel = json.loads(capsys.readouterr().out)
    assert parallel["seeds"] == [0, 1, 2, 3] and parallel["from_cache"] is False
    runs = sorted((cache / "baselines").glob("*.json"))
    # one core, seed after seed, on the same cache: every seed is found, none trains again
    core = (sorted(os.sched_getaffinity(0))[0],)
    dist, cached = calibrate(rubric=load_rubric(str(rubric)), seeds=4, data_dir=fmnist_dir,
                             quick=True, cache_dir=cache, cpus=core)
    assert cached and list(dist.accuracies) == parallel["accuracies"]
    assert sorted((cache / "baselines").glob("*.json")) == runs
    # and those are 1-thread runs: a fresh cache (with the same test-set key) trains the
    # first two seeds one after the other to the same accuracies
    (tmp_path / "fresh").mkdir()
    shutil.copy(cache / "test-key", tmp_path / "fresh" / "test-key")
    fresh, _ = calibrate(rubric=load_rubric(str(rubric)), seeds=2, data_dir=fmnist_dir,
                         quick=True, cache_dir=tmp_path / "fresh", cpus=core)
    assert list(fresh.accuracies) == parallel["accuracies"][:2]


def test_a_run_is_paired_only_with_the_same_weights_and_the_same_random_stream():
    from grader.grading.grade import _same_start
    from grader.sandbox.protocol import Run

    def run(init, stream):
        return Run(seed=0, init_digest=init, training={"stream_digest": stream} if stream else {})
    baseline = run("w", "s")
    assert _same_start(run("w", "s"), baseline)
    assert not _same_start(run("w", "dropout"), baseline)   # the weights, not the stream
    assert not _same_start(run("other", "s"), baseline)     # the stream, not the weights
    assert not _same_start(run("w", None), baseline)        # a record without one: not paired
    assert not _same_start(run(None, "s"), run(None, "s"))
