"""Benchmark: the lab notebook's training pipeline against the grader, same machine, same
data, same epochs, on the reference baseline.

    python bench/notebook_vs_grader.py --dataset fashion_mnist --epochs 5 --data-dir ../shared/data

The notebook side is a faithful rewrite of the lab's loop: a Dataset that turns each
uint8 image into a PIL image and applies the baseline's torchvision transforms (as
torchvision's CIFAR10 and FashionMNIST classes do), a DataLoader with num_workers=0 and
batch 128, TinyCNN, Adam 3e-3, cross-entropy, then the test set once. The grader side is
`grade_submission` on reference/baseline.py with the budget set to the same epochs, the
baseline cache off; its figures are the student run's (child process start, training,
validation each epoch and the test set included). Not a test: it prints a table, and
--json writes the numbers.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from grader.data import prepare_data
from grader.grade import grade_submission, library_versions
from grader.paths import REFERENCE_DIR, RUBRICS_DIR, cache_dir
from grader.rubric import load_rubric
from grader.train import to_pil


class ArrayDataset(Dataset):
    def __init__(self, x, y, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(to_pil(self.x[i])), int(self.y[i])


def notebook(data, epochs: int, seed: int) -> dict:
    spec = importlib.util.spec_from_file_location("baseline", REFERENCE_DIR / "baseline.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    torch.manual_seed(seed)
    info = data.info
    train = ArrayDataset(data.load("train_x"), data.load("train_y"), ref.build_train_transform(info))
    test = ArrayDataset(data.load("test_x"), data.load("test_y"), ref.build_test_transform(info))
    model, started = ref.build_model(info), time.perf_counter()
    opt, loss_fn = ref.build_optimizer(model), ref.build_loss()
    for _ in range(epochs):
        model.train()
        for x, y in DataLoader(train, batch_size=128, shuffle=True, num_workers=0):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in DataLoader(test, batch_size=1000, num_workers=0):
            correct += (model(x).argmax(1) == y).sum().item()
    wall = time.perf_counter() - started
    return {"wall_s": wall, "accuracy": correct / len(test), "images": epochs * len(train)}


def grader(rubric_name: str, data_dir, epochs: int, tmp: Path) -> dict:
    text = (RUBRICS_DIR / f"{rubric_name}.yaml").read_text()
    text = re.sub(r"max_epochs: \d+", f"max_epochs: {epochs}", text)
    text = re.sub(r"time_factor: \d+", "time_factor: 100", text)
    (tmp / "bench.yaml").write_text(text)
    r = grade_submission(submission=REFERENCE_DIR / "baseline.py", rubric=load_rubric(str(tmp / "bench.yaml")),
                         data_dir=data_dir, use_cache=False)
    run = r["metrics"]["per_seed"][0]
    return {"wall_s": run["wall_s"], "train_s": run["train_seconds"], "accuracy": run["accuracy"],
            "epochs": r["metrics"]["epochs_run"],
            "device": r["metrics"]["device"], "pipeline": r["metrics"]["pipeline"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "cifar10"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    rubric = load_rubric(args.dataset)
    data = prepare_data(rubric.dataset, data_dir=args.data_dir, cache_dir=cache_dir())
    nb = notebook(data, args.epochs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        gr = grader(args.dataset, args.data_dir, args.epochs, Path(tmp))
    n_train = int(len(data.load("train_y")) * (1 - rubric.dataset.validation_fraction))
    gr["images"] = args.epochs * n_train
    rows = [("notebook pipeline", nb), ("grader", gr)]
    print(f"{args.dataset}, {args.epochs} epoch(s), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'':<18}{'wall s':>9}{'images/s':>10}{'test acc':>10}")
    for name, m in rows:
        print(f"{name:<18}{m['wall_s']:>9.1f}{m['images'] / m['wall_s']:>10.0f}{m['accuracy']:>10.4f}")
    print(f"grader augmentation path: {gr['pipeline']}")
    print(f"grader / notebook wall time: {gr['wall_s'] / nb['wall_s']:.2f}x "
          f"(the grader also validates every epoch and trains on 90% of the images)")
    if args.json:
        args.json.write_text(json.dumps({"dataset": args.dataset, "epochs": args.epochs,
                                         "notebook": nb, "grader": gr,
                                         "versions": library_versions()}, indent=2))


if __name__ == "__main__":
    main()
