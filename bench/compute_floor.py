"""Benchmark: the grader's reference run against its compute floor, and where the rest goes.

    python bench/compute_floor.py --dataset cifar10 --epochs 1 --data-dir ../shared/data

The floor is a loop of only forward, backward and optimizer step: the reference baseline's
model, optimizer and loss, its batch size and the grader's number of steps, on images
already on the device (converted once by the test transform, no augmentation). The grader
side is `grade_submission` on reference/baseline.py with the baseline pinned, so one run
trains: its wall time split into the child's start-up, the training steps (augmentation
included), validation each epoch, predicting the test set, and the rest (inspection,
loading the arrays, handing the result back). Not a test: it prints a table, --json writes
the numbers. Run it with nothing else on the machine.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from grader.grading import library_versions
from grader.load.datasets import prepare_data
from grader.paths import REFERENCE_DIR, cache_dir
from grader.rubric import load_rubric

from notebook_vs_grader import grader  # the grader's own run, baseline pinned


def floor(data, epochs: int, batch_size: int, n_train: int, seed: int = 0,
          repeats: int = 3) -> dict:
    spec = importlib.util.spec_from_file_location("baseline", REFERENCE_DIR / "baseline.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    torch.manual_seed(seed)
    info = data.info
    to_tensor = ref.build_test_transform(info)
    x8, y = data.load("train_x"), torch.tensor(data.load("train_y")).long()
    from grader.training.loop import to_pil
    pool = min(len(y), 4096)  # enough distinct images; the loop cycles over them
    x = torch.stack([to_tensor(to_pil(x8[i])) for i in range(pool)])
    y = y[:pool]
    model = ref.build_model(info)
    opt, loss_fn = ref.build_optimizer(model), ref.build_loss()
    steps = epochs * math.ceil(n_train / batch_size)
    model.train()
    times = []
    for _ in range(repeats):  # this VM's speed wanders: the floor is the fastest of a few
        started = time.perf_counter()
        for step in range(steps):
            lo = (step * batch_size) % (pool - batch_size)
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[lo:lo + batch_size]), y[lo:lo + batch_size]).backward()
            opt.step()
        times.append(time.perf_counter() - started)
    return {"steps": steps, "seconds": min(times), "repeats": [round(t, 2) for t in times]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="cifar10", choices=["fashion_mnist", "cifar10"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    rubric = load_rubric(args.dataset)
    data = prepare_data(rubric.dataset, data_dir=args.data_dir, cache_dir=cache_dir())
    n_train = int(len(data.load("train_y")) * (1 - rubric.dataset.validation_fraction))
    with tempfile.TemporaryDirectory() as tmp:
        run = grader(args.dataset, args.data_dir, args.epochs, [0], Path(tmp))[0]
    low = floor(data, args.epochs, 128, n_train)
    parts = {"start-up": run["startup_s"] or 0.0,
             "training steps (augmentation included)":
                 (run["train_seconds"] or 0.0) - (run["validation_seconds"] or 0.0),
             "validation, each epoch": run["validation_seconds"] or 0.0,
             "test-set prediction": run["predict_s"] or 0.0}
    parts["the rest (inspection, arrays, result)"] = run["wall_s"] - sum(parts.values())
    print(f"{args.dataset}, {args.epochs} epoch(s), {low['steps']} steps of 128, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, device {run['device']}")
    print(f"compute floor (forward, backward, step on device-resident data): {low['seconds']:.1f} s "
          f"(fastest of {low['repeats']})")
    print(f"grader's reference run: {run['wall_s']:.1f} s wall, "
          f"{run['wall_s'] / low['seconds']:.2f}x the floor "
          f"({(run['wall_s'] - parts['start-up']) / low['seconds']:.2f}x without start-up); "
          f"test accuracy {run['accuracy']:.4f}")
    for name, seconds in parts.items():
        print(f"  {name:<42}{seconds:>8.1f} s  {seconds / run['wall_s']:>5.1%}")
    if args.json:
        args.json.write_text(json.dumps({"dataset": args.dataset, "epochs": args.epochs,
                                         "floor": low, "grader": run, "parts": parts,
                                         "versions": library_versions()}, indent=2))


if __name__ == "__main__":
    main()
