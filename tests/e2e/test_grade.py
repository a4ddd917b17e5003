"""End to end: real child processes training on synthetic data under a tiny rubric."""
import functools
import json

import pytest

from conftest import REPO, SUBMISSIONS, grade, write_rubric

from grader.report.markdown import render_markdown
from grader.report.record import Results
from grader.rubric import load_rubric

GRADESCOPE_KEYS = {"score", "execution_time", "output", "visibility", "stdout_visibility",
                   "tests", "leaderboard"}


grade = functools.partial(grade, quick=False)  # these grade at the rubric's full budget

@pytest.fixture(scope="module")
def template_results(tmp_path_factory, fmnist_dir, session_cache, tiny_rubric):
    return grade(REPO / "student_template", tiny_rubric, fmnist_dir, cache_dir=session_cache)


def test_template_is_graded_like_the_baseline(template_results):
    r = template_results
    assert r["status"] == "graded" and r["failure"] is None
    m = r["metrics"]
    # the untouched template is the baseline: same seed, data order and augmentation stream
    assert m["accuracy"] == m["baseline_accuracy"] and m["gain_pp"] == 0
    assert m["accuracy"] > 0.3  # it learned (chance is 0.1)
    assert r["score"] == 5 + 5 + 5 + 15 + 20 and r["max_score"] == 70
    assert m["epochs"] == 5 and m["batch_size"] == 128 and m["device"] == "cpu"
    assert m["pipeline"] == {"train": "batched", "test": "batched"}


def test_results_are_in_gradescope_form_with_provenance(template_results):
    r = template_results
    assert GRADESCOPE_KEYS <= set(r)
    for t in r["tests"]:
        assert {"name", "score", "max_score", "output", "status"} <= set(t)
    json.dumps(r)  # serialisable as is
    p = r["provenance"]
    assert p["rubric"]["name"] == "tiny" and p["seeds"] == [0]
    assert {"python", "torch", "torchvision", "numpy", "grader"} <= set(p["versions"])
    assert p["code"]["submission"] and p["code"]["reference"] and p["data"]["digest"]
    assert "Advisory score" in r["notice"] and r["official"] is False
    assert [len(h) for h in r["history"]["student"]] == [5]
    assert r["model"]["layers"][0]["name"] == "features.0"


def test_baseline_is_cached_and_reused(template_results, fmnist_dir, session_cache, tiny_rubric):
    assert template_results["metrics"]["baseline_source"] in (["trained"], ["cache"])
    again = grade(REPO / "reference" / "baseline.py", tiny_rubric, fmnist_dir, cache_dir=session_cache)
    assert again["metrics"]["baseline_source"] == ["cache"]
    assert again["metrics"]["baseline_accuracy"] == template_results["metrics"]["baseline_accuracy"]
    assert again["metrics"]["accuracy"] == template_results["metrics"]["accuracy"]  # reproducible


def test_a_better_submission_scores_higher(template_results, fmnist_dir, session_cache, tiny_rubric):
    strong = grade(REPO / "reference" / "strong.py", tiny_rubric, fmnist_dir, cache_dir=session_cache)
    assert strong["status"] == "graded"
    assert strong["metrics"]["gain_pp"] > 0
    assert strong["score"] > template_results["score"]
    assert "build_model" in strong["submission"]["customised_hooks"]


def test_own_transform_runs_per_image_in_loader_workers_in_the_sandbox(
        tmp_path, fmnist_dir, session_cache, tiny_rubric):
    text = tiny_rubric.read_text() + "training: {loader_workers: 2}\n"
    r = grade(SUBMISSIONS / "passes_own_transform_callable.py", write_rubric(tmp_path, text=text),
              fmnist_dir, cache_dir=session_cache, quick=True)
    assert r["status"] == "graded", r["output"]
    assert r["metrics"]["pipeline"] == {"train": "per-image", "test": "batched"}
    assert r["metrics"]["training_switches"]["loader_workers"] == 2
    assert "per-image" in render_markdown(Results.load(r))


def test_pinned_baseline_is_used_as_is(tmp_path, fmnist_dir, session_cache, tiny_rubric):
    text = tiny_rubric.read_text() + "baseline: {pinned_accuracy: 0.05}\n"
    r = grade(REPO / "reference" / "baseline.py", write_rubric(tmp_path, text=text), fmnist_dir,
              cache_dir=session_cache, quick=True)
    assert r["metrics"]["baseline_accuracy"] == 0.05 and r["metrics"]["baseline_source"] == ["pinned"]


def test_quick_is_unofficial_and_small(fmnist_dir, session_cache, tiny_rubric):
    r = grade(REPO / "student_template", tiny_rubric, fmnist_dir, cache_dir=session_cache, quick=True)
    assert r["quick"] and not r["official"] and "UNOFFICIAL" in r["notice"] and "UNOFFICIAL" in r["output"]
    assert r["metrics"]["epochs"] == 1


# (submission, failure code or None, points earned, words in the report)
OUTCOMES = [
    ("fails_syntax_error.py", "syntax_error", 0, "line 5"),
    ("fails_missing_module.py", "import_error", 0, "timm_not_installed_anywhere"),
    ("fails_wrong_signature.py", "bad_hook", 0, "build_model(info)"),
    ("fails_output_shape.py", "output_shape", 10, "[2, 128]"),
    # the forward pass breaks, but the layers' parameter count is known: budget + parameters
    ("fails_linear_size_mismatch.py", "forward_error", 10, "in_features"),
    ("fails_too_many_parameters.py", "too_many_parameters", 10, "3,256,330"),
    ("fails_tens_of_millions_of_parameters.py", "too_many_parameters", 10, "47,700,010"),
    ("fails_nan_loss.py", "non_finite_loss", 15, "NaN"),
    ("fails_exits_the_process.py", "killed", 5, "exited with status 3"),
    ("fails_calls_sys_exit.py", "training_error", 5, "called exit"),
    ("passes_over_budget_clamped.py", None, None, "EPOCHS = 1000 is over the budget of 5"),
    ("passes_misnamed_hook.py", None, None, "`build_models` looks like the hook `build_model`"),
]


@pytest.mark.parametrize("name,code,points,words", OUTCOMES, ids=[o[0] for o in OUTCOMES])
def test_submission_outcomes(name, code, points, words, fmnist_dir, session_cache, tiny_rubric):
    r = grade(SUBMISSIONS / name, tiny_rubric, fmnist_dir, cache_dir=session_cache, quick=True)
    text = json.dumps(r)
    assert words in text, f"{words!r} not in the results"
    if code is None:
        assert r["status"] == "graded" and r["failure"] is None
    else:
        assert r["status"] == "failed" and r["failure"]["code"] == code
        assert r["score"] == points  # partial credit for the checks that passed
        assert r["failure"]["summary"] in r["output"]


def test_clamped_budget_trains_within_it(fmnist_dir, session_cache, tiny_rubric):
    r = grade(SUBMISSIONS / "passes_over_budget_clamped.py", tiny_rubric, fmnist_dir,
              cache_dir=session_cache, quick=True)
    assert r["metrics"]["batch_size"] == 512
    budget = next(t for t in r["tests"] if t["tags"] == ["budget"])
    assert budget["score"] == 0


def test_time_limit_stops_a_hanging_forward(tmp_path, fmnist_dir, session_cache):
    rubric = write_rubric(tmp_path, time_limit=6)
    r = grade(SUBMISSIONS / "times_out_in_forward.py", rubric, fmnist_dir, cache_dir=session_cache)
    assert r["failure"]["code"] == "timeout" and "6 s" in r["failure"]["message"]
    assert r["score"] == 5  # the budget check passed before the model hung
    assert r["metrics"]["wall_time_s"] < 30
    # the clock started after the grader's own imports, which are recorded, not charged
    startup = r["metrics"]["per_seed"][0]["startup_s"]
    assert 0 < startup < r["metrics"]["per_seed"][0]["wall_s"] - 6


def test_notebook_submission_is_graded_on_its_hooks(tmp_path, fmnist_dir, session_cache, tiny_rubric):
    from support.notebooks import COLAB, write_notebook
    nb = write_notebook(tmp_path / "s007.ipynb", COLAB[:5])  # Colab cells with !pip and a loop
    r = grade(nb, tiny_rubric, fmnist_dir, cache_dir=session_cache, quick=True)
    assert r["status"] == "graded", r["failure"]
    assert r["submission"]["kind"] == "notebook" and r["submission"]["name"] == "s007"
    assert set(r["submission"]["customised_hooks"]) == {"build_optimizer", "EPOCHS"}
    assert any("not run: for epoch" in n for n in r["submission"]["notes"])


def test_the_child_never_gets_test_labels_and_sees_a_secret_order(fmnist_dir, session_cache, tiny_rubric,
                                                                   tmp_path):
    import numpy as np
    from grader.load.datasets import prepare_data
    from grader.grading.context import prepare_inputs as _prepare_inputs
    rubric = load_rubric(str(tiny_rubric))
    data = prepare_data(rubric.dataset, data_dir=fmnist_dir, cache_dir=session_cache)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    from grader.load import testset
    secret = testset.key(session_cache)
    a = _prepare_inputs(data, rubric, False, tmp_path / "a", secret)
    b = _prepare_inputs(data, rubric, False, tmp_path / "b", secret)
    handed_over = {p.name for p in (tmp_path / "a").iterdir()}
    assert handed_over == {"test_x.npy", "account_x.npy", "public_x.npy", "train_idx.npy",
                           "val_idx.npy"}  # no labels
    x_a, x_b = np.load(a.test_x), np.load(b.test_x)
    assert not np.array_equal(x_a, x_b)  # a new secret order every grading
    assert not np.array_equal(x_a, data.load("test_x"))
    # the parent's labels follow the same order: each image is the public one at that
    # position, re-rendered, and the multiset of (image, label) is unchanged
    public_x, public_y = data.load("test_x"), data.load("test_y")
    assert np.array_equal(x_a, testset.rerender(public_x[a.order], a.order, secret))
    assert np.array_equal(a.test_y, public_y[a.order])
    key = lambda x, y: sorted(zip(x.reshape(len(x), -1).sum(1).tolist(), y.tolist()))
    assert key(x_a, a.test_y) == key(testset.rerender(public_x, np.arange(len(public_y)), secret),
                                     public_y)
    # the memorisation check's public images come untouched, their labels stay here too
    shown = np.load(a.public_x)
    assert len(shown) == min(testset.PUBLIC_SAMPLE, len(public_y)) == len(a.public_y)
    flat = lambda x: [bytes(row) for row in x.reshape(len(x), -1)]  # noqa: E731
    label_of = dict(zip(flat(public_x), public_y.tolist()))
    assert [label_of[img] for img in flat(shown)] == a.public_y.tolist()
    assert not set(np.load(a.train_idx)) & set(np.load(a.val_idx))


def test_reports_include_curves_and_a_self_contained_html_page(template_results, tmp_path):
    from grader.report.folder import write_reports
    files = write_reports(Results.load(template_results), tmp_path)
    assert files["curves"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = files["html"].read_text()
    assert "data:image/png;base64," in html and "src='http" not in html and "<script" not in html
    for t in template_results["tests"]:
        assert t["name"] in html
    assert f"{template_results['score']:g} / {template_results['max_score']:g}" in html
    assert "features.0" in html  # the model summary
