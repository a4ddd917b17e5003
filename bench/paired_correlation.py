"""How much a student's run and the baseline's at one seed move together (issue #27, item 3).

A paired estimator (gain = mean over seeds of student(seed) − baseline(seed)) is tighter than
comparing with the calibrated mean only where the two runs at one seed correlate. This trains
the lab's typical one-line changes of reference/baseline.py over the same seeds as the
baseline, through `grade calibrate` (each variant stands in as the rubric's baseline, so it
gets exactly the baseline's seeds, data order and budget), and prints per variant:
Pearson's r of the per-seed accuracies, the spread of the paired differences and of the
unpaired ones, and what pairing would save in seeds.

    python bench/paired_correlation.py --rubric cifar10 --quick --seeds 10 --data-dir ../shared/data --json
    python bench/paired_correlation.py --rubric cifar10 --seeds 6 --workers 2 \
        --variants label_smoothing lr_1pct extra_random_draw --data-dir ../shared/data --json

Every figure is measured in the run; nothing is simulated.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "reference" / "baseline.py"

# name -> (line of reference/baseline.py, its replacement): each is one of the lab's
# suggestions, or a placebo that changes only the random stream.
VARIANTS = {
    "label_smoothing": ("    return nn.CrossEntropyLoss()",
                        "    return nn.CrossEntropyLoss(label_smoothing=0.1)"),
    "adamw": ("    return torch.optim.Adam(model.parameters(), lr=3e-3)",
              "    return torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)"),
    "lr_1pct": ("    return torch.optim.Adam(model.parameters(), lr=3e-3)",
                "    return torch.optim.Adam(model.parameters(), lr=3.03e-3)"),
    "cosine": ("    return None\n\n\nSCHEDULER_STEP",
               "    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)\n\n\nSCHEDULER_STEP"),
    "batchnorm": ("            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),",
                  "            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),"),
    "dropout": ("            nn.Linear(64 * s_h * s_w, 128), nn.ReLU(),\n",
                "            nn.Linear(64 * s_h * s_w, 128), nn.ReLU(), nn.Dropout(0.25),\n"),
    "extra_random_draw": ("def build_model(info):\n",
                          "def build_model(info):\n    torch.rand(1)  # a placebo: the stream moves on\n"),
}


def variant_source(name: str) -> str:
    old, new = VARIANTS[name]
    text = BASELINE.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{name}: the line to change is not in reference/baseline.py once: {old!r}")
    return text.replace(old, new)


def calibrate(rubric_file: Path, args) -> dict:
    cmd = [sys.executable, "-m", "grader.cli", "calibrate", "--rubric", str(rubric_file),
           "--seeds", str(args.seeds), "--json"]
    if args.quick:
        cmd.append("--quick")
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    if args.workers > 1:
        # the cache key holds the threads per run: the calibration's own --workers finds its runs
        cmd += ["--workers", str(args.workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pearson(a: list[float], b: list[float]) -> float:
    return statistics.correlation(a, b) if len(a) > 2 else float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rubric", default="cifar10")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--workers", type=int, default=1,
                   help="seeds trained at once (as grade calibrate --workers)")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rubric_path = Path(args.rubric) if args.rubric.endswith((".yaml", ".yml")) else ROOT / "rubrics" / f"{args.rubric}.yaml"
    base_doc = yaml.safe_load(rubric_path.read_text())
    runs = {"baseline": calibrate(rubric_path, args)}
    with tempfile.TemporaryDirectory(prefix="paired-") as tmp:
        for name in args.variants:
            hooks = Path(tmp) / f"{name}.py"
            hooks.write_text(variant_source(name))
            doc = json.loads(json.dumps(base_doc))
            doc["name"] = f"{base_doc['name']}-{name}"
            doc["baseline"]["submission"] = str(hooks)  # absolute: ROOT / abs is abs
            doc["baseline"].pop("pinned", None)
            rubric_file = Path(tmp) / f"{name}.yaml"
            rubric_file.write_text(yaml.safe_dump(doc, sort_keys=False))
            runs[name] = calibrate(rubric_file, args)
            print(f"{name}: {runs[name]['accuracies']}", file=sys.stderr)
    base = runs["baseline"]["accuracies"]
    report = {"rubric": base_doc["name"], "quick": args.quick, "seeds": runs["baseline"]["seeds"],
              "baseline": base, "variants": {}}
    for name in args.variants:
        acc = runs[name]["accuracies"]
        # diverged runs of either side are kept: the question is how the raw runs move together
        diffs = [100 * (s - b) for s, b in zip(acc, base)]
        unpaired = 100 * (statistics.variance(acc) + statistics.variance(base)) ** 0.5
        paired = statistics.stdev(diffs)
        report["variants"][name] = {
            "accuracies": acc, "mean_gain_pp": round(statistics.fmean(diffs), 2),
            "pearson_r": round(pearson(acc, base), 3),
            "sd_paired_diff_pp": round(paired, 2), "sd_unpaired_diff_pp": round(unpaired, 2),
            # seeds a paired comparison needs for the unpaired one's precision: (paired/unpaired)^2
            "seed_ratio": round((paired / unpaired) ** 2, 2) if unpaired else None,
        }
    if args.json:
        print(json.dumps(report))
    else:
        for name, v in report["variants"].items():
            print(f"{name:18} gain {v['mean_gain_pp']:+6.2f} pp  r = {v['pearson_r']:+.2f}  "
                  f"sd paired {v['sd_paired_diff_pp']:.2f} pp vs unpaired {v['sd_unpaired_diff_pp']:.2f} pp")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
