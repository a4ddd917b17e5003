"""Grade one submission: load it, train it and the baseline in child processes under the
rubric's budget, score the gain, and return one results object (grader.results).

A student's mistake never raises out of here: it becomes a failed result with partial
credit. What does raise is the grader's environment: a missing data set (DataNotFound)
or a baseline that fails to train (GraderError).
"""
from __future__ import annotations

import json
import os
import platform
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from grader import __version__, baseline, paths
from grader.answers import collect_answers
from grader.artifacts import save_run
from grader.checks import evaluate_checks
from grader.data import CachedData, prepare_data, split_validation
from grader.failures import SubmissionError, failure_dict
from grader.isolation import Limits
from grader.results import build_results, confusion
from grader.rubric import Rubric
from grader.sandbox import run_job
from grader.scoring import rubric_items
from grader.submission import load_submission, source_digest

OnEvent = Callable[[str, dict], None]


class GraderError(Exception):
    """The grader itself could not produce a grade (not the student's fault)."""


@dataclass
class Inputs:
    """What every run of one grading gets: the same images, split and test order."""
    train_x: Path
    train_y: Path
    test_x: Path           # permuted by a per-grading secret; the child never sees labels
    test_y: np.ndarray     # labels in that order: parent only
    train_idx: Path
    val_idx: Path
    sizes: dict
    order: np.ndarray      # the original test index of each permuted test image: parent only


def grade_submission(*, submission: Path, rubric: Rubric, data_dir: Path | None = None,
                     quick: bool = False, device: str = "auto", cache_dir: Path | None = None,
                     use_cache: bool = True, mode: str = "local",
                     cpus: tuple[int, ...] | None = None, gpu_share: float = 1.0,
                     artifacts: Path | None = None,
                     on_event: OnEvent = lambda who, e: None) -> dict:
    """`cpus`: the cores the runs may use, and `gpu_share` the part of the GPU's memory
    (a batch worker's share; default all of them). `artifacts`: a folder for the trained
    weights, their source, the test predictions and the gallery (grader.artifacts)."""
    cache_dir = Path(cache_dir or paths.cache_dir())
    context = _context(rubric, data_dir, quick, device, cache_dir, mode, cpus, gpu_share, on_event)
    data = context["data"]
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        tmp = Path(tmp)
        try:
            sub = load_submission(submission, tmp / "submission")
        except SubmissionError as e:
            return build_results(**context, submission=None, origin=submission,
                                 runs=[], baseline_runs=[], failure=e.to_dict(),
                                 items=rubric_items(rubric, evaluate_checks(
                                     rubric, {"failure": e.to_dict()}, data.info.num_classes),
                                     None, None, data.info.num_classes,
                                     collect_answers(None, rubric.manual)))
        answers = collect_answers(sub, rubric.manual)  # before training: read, never run
        inputs = _prepare_inputs(data, rubric, quick, tmp)
        # A cached or pinned baseline is known before the student trains, and its time per
        # epoch bounds the student's (budget.time_factor); one that must be trained waits
        # until the student's run has succeeded, so a broken submission fails fast.
        keys = {seed: _baseline_key(seed, context) for seed in rubric.seeds}
        known = {seed: _known_baseline(seed, keys[seed], rubric, cache_dir, use_cache, on_event)
                 for seed in rubric.seeds}
        limit = _time_limit(rubric, [b for b in known.values() if b], quick)
        runs = []
        for seed in rubric.seeds:
            run = _train_one("student", sub.source, seed, inputs, tmp, context, on_event, limit,
                             keep=artifacts is not None and seed == rubric.seeds[0])
            runs.append(run)
            if run["failure"]:
                break
        failure = next((r["failure"] for r in runs if r["failure"]), None)
        baseline_runs = [b for b in known.values() if b] if failure else [
            known[seed] or _train_baseline(seed, keys[seed], inputs, tmp, context, cache_dir,
                                           use_cache, on_event)
            for seed in rubric.seeds]
        kept = runs[0].pop("_kept", None)
        if kept and not failure:
            context["artifacts"] = save_run(
                artifacts, submission=sub, rubric=rubric, info=data.info, weights=kept["weights"],
                probs=kept["probs"], test_x=np.load(inputs.test_x), test_y=inputs.test_y,
                order=inputs.order, seed=runs[0]["seed"], accuracy=runs[0]["accuracy"],
                training=asdict(rubric.training))
    accuracy = None if failure else float(np.mean([r["accuracy"] for r in runs]))
    base_acc = (float(np.mean([r["accuracy"] for r in baseline_runs]))
                if baseline_runs else None)
    checks = evaluate_checks(rubric, runs[0], data.info.num_classes)
    items = rubric_items(rubric, checks, accuracy, base_acc, data.info.num_classes, answers)
    context["isolation"] = runs[0].get("isolation")
    return build_results(**context, submission=sub, origin=submission, runs=runs,
                         baseline_runs=baseline_runs, failure=failure, items=items)


def ensure_baselines(*, rubric: Rubric, data_dir: Path | None = None, quick: bool = False,
                     device: str = "auto", cache_dir: Path | None = None,
                     cpus: tuple[int, ...] | None = None,
                     on_event: OnEvent = lambda who, e: None) -> list[dict]:
    """The baseline for every seed, trained once into the cache (or found there, or
    pinned), before a batch starts, so its workers find it instead of each training it."""
    cache_dir = Path(cache_dir or paths.cache_dir())
    context = _context(rubric, data_dir, quick, device, cache_dir, "batch", cpus, 1.0, on_event)
    out = []
    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        inputs = _prepare_inputs(context["data"], rubric, quick, Path(tmp))
        for seed in rubric.seeds:
            key = _baseline_key(seed, context)
            out.append(_known_baseline(seed, key, rubric, cache_dir, True, on_event)
                       or _train_baseline(seed, key, inputs, Path(tmp), context, cache_dir, True,
                                          on_event))
    return out


def _context(rubric, data_dir, quick, device, cache_dir, mode, cpus, gpu_share, on_event) -> dict:
    started = time.time()
    device = resolve_device(device)
    on_event("grader", {"event": "phase", "phase": "data"})
    data = prepare_data(rubric.dataset, data_dir=data_dir, cache_dir=cache_dir)
    return dict(rubric=rubric, data=data, device=device, quick=quick, mode=mode,
                started=started, versions=library_versions(), cpus=cpus, gpu_share=gpu_share)


def resolve_device(device: str) -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GraderError("--device cuda was asked for, but torch sees no CUDA device")
    return device


def library_versions() -> dict:
    import torch
    import torchvision
    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__,
            "grader": __version__, "platform": platform.platform()}


def _prepare_inputs(data: CachedData, rubric: Rubric, quick: bool, tmp: Path) -> Inputs:
    train_y = data.load("train_y")
    pool = np.arange(len(train_y))
    test_pool = np.arange(len(data.load("test_y")))
    if quick:  # a fixed subset, so a cached quick baseline stays comparable
        pool = np.sort(np.random.default_rng(0).permutation(pool)[:rubric.quick.train_subset])
        test_pool = np.sort(np.random.default_rng(1).permutation(test_pool)[:rubric.quick.test_subset])
    tr, va = split_validation(len(pool), rubric.dataset.validation_fraction)
    order = np.random.default_rng(secrets.randbits(64)).permutation(test_pool)
    np.save(tmp / "test_x.npy", np.ascontiguousarray(data.load("test_x")[order]))
    np.save(tmp / "train_idx.npy", pool[tr])
    np.save(tmp / "val_idx.npy", pool[va])
    return Inputs(train_x=data.path("train_x"), train_y=data.path("train_y"),
                  test_x=tmp / "test_x.npy", test_y=np.asarray(data.load("test_y")[order]),
                  train_idx=tmp / "train_idx.npy", val_idx=tmp / "val_idx.npy",
                  sizes={"train": len(tr), "validation": len(va), "test": len(order)},
                  order=order)


def _time_limit(rubric: Rubric, baseline_runs: list[dict], quick: bool) -> float:
    """The rubric's absolute limit, tightened by time_factor x the baseline's time per
    epoch (measured on this machine) for the most epochs a submission may train."""
    limit = rubric.budget.time_limit_s
    per_epoch = [b["training"]["train_seconds"] / b["training"]["epochs_run"]
                 for b in baseline_runs if b.get("training")]
    if rubric.budget.time_factor and per_epoch:
        epochs = rubric.quick.epochs if quick else rubric.budget.max_epochs
        limit = min(limit, 60 + rubric.budget.time_factor * max(per_epoch) * epochs)
    return limit


def _train_one(who: str, source: Path, seed: int, inputs: Inputs, tmp: Path, context: dict,
               on_event: OnEvent, time_limit: float | None = None, keep: bool = False) -> dict:
    """One training run in a child process; the parent computes the test accuracy."""
    rubric, info, device = context["rubric"], context["data"].info, context["device"]
    job = tmp / "runs" / f"{who}-seed{seed}"
    job.mkdir(parents=True)
    given = {"train_x": inputs.train_x, "train_y": inputs.train_y, "test_x": inputs.test_x,
             "train_idx": inputs.train_idx, "val_idx": inputs.val_idx}
    seen = {name: job / "inputs" / f"{name}.npy" for name in given}  # where the child finds them
    reference = paths.ROOT / rubric.baseline.submission
    limits = Limits(time_s=time_limit or rubric.budget.time_limit_s,
                    memory_mb=None if device.startswith("cuda") else rubric.budget.memory_mb,
                    threads=len(context["cpus"] or ()) or max(1, os.cpu_count() or 1),
                    cpus=context["cpus"])
    request = {
        "submission": str(source), "reference": str(reference),
        "info": asdict(info), "seed": seed, "device": device, "threads": limits.threads,
        "budget": {**asdict(rubric.budget), "gpu_memory_fraction":
                   rubric.budget.gpu_memory_fraction * context["gpu_share"]},
        "training": asdict(rubric.training),
        "epochs_override": rubric.quick.epochs if context["quick"] else None,
        "modules": sorted({c.module for c in rubric.checks if c.module}),
        "model_hook": rubric.model_hook if who == "student" else "build_model",
        "keep_weights": keep,
        "arrays": {name: str(seen[name]) for name in ("train_x", "train_y", "test_x")},
        "train_idx": str(seen["train_idx"]), "val_idx": str(seen["val_idx"]),
    }
    (job / "request.json").write_text(json.dumps(request))
    on_event(who, {"event": "run_start", "seed": seed})
    outcome = run_job(job, limits=limits, inputs={given[n]: seen[n] for n in given},
                      show=[source, reference], device=device,
                      on_event=lambda e: on_event(who, e))
    run = outcome.result
    run.setdefault("failure", None)
    run.update(seed=seed, wall_s=outcome.wall_s, startup_s=outcome.startup_s,
               log_tail=outcome.log_tail, accuracy=None, isolation=outcome.isolation)
    logits = run.pop("test_logits", None)
    weights = run.pop("model_state", None)
    if run["failure"] is None:
        n, k = len(inputs.test_y), info.num_classes
        if logits is None or tuple(logits.shape) != (n, k):
            got = list(logits.shape) if logits is not None else None
            run["failure"] = failure_dict("output_shape", "the test-set predictions have the "
                                          "wrong shape", expected=[n, k], got=got)
        else:
            predicted = logits.argmax(1).numpy()
            run["accuracy"] = float((predicted == inputs.test_y).mean())
            run["confusion"] = confusion(inputs.test_y, predicted, k)
            if keep:
                run["_kept"] = {"weights": weights, "probs": logits.softmax(1).numpy()}
    on_event(who, {"event": "run_end", "accuracy": run["accuracy"], "failure": run["failure"]})
    return run


def _baseline_key(seed: int, context: dict) -> str:
    rubric = context["rubric"]
    return baseline.baseline_key(
        rubric=rubric, seed=seed, quick=context["quick"], data_digest=context["data"].digest,
        device_type=context["device"].split(":")[0],
        reference_digest=source_digest(paths.ROOT / rubric.baseline.submission),
        versions=context["versions"])


def _known_baseline(seed, key, rubric, cache_dir, use_cache, on_event) -> dict | None:
    if rubric.baseline.pinned_accuracy is not None:
        return {"seed": seed, "accuracy": rubric.baseline.pinned_accuracy, "source": "pinned"}
    cached = baseline.load_cached(cache_dir, key) if use_cache else None
    if cached:
        on_event("baseline", {"event": "cached", "accuracy": cached["accuracy"]})
        return {**cached, "source": "cache"}
    return None


def _train_baseline(seed, key, inputs, tmp, context, cache_dir, use_cache, on_event) -> dict:
    rubric = context["rubric"]
    reference = paths.ROOT / rubric.baseline.submission
    run = _train_one("baseline", reference, seed, inputs, tmp, context, on_event)
    if run["failure"]:
        raise GraderError(f"the baseline ({rubric.baseline.submission}) failed to train: "
                          f"{run['failure']['message']}")
    record = {"seed": seed, "accuracy": run["accuracy"], "training": run.get("training"),
              "confusion": run.get("confusion"),
              "inspection": {"parameters": run["inspection"]["parameters"]},
              "effective": run.get("effective"), "wall_s": run["wall_s"],
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "key": key}
    if use_cache:
        baseline.store(cache_dir, key, record)
    return {**record, "source": "trained"}
