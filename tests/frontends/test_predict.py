"""After training: the weights and their source, per-class accuracy, the confusion matrix
and the gallery a graded run leaves behind, `grade predict` on image files, and the
class-wide view of a batch."""
from __future__ import annotations

import copy
import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from grader.batch import export
from grader.report.artifacts import gallery_choice
from grader.cli import main as cli
from grader.load.datasets import prepare_data
from grader.grading import grade_submission
from grader.batch.gradebook import Row
from grader.report.folder import write_reports
from grader.report.record import Pair
from grader.rubric import load_rubric

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory, fmnist_dir, session_cache, tiny_rubric):
    """The instructor's strong solution graded with --out: its folder and results."""
    out = tmp_path_factory.mktemp("run")
    results = grade_submission(submission=REPO / "reference" / "strong.py",
                               rubric=load_rubric(str(tiny_rubric)), data_dir=fmnist_dir,
                               cache_dir=session_cache, artifacts=out, quick=True)
    write_reports(results, out)
    return out, results


def test_a_graded_run_leaves_weights_source_predictions_and_pictures(run):
    out, graded = run
    results = graded.dump()
    assert results["status"] == "graded"
    for name in ("model.pt", "model.json", "model-source/submission.py", "predictions.csv",
                 "gallery.png", "per_class.png", "confusion.png", "curves.png"):
        assert (out / name).is_file(), name
    for name in ("gallery.png", "per_class.png", "confusion.png"):
        assert (out / name).read_bytes().startswith(PNG)
    meta = json.loads((out / "model.json").read_text())
    assert meta["model_hook"] == "build_model" and meta["info"]["classes"][0] == "T-shirt/top"
    assert (out / "model-source" / "submission.py").read_text() == \
        (REPO / "reference" / "strong.py").read_text()

    m = results["metrics"]
    student, baseline = np.array(m["confusion"]["student"]), np.array(m["confusion"]["baseline"])
    n_test = student.sum()
    assert student.shape == (10, 10) and baseline.sum() == n_test
    assert np.trace(student) / n_test == pytest.approx(m["accuracy"])  # the same predictions
    # the baseline's matrix is its run at the same seed (the gain may be measured from the
    # calibrated mean instead, when this session's cache holds a calibration)
    paired = np.mean([b["accuracy"] for b in m["baseline_per_seed"]])
    assert np.trace(baseline) / n_test == pytest.approx(paired)
    rows_ = student.sum(1)
    assert m["per_class"]["student"] == pytest.approx((np.diag(student) / np.maximum(rows_, 1)).tolist(),
                                                      abs=1e-4)
    preds = list(csv.DictReader((out / "predictions.csv").open()))
    indices = [int(p["test_index"]) for p in preds]  # --quick: a subset of the test split
    assert len(preds) == n_test == len(set(indices)) and indices == sorted(indices)
    assert np.mean([p["label"] == p["predicted"] for p in preds]) == pytest.approx(m["accuracy"])

    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # curves, per class, confusion, gallery
    md = (out / "report.md").read_text()
    for name in ("per_class.png", "confusion.png", "gallery.png"):
        assert f"]({name})" in md
    assert "| T-shirt/top |" in md


def test_gallery_shows_the_most_confident_mistakes_first():
    labels = np.array([0, 1, 2, 0, 1])
    probs = np.array([[0.1, 0.9, 0.0],   # wrong, 0.9
                      [0.0, 0.6, 0.4],   # right, 0.6
                      [0.7, 0.3, 0.0],   # wrong, 0.7
                      [0.95, 0.05, 0.0],  # right, 0.95
                      [0.2, 0.1, 0.7]])  # wrong, 0.7
    assert gallery_choice(labels, probs).tolist() == [0, 2, 4, 3, 1]


def test_predict_gives_the_runs_own_top1_on_test_images_written_to_files(
        run, tmp_path, fmnist_dir, session_cache, capsys):
    out, results = run
    data = prepare_data(load_rubric("fashion_mnist").dataset, data_dir=fmnist_dir,
                        cache_dir=session_cache)
    from grader.load import testset
    # the run predicted the test images as it was graded on them: re-rendered
    x = data.load("test_x")
    preds = {int(p["test_index"]): p for p in csv.DictReader((out / "predictions.csv").open())}
    chosen = sorted(preds)[:12]
    shown = testset.rerender(x[chosen], np.array(chosen), testset.key(session_cache))
    files = []
    for i, image in zip(chosen, shown):
        path = tmp_path / f"test{i}.png"
        Image.fromarray(np.asarray(image)[..., 0], mode="L").save(path)
        files.append(path)
    from grader.commands.predict import predict_images
    got = predict_images(files, out)
    for i, pred in zip(chosen, got):
        assert pred.top[0][0] == preds[i]["predicted_name"]
        assert pred.top[0][1] == pytest.approx(float(preds[i]["confidence"]), abs=1e-3)
        assert len(pred.top) == 3 and pred.top[0][1] >= pred.top[1][1] >= pred.top[2][1]

    # a colour JPEG of another size is converted to the data set's channels and size
    big = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 60, 3), dtype=np.uint8)).save(big)
    picture = tmp_path / "pred.png"
    assert cli(["predict", str(files[0]), str(big), "--run", str(out), "--picture", str(picture)]) == 0
    shown = capsys.readouterr().out
    assert preds[chosen[0]]["predicted_name"] in shown and "%" in shown and "photo.jpg" in shown
    assert picture.read_bytes().startswith(PNG)


def test_predict_takes_relative_paths_as_a_user_types_them(run, tmp_path, monkeypatch, capsys):
    """bubblewrap binds paths at the same place inside the sandbox, and the child starts in
    its own folder: a relative --run once failed there with only "exited with status 1"."""
    out, _ = run
    image = tmp_path / "shirt.png"
    Image.fromarray(np.full((28, 28), 128, dtype=np.uint8), mode="L").save(image)
    monkeypatch.chdir(tmp_path)
    assert cli(["predict", "shirt.png", "--run", os.path.relpath(out, tmp_path)]) == 0
    assert "shirt.png" in capsys.readouterr().out


def test_predict_says_what_is_wrong_with_bad_input(run, tmp_path, capsys):
    out, _ = run
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert cli(["predict", str(text), "--run", str(out)]) == 2
    assert "not an image PIL can read" in capsys.readouterr().out
    assert cli(["predict", str(tmp_path / "missing.png"), "--run", str(out)]) == 2
    assert "no such file" in capsys.readouterr().out
    assert cli(["predict", str(text), "--run", str(tmp_path)]) == 2
    assert "holds no trained model" in capsys.readouterr().out


def test_class_summary_shows_per_class_accuracy_and_common_confusions(run):
    _, results = run
    rows = [Row(student=s, rubric="tiny", status="graded", score=results.score,
                max_score=results.max_score, accuracy=results.metrics.accuracy,
                baseline_accuracy=None, gain_pp=None, failure_code=None, failure_message=None,
                results=results) for s in ("ada", "bo")]
    failed = copy.deepcopy(results)
    failed.metrics.confusion = Pair(None, None)
    rows.append(Row(student="cy", rubric="tiny", status="failed", score=5, max_score=100,
                    accuracy=None, baseline_accuracy=None, gain_pp=None,
                    failure_code="forward_error", failure_message="x", results=failed))
    md, pictures = export.class_summary(rows)
    assert "3 gradings, 2 graded, 1 failed." in md and "forward_error (1)" in md
    assert "## Test accuracy per class (2 submissions that trained)" in md
    assert "## The most common confusions" in md and "submission(s)" in md
    first = results.metrics.per_class.student[0]
    assert f"| T-shirt/top | {first:.1%} |" in md
    assert set(pictures) == {"per_class", "confusion"}
