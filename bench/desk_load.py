"""The instructor's desk at class size: similarity and the dashboard for N students.

    python bench/desk_load.py --students 300 [--copies 3] [--test-items 10000] [--screenshot docs/dashboard.png]

Writes a synthetic class straight into a gradebook (nothing trains): per student a varied
single-file submission (different models, optimisers and budgets drawn at random), a
results object with CIFAR-10's classes, confusion and per-class accuracy, and a
predictions.csv over --test-items test images from a model of that accuracy that errs on
shared "hard" images; --copies pairs are a renamed copy of another student with the same
predictions but for 1% of the images (another float order). Then times `grade export
--format similarity` and `--format dashboard`, the dashboard's size, and a headless
chromium's load of it (the process's wall time, and the page's own time to the end of its
script, against the browser's start on a blank page), and counts which pairs were flagged:
the planted copies (by code, predictions or both) and the others. Not a test: a minute.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.gradebooks import gradebook_of  # noqa: E402  (the tests' synthetic grades)
from support.results import results_for  # noqa: E402

from grader.batch import export, gradebook  # noqa: E402
from grader.report.record import Pair  # noqa: E402

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BLOCKS = ["nn.Conv2d({i}, {o}, 3, padding=1)", "nn.BatchNorm2d({o})", "nn.ReLU()", "nn.GELU()",
          "nn.SiLU()", "nn.Dropout2d({p})", "nn.MaxPool2d(2)", "nn.AvgPool2d(2)"]


def submission(rng: random.Random) -> str:
    """A plausible student model and recipe, different from one draw to the next."""
    widths = [rng.choice([16, 24, 32, 48, 64, 96]) for _ in range(rng.randint(2, 4))]
    layers, width = [], 3
    for out in widths:
        parts = [BLOCKS[0].format(i=width, o=out)] + rng.sample(BLOCKS[1:6], rng.randint(1, 3))
        layers += [p.format(o=out, p=round(rng.uniform(0.05, 0.4), 2)) for p in parts]
        layers.append(rng.choice(BLOCKS[6:]))
        width = out
    names = rng.sample(["net", "model", "body", "trunk", "stack", "backbone"], 2)
    opt = rng.choice([f"torch.optim.AdamW(model.parameters(), lr={rng.choice([1e-3, 2e-3, 3e-3])}, "
                      f"weight_decay={rng.choice([1e-4, 5e-4, 0.01])})",
                      f"torch.optim.SGD(model.parameters(), lr={rng.choice([0.05, 0.1])}, "
                      f"momentum=0.9, nesterov={rng.choice([True, False])})"])
    body = ",\n        ".join(layers)
    return (f"import torch\nfrom torch import nn\n\n\ndef build_model(info):\n"
            f"    {names[0]} = nn.Sequential(\n        {body},\n        nn.AdaptiveAvgPool2d(1), "
            f"nn.Flatten())\n    {names[1]} = nn.Linear({width}, info.num_classes)\n"
            f"    return nn.Sequential({names[0]}, {names[1]})\n\n\n"
            f"def build_optimizer(model):\n    return {opt}\n\n\nEPOCHS = {rng.randint(3, 10)}\n"
            f"BATCH_SIZE = {rng.choice([64, 128, 256])}\n")


def renamed(source: str) -> str:
    for old, new in (("net", "features_x"), ("model", "mdl"), ("body", "b0"), ("trunk", "t0"),
                     ("stack", "s0"), ("backbone", "bb"), ("info", "ds_info")):
        source = source.replace(old, new)
    return source


def predictions(rng: np.random.Generator, labels: np.ndarray, hard: np.ndarray, accuracy: float):
    """A model of about `accuracy` whose mistakes lean on the shared hard images."""
    p_wrong = np.clip((1 - accuracy) * (0.4 + 1.2 * hard), 0, 1)
    wrong = rng.random(len(labels)) < p_wrong
    pred = labels.copy()
    pred[wrong] = (labels[wrong] + rng.integers(1, 10, wrong.sum())) % 10
    return pred


def make_class(root: Path, n: int, copies: int, items: int, seed: int = 0) -> list[tuple[str, str]]:
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    labels = nrng.integers(0, 10, items)
    hard = nrng.random(items)
    subs = root / "submissions"
    subs.mkdir(parents=True)
    grades, planted = {}, []
    students = [f"s{i:03d}" for i in range(n)]
    preds = {}
    for i, student in enumerate(students):
        if i >= n - copies:  # a renamed copy of an earlier student
            original = students[i - n + copies]
            (subs / f"{student}.py").write_text(renamed((subs / f"{original}.py").read_text()))
            pred = preds[original].copy()
            flip = nrng.choice(items, items // 100, replace=False)
            pred[flip] = nrng.integers(0, 10, len(flip))
            planted.append(tuple(sorted((original, student))))
            accuracy = float(np.mean(pred == labels))
        else:
            (subs / f"{student}.py").write_text(submission(rng))
            pred = predictions(nrng, labels, hard, nrng.uniform(0.6, 0.8))
            accuracy = float(np.mean(pred == labels))
        preds[student] = pred
        conf = np.zeros((10, 10), int)
        np.add.at(conf, (labels, pred), 1)
        r = results_for(student, accuracy=accuracy)
        r.score = float(rng.choice([40, 55, 70, 85, 100]))
        gain = (accuracy - 0.7) * 100
        m = r.metrics
        m.gain_pp, m.gain_interval_pp = gain, [gain - 1.9, gain + 1.9]
        m.parameters, m.classes = rng.randint(50_000, 900_000), CLASSES
        m.confusion = Pair(student=conf.tolist(), baseline=None)
        m.per_class = Pair(student=(conf.diagonal() / conf.sum(1)).tolist(), baseline=None)
        r.submission.origin, r.submission.customised_hooks = str(subs / f"{student}.py"), ["build_model"]
        grades[student] = r
        folder = root / "feedback" / student
        folder.mkdir(parents=True)
        with open(folder / "predictions.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["test_index", "label", "predicted", "confidence", "label_name", "predicted_name"])
            w.writerows((j, y, p, 0.9, CLASSES[y], CLASSES[p]) for j, (y, p) in enumerate(zip(labels, pred)))
    gradebook_of(root, grades)
    db = gradebook.connect(root / gradebook.FILE)  # (amend.main would render synthetic reports)
    gradebook.amend(db, gradebook.Amendment(students[1], "lab", "", 90.0, "regraded by hand",
                                            grades[students[1]].score, "2026-11-24T00:00:00"))
    db.close()
    return planted


def load_in_chromium(page: Path, screenshot: Path | None) -> tuple[float, float, int]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("no chromium: apt-get install chromium")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu"]
    started = time.perf_counter()
    subprocess.run(flags + ["--dump-dom", "about:blank"], capture_output=True, timeout=300)
    blank = time.perf_counter() - started  # the browser's own start and exit
    started = time.perf_counter()
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=300).stdout
    wall = time.perf_counter() - started
    if screenshot:
        subprocess.run(flags + ["--window-size=1280,1500", "--hide-scrollbars",
                                f"--screenshot={screenshot.resolve()}", page.as_uri() + "#sort=score&dir=desc"],
                       capture_output=True, timeout=300)
    rendered = int(dom.split('data-rendered-ms="')[1].split('"')[0])
    return wall, blank, rendered


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--test-items", type=int, default=10_000)
    ap.add_argument("--screenshot", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="desk-") as tmp:
        root = Path(tmp)
        planted = make_class(root, args.students, args.copies, args.test_items)
        started = time.perf_counter()
        (sim_csv,) = export.main(out=root, fmt="similarity")
        similarity_s = time.perf_counter() - started
        started = time.perf_counter()
        page = export.main(out=root, fmt="dashboard")[0]
        dashboard_s = time.perf_counter() - started
        flagged = {tuple(sorted((r["student_a"], r["student_b"]))): r["flagged_by"]
                   for r in csv.DictReader(sim_csv.open())}
        browser_s, blank_s, rendered_ms = load_in_chromium(page, args.screenshot)
        figures = {"students": args.students, "test_items": args.test_items,
                   "similarity_s": round(similarity_s, 2),
                   "dashboard_export_s": round(dashboard_s, 2),
                   "dashboard_bytes": page.stat().st_size,
                   "chromium_dump_dom_s": round(browser_s, 2),
                   "chromium_blank_page_s": round(blank_s, 2), "page_script_done_ms": rendered_ms,
                   "planted_copies": len(planted),
                   "planted_found_by": sorted({flagged.get(p, "missed") for p in planted}),
                   "other_pairs_flagged": dict(Counter(v for p, v in flagged.items()
                                                       if p not in planted)),
                   "pairs_compared": args.students * (args.students - 1) // 2}
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
