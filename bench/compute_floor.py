"""Benchmark: the grader's reference run against its compute floor, and where the rest goes.

    python bench/compute_floor.py --data-dir ../shared/data             # both data sets, full budget
    python bench/compute_floor.py --dataset cifar10 --epochs 1 --data-dir ../shared/data

"The reference run" is the grader's run of the reference baseline under the rubric's
budget: the baseline's EPOCHS (5) capped by the rubric's max_epochs, its batch of 128, the
rubric's validation split. The floor is a loop of only forward, backward and optimizer
step: the reference baseline's model, optimizer and loss, its batch size and the run's
number of steps, on images already on the device (converted once by the test transform on
the grader's own batch path, so in its memory layout; no augmentation), in a fresh Python
with the child's thread count, allocator and thread-wait settings (launch.ALLOCATOR_ENV, WAIT_ENV;
without the first every step faults its tensors in again, which the child no longer does). The
grader side is `grade_submission` on reference/baseline.py with the baseline pinned, so
one run trains.

This VM's speed wanders (by up to a third, more while other jobs run), so the run and the
floor alternate (--repeats pairs) and each side's fastest is compared; the per-pair ratios
are printed too. The run's wall time is split into the child's start-up, the training
steps proper, making the training batches (indexing and augmentation), validation each
epoch, predicting the test set, and the rest (importing the hooks, inspecting the model,
loading the arrays, handing the result back). The ratio is given with start-up and
without it (the fork server of #18 brings start-up to about 0.1 s). Not a test: it prints
a table, --json writes the numbers. Run it with nothing else on the machine.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from grader.grading import library_versions
from grader.load.datasets import prepare_data
from grader.paths import REFERENCE_DIR, cache_dir
from grader.rubric import load_rubric
from grader.sandbox.launch import ALLOCATOR_ENV, WAIT_ENV

from notebook_vs_grader import grader  # the grader's own run, baseline pinned

DATASETS = ("cifar10", "fashion_mnist")


def reference():
    spec = importlib.util.spec_from_file_location("baseline", REFERENCE_DIR / "baseline.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    return ref


def floor(data, epochs: int, batch_size: int, n_train: int, seed: int = 0) -> float:
    """Seconds for the run's number of bare training steps."""
    ref = reference()
    torch.manual_seed(seed)
    info = data.info
    x8, y = data.load("train_x"), torch.tensor(data.load("train_y")).long()
    from grader.training.batches import Batches, Images
    pool = min(len(y), 4096)  # enough distinct images; the loop cycles over them
    # made as the grader makes its batches, so with their memory layout (which decides
    # the convolutions' memory format, hence their speed)
    to_tensor = Batches(ref.build_test_transform(info), "test", seed, "cpu")
    x = next(to_tensor(Images(x8[:pool], "cpu"), torch.arange(pool), pool))
    y = y[:pool]
    model = ref.build_model(info)
    opt, loss_fn = ref.build_optimizer(model), ref.build_loss()
    steps = epochs * math.ceil(n_train / batch_size)
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        lo = (step * batch_size) % (pool - batch_size)
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[lo:lo + batch_size]), y[lo:lo + batch_size]).backward()
        opt.step()
    return time.perf_counter() - started


def floor_in_child(name: str, data_dir, epochs: int, batch_size: int, n_train: int) -> float:
    """`floor` in a fresh Python set up as the grader's child is: its threads, its allocator."""
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()), **ALLOCATOR_ENV,
               **WAIT_ENV)
    args = ["--floor-only", "--dataset", name, "--epochs", str(epochs), "--batch-size",
            str(batch_size), "--n-train", str(n_train)] + (["--data-dir", str(data_dir)] if data_dir else [])
    out = subprocess.run([sys.executable, __file__, *args], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def split(run: dict) -> dict:
    """The run's wall time in parts that add up to it."""
    data_s = run.get("data_seconds") or 0.0
    val_s = run["validation_seconds"] or 0.0
    parts = {"start-up": run["startup_s"] or 0.0,
             "training steps (forward, backward, step)": (run["train_seconds"] or 0.0) - val_s - data_s,
             "making batches (indexing, augmentation)": data_s,
             "validation, each epoch": val_s,
             "test-set prediction": run["predict_s"] or 0.0}
    parts["the rest (hooks, inspection, arrays, result)"] = run["wall_s"] - sum(parts.values())
    return parts


def measure(name: str, data_dir, epochs: int | None, repeats: int) -> dict:
    rubric = load_rubric(name)
    ref = reference()
    epochs = epochs or min(ref.EPOCHS, rubric.budget.max_epochs)  # the reference run's budget
    batch = min(ref.BATCH_SIZE, rubric.budget.max_batch_size)
    data = prepare_data(rubric.dataset, data_dir=data_dir, cache_dir=cache_dir())
    n_train = int(len(data.load("train_y")) * (1 - rubric.dataset.validation_fraction))
    runs, floors, load = [], [], [os.getloadavg()[0]]
    for _ in range(repeats):  # alternate, so a slow spell of the VM hits both sides
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(grader(name, data_dir, epochs, [0], Path(tmp))[0])
        floors.append(floor_in_child(name, data_dir, epochs, batch, n_train))
        load.append(os.getloadavg()[0])
    run = min(runs, key=lambda r: r["wall_s"])
    low = min(floors)
    from grader.sandbox import forkserver  # where the runs were forked: its one-off import
    server = getattr(forkserver._LOCAL, "server", None)
    parts = split(run)
    without = run["wall_s"] - parts["start-up"]
    return {"dataset": name, "epochs": epochs, "batch_size": batch,
            "steps": epochs * math.ceil(n_train / batch), "floor_s": low,
            "floors_s": [round(f, 2) for f in floors], "runs_s": [round(r["wall_s"], 2) for r in runs],
            "pair_ratios": [round(r["wall_s"] / f, 2) for r, f in zip(runs, floors)],
            "run": run, "parts": parts, "ratio": run["wall_s"] / low, "ratio_without_startup": without / low,
            "steps_ratio": parts["training steps (forward, backward, step)"] / low,
            "accuracy": run["accuracy"], "accuracies": sorted({r["accuracy"] for r in runs}),
            "load_average": [round(v, 1) for v in load],
            "fork_server_import_s": server.import_s if server is not None else None,
            "child": run.get("child")}


def show(m: dict) -> None:
    run, parts = m["run"], m["parts"]
    print(f"\n{m['dataset']}: the reference run, {m['epochs']} epoch(s), {m['steps']} steps of "
          f"{m['batch_size']}, test accuracy {m['accuracy']:.4f}"
          + ("" if len(m["accuracies"]) == 1 else f" (repeats differ: {m['accuracies']})"))
    print(f"  compute floor (forward, backward, step on device-resident data): {m['floor_s']:.1f} s "
          f"(fastest of {m['floors_s']})")
    print(f"  grader's run: {run['wall_s']:.1f} s wall (fastest of {m['runs_s']}; pairs "
          f"{m['pair_ratios']}x)")
    print(f"  ratio to the floor: {m['ratio']:.2f}x with start-up, "
          f"{m['ratio_without_startup']:.2f}x without start-up (target 1.25x)")
    for name, seconds in parts.items():
        print(f"    {name:<46}{seconds:>8.1f} s  {seconds / run['wall_s']:>6.1%}  "
              f"{seconds / m['floor_s']:>5.2f}x floor")
    if m["fork_server_import_s"] is not None:
        print(f"  start-up is a fork of the fork server, whose one-off import took "
              f"{m['fork_server_import_s']:.1f} s before the first run (not in the run's time)")
    print(f"  1-minute load average before and after each pair {m['load_average']} "
          f"(above {os.cpu_count()}: something else was running)")
    rest = {k: run.get(k) for k in ("import_s", "inspect_s") if run.get(k) is not None}
    if rest:
        print("      of the rest: " + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in rest.items()))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=[*DATASETS, "both"], default="both")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: the reference run's budget (the baseline's EPOCHS under the rubric's cap)")
    p.add_argument("--repeats", type=int, default=2, help="run/floor pairs; each side's fastest counts")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--floor-only", action="store_true", help=argparse.SUPPRESS)  # floor_in_child
    p.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--n-train", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.floor_only:
        data = prepare_data(load_rubric(args.dataset).dataset, data_dir=args.data_dir,
                            cache_dir=cache_dir())
        print(floor(data, args.epochs, args.batch_size, args.n_train))
        return
    names = DATASETS if args.dataset == "both" else (args.dataset,)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.machine()} {platform.processor() or ''}".rstrip())
    results = [measure(n, args.data_dir, args.epochs, args.repeats) for n in names]
    for m in results:
        show(m)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "versions": library_versions()}, indent=2))


if __name__ == "__main__":
    main()
