"""What grading on the re-rendered test set costs an honest model (issue #29, item 1).

The grader scores every submission on the public test split with each image moved by one
pixel, the offset drawn from the machine's secret key (grader/load/testset.py), so that a
table of the public images' labels is worth nothing. This measures what that costs a model
that memorised nothing: it grades the reference baseline with `grade --local` at the
rubric's budget, one grading per seed, then loads the weights each grading saved
(model.pt) and predicts all of the public test images, untouched and re-rendered with the
same key, and reports the paired difference (same model, same images, only the rendering
differs) with its standard error, per seed and over the seeds. It also checks that the
re-rendered accuracy it measures is the one the grading reported.

    python bench/testset_cost.py --rubric cifar10 --seeds 0 1 2 3 --data-dir ../shared/data --json

The grader's cache (GRADER_CACHE_DIR) holds the key: run it with the cache the gradings
use. Every figure is measured in the run.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from grader.load import testset
from grader.load.datasets import prepare_data
from grader.paths import cache_dir
from grader.rubric import load_rubric
from grader.training.batches import to_pil

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "reference" / "baseline.py"


def grade_seed(rubric_path: Path, seed: int, data_dir: str | None, work: Path) -> dict:
    """One grading of the reference baseline at `seed` (that seed only); its results and folder."""
    doc = yaml.safe_load(rubric_path.read_text())
    doc["seeds"] = [seed]
    doc.setdefault("scoring", {})["seeds"] = {"min": 1, "max": 1}
    rubric = work / f"seed{seed}.yaml"
    rubric.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = work / f"seed{seed}"
    cmd = [sys.executable, "-m", "grader.cli", "--local", str(BASELINE), "--rubric", str(rubric),
           "--out", str(out), "--json"] + (["--data-dir", data_dir] if data_dir else [])
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"grading seed {seed} failed ({done.returncode}): {done.stderr[-2000:]}")
    results = json.loads((out / "results.json").read_text())
    return {"results": results, "folder": out, "wall_s": time.monotonic() - started}


def baseline_model(info):
    spec = importlib.util.spec_from_file_location("baseline", BASELINE)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    return ref.build_model(info), ref.build_test_transform(info)


@torch.no_grad()
def predictions(model, transform, images: np.ndarray) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(images), 500):
        batch = torch.stack([transform(to_pil(im)) for im in images[start:start + 500]])
        out.append(model(batch).argmax(1).numpy())
    return np.concatenate(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rubric", default="cifar10")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--data-dir")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    rubric_path = Path(args.rubric) if args.rubric.endswith((".yaml", ".yml")) \
        else ROOT / "rubrics" / f"{args.rubric}.yaml"
    spec = load_rubric(str(rubric_path))
    data = prepare_data(spec.dataset, data_dir=Path(args.data_dir) if args.data_dir else None,
                        cache_dir=cache_dir())
    public_x, labels = np.asarray(data.load("test_x")), np.asarray(data.load("test_y"))
    rendered_x = testset.rerender(public_x, np.arange(len(public_x)), testset.key(cache_dir()))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            graded = grade_seed(rubric_path, seed, args.data_dir, Path(tmp))
            model, transform = baseline_model(data.info)
            model.load_state_dict(torch.load(graded["folder"] / "model.pt", weights_only=True))
            public = predictions(model, transform, public_x) == labels
            rendered = predictions(model, transform, rendered_x) == labels
            n = len(labels)
            only_public, only_rendered = int((public & ~rendered).sum()), int((rendered & ~public).sum())
            runs.append({
                "seed": seed, "wall_s": round(graded["wall_s"], 1),
                "graded_accuracy": graded["results"]["metrics"]["accuracy"],
                "rendered_accuracy": round(float(rendered.mean()), 4),
                "public_accuracy": round(float(public.mean()), 4),
                "cost_pp": round(100 * (public.mean() - rendered.mean()), 2),
                # McNemar: only the images the two renderings disagree on carry the difference
                "cost_se_pp": round(100 * math.sqrt(only_public + only_rendered) / n, 2),
                "changed_predictions": only_public + only_rendered,
                "grading_gap": graded["results"]["metrics"]["test_set"].get("memorisation"),
            })
            print(f"seed {seed}: public {runs[-1]['public_accuracy']:.4f}, re-rendered "
                  f"{runs[-1]['rendered_accuracy']:.4f} (graded {runs[-1]['graded_accuracy']:.4f}), "
                  f"cost {runs[-1]['cost_pp']:+.2f} pp", file=sys.stderr)
    costs = [r["cost_pp"] for r in runs]
    report = {"rubric": spec.name, "seeds": args.seeds, "test_images": int(len(labels)),
              "rendering": testset.RENDERING, "torch": torch.__version__,
              "mean_cost_pp": round(statistics.mean(costs), 2),
              "sd_cost_pp": round(statistics.stdev(costs), 2) if len(costs) > 1 else None,
              "graded_matches_measured": all(abs(r["graded_accuracy"] - r["rendered_accuracy"]) < 1e-4
                                             for r in runs),
              "runs": runs}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for r in runs:
            print(f"seed {r['seed']}: public {r['public_accuracy']:.2%}, re-rendered "
                  f"{r['rendered_accuracy']:.2%}, cost {r['cost_pp']:+.2f} ± {r['cost_se_pp']:.2f} pp")
        print(f"mean cost {report['mean_cost_pp']:+.2f} pp over {len(runs)} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
