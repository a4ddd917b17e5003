"""What a graded run leaves beside its reports: the trained weights with the hook source
they came from (so `grade predict` can rebuild the model), every test prediction, and a
gallery of test images with true and predicted labels, the most confident mistakes first.

The parent writes these from what it already holds (the child's weights and logits, the
test images and labels); nothing here runs student code.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from grader.report.figures import gallery_png
from grader.files import write_atomic

GALLERY_MISTAKES, GALLERY_SIZE = 16, 24
WEIGHTS, META, SOURCE = "model.pt", "model.json", "model-source"


def gallery_choice(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Indices: the most confident mistakes, then the most confident right answers."""
    predicted, conf = probs.argmax(1), probs.max(1)
    wrong = np.flatnonzero(predicted != labels)
    right = np.flatnonzero(predicted == labels)
    wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:GALLERY_MISTAKES]
    right = right[np.argsort(-conf[right], kind="stable")][:GALLERY_SIZE - len(wrong)]
    return np.concatenate([wrong, right])


def save_run(folder: Path, *, submission, rubric, info, run, weights: dict | None,
             probs: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
             order: np.ndarray) -> list[str]:
    """Write the artifacts of `run` (a grader.sandbox.protocol.Run) into `folder`: its
    weights and the source that builds them, and its test predictions (`probs`, in the
    grading's permuted test order `order`); return the names written."""
    import torch
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if weights is not None:
        buf = io.BytesIO()
        torch.save(weights, buf)
        write_atomic(folder / WEIGHTS, buf.getvalue())
        source = folder / SOURCE
        shutil.rmtree(source, ignore_errors=True)
        if submission.source.is_dir():
            shutil.copytree(submission.source, source)
        else:
            source.mkdir()
            shutil.copyfile(submission.source, source / "submission.py")
        meta = {"model_hook": rubric.model_hook, "info": asdict(info), "rubric": rubric.name,
                "rubric_digest": rubric.digest(), "seed": run.seed, "test_accuracy": run.accuracy,
                # every hook the submission left out falls back to this rubric's baseline
                "baseline": rubric.baseline.submission,
                "training": {k: getattr(rubric.training, k)
                             for k in ("channels_last", "mixed_precision")},
                "submission_digest": submission.digest, "weights": WEIGHTS, "source": SOURCE}
        write_atomic(folder / META, json.dumps(meta, indent=2) + "\n")
        written += [WEIGHTS, META, SOURCE]
    predicted, conf = probs.argmax(1), probs.max(1)
    rows = sorted(zip(order.tolist(), test_y.tolist(), predicted.tolist(), conf.tolist()))
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["test_index", "label", "predicted", "confidence", "label_name", "predicted_name"])
    out.writerows([i, y, p, round(c, 4), info.classes[y], info.classes[p]] for i, y, p, c in rows)
    write_atomic(folder / "predictions.csv", buf.getvalue())
    written.append("predictions.csv")
    pick = gallery_choice(test_y, probs)
    png = gallery_png(test_x[pick], test_y[pick].tolist(), predicted[pick].tolist(),
                      conf[pick].tolist(), list(info.classes))
    if png:
        write_atomic(folder / "gallery.png", png)
        written.append("gallery.png")
    return written
