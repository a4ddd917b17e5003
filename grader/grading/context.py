"""What every run of one grading shares: the context (rubric, data, device, mode, what
the results record), the inputs (the split and the test images in a secret order), and
the device and library versions."""
from __future__ import annotations

import platform
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from grader import __version__, paths
from grader.load import testset
from grader.load.datasets import CachedData, prepare_data, split_validation
from grader.rubric import Rubric
from grader.sandbox.confine import Plan, cpu_count, plan as confinement
from grader.scoring.noise import Distribution
from grader.scoring.timelimit import TimeLimit


OnEvent = Callable[[str, dict], None]
# Test images the training child predicts as its account of the model it trained, held
# against the fresh child's predictions of the same images (grader.grading.runs.verify). The fresh
# child predicts the whole test set, which is what is scored; the training child
# predicting only this sample keeps the re-measurement's added time to its start-up.
# The sample is the head of a test order drawn per grading in secret: a random sample.
ACCOUNT = 500


class GraderError(Exception):
    """The grader itself could not produce a grade (not the student's fault)."""


@dataclass
class GradingContext:
    """Where and how one grading runs: what every run of it shares, and what its results
    record (grader.report.results.build_results reads it)."""
    rubric: Rubric
    data: CachedData
    device: str
    quick: bool
    mode: str                            # local, ci, official (batch, Gradescope)
    started: float                       # time.time() when the grading began
    versions: dict
    cache_dir: Path
    use_cache: bool = True
    cpus: tuple[int, ...] | None = None  # a batch worker's cores; None: all of them
    gpu_share: float = 1.0               # of the GPU's memory, when workers share one GPU
    on_event: OnEvent = lambda who, e: None
    isolation: dict | None = None        # the confinement the submission's run had
    artifacts: list[str] | None = None   # what was saved beside the reports
    distribution: Distribution | None = None  # the baseline's accuracy over seeds, if known
    distribution_rule: str | None = None  # which one the rubric and mode say (distribution_rule)
    plan: Plan | None = None             # the confinement every run of this grading gets
    allow_unconfined: bool = False       # official even so: the instructor said so
    time_limit: TimeLimit | None = None  # the student's first run's limits
    test_key: bytes | None = None        # the public test set's re-rendering (load.testset)

    @property
    def confined(self) -> bool:
        """The child's file system is confined (bwrap, landlock), as the plan says."""
        return self.plan is not None and self.plan.confined


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
    public_x: Path | None = None        # untouched public test images (load.testset)
    public_y: np.ndarray | None = None  # their labels: parent only
    account_x: Path | None = None       # the first ACCOUNT test images: the training child's

    def files(self) -> dict[str, Path]:
        """What the training child may read (never the labels of the test set): of the test
        set only the sample it predicts as its account (`verify`); the fresh child that
        re-measures the run predicts the whole test set and the public images."""
        return {"train_x": self.train_x, "train_y": self.train_y,
                "test_x": self.account_x or self.test_x,
                "train_idx": self.train_idx, "val_idx": self.val_idx}

    def verify_files(self, weights: Path) -> dict[str, Path]:
        """What the re-measuring child reads: the weights, the test and the public images."""
        files = {"test_x": self.test_x, "weights": weights}
        return {**files, "public_x": self.public_x} if self.public_x else files


def make_context(rubric, data_dir, quick, device, cache_dir, mode, cpus, gpu_share, use_cache,
             on_event) -> GradingContext:
    started = time.time()
    plan = confinement()  # once, and before anything is prepared: GRADER_SANDBOX is checked
    device = resolve_device(device)
    on_event("grader", {"event": "phase", "phase": "data"})
    cache_dir = Path(cache_dir or paths.cache_dir())
    data = prepare_data(rubric.dataset, data_dir=data_dir, cache_dir=cache_dir)
    # a private test set is graded as it is; the public one re-rendered (load.testset)
    test_key = None if rubric.dataset.test_dir else testset.key(cache_dir)
    return GradingContext(rubric=rubric, data=data, device=device, quick=quick, mode=mode,
                          started=started, versions=library_versions(), cache_dir=cache_dir,
                          use_cache=use_cache, cpus=cpus, gpu_share=gpu_share, on_event=on_event,
                          plan=plan, test_key=test_key)


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


def prepare_inputs(data: CachedData, rubric: Rubric, quick: bool, tmp: Path,
                    test_key: bytes | None) -> Inputs:
    """The split, and the test images in a secret order: re-rendered with `test_key`
    beside a sample of the untouched public ones, or (None) a private test set as it is."""
    train_y = data.load("train_y")
    pool = np.arange(len(train_y))
    test_pool = np.arange(len(data.load("test_y")))
    if quick:  # a fixed subset, so a cached quick baseline stays comparable
        pool = np.sort(np.random.default_rng(0).permutation(pool)[:rubric.quick.train_subset])
        test_pool = np.sort(np.random.default_rng(1).permutation(test_pool)[:rubric.quick.test_subset])
    tr, va = split_validation(len(pool), rubric.dataset.validation_fraction)
    rng = np.random.default_rng(secrets.randbits(64))
    order = rng.permutation(test_pool)
    test_x, test_y = data.load("test_x"), data.load("test_y")
    shown = test_x[order] if test_key is None else testset.rerender(test_x[order], order, test_key)
    np.save(tmp / "test_x.npy", np.ascontiguousarray(shown))
    np.save(tmp / "account_x.npy", np.ascontiguousarray(shown[:ACCOUNT]))
    np.save(tmp / "train_idx.npy", pool[tr])
    np.save(tmp / "val_idx.npy", pool[va])
    public = None if test_key is None else rng.permutation(test_pool)[:testset.PUBLIC_SAMPLE]
    if public is not None:
        np.save(tmp / "public_x.npy", np.ascontiguousarray(test_x[public]))
    return Inputs(train_x=data.path("train_x"), train_y=data.path("train_y"),
                  test_x=tmp / "test_x.npy", test_y=np.asarray(test_y[order]),
                  train_idx=tmp / "train_idx.npy", val_idx=tmp / "val_idx.npy",
                  sizes={"train": len(tr), "validation": len(va), "test": len(order)},
                  order=order, public_x=None if public is None else tmp / "public_x.npy",
                  public_y=None if public is None else np.asarray(test_y[public]),
                  account_x=tmp / "account_x.npy")


def child_threads(ctx: GradingContext) -> int:
    """The child's intra-op threads: a batch worker's share of the cores, else all of them."""
    return len(ctx.cpus or ()) or cpu_count()
