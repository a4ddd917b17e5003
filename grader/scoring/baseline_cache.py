"""The baseline's trained results, cached on disk so a class of 200 trains it once.

The key covers everything that changes the baseline's accuracy: the rubric's data set,
budget and quick settings, the seed, the decoded data's digest, the device type, the
torch/torchvision versions, the reference hooks' source and the grader's training code.
Change any of them and the baseline is trained again.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from grader.files import write_json
from grader.rubric import Rubric

GRADER_DIR = Path(__file__).resolve().parent.parent
# Everything that runs in the child before and while the baseline trains: the sandbox
# (worker, hook loading), inspection (its forward pass draws from torch's RNG) and the
# training loop with its augmentation. Whole packages, so a new file is never left out.
TRAINING_PACKAGES = ("sandbox", "inspection", "training")


def baseline_key(*, rubric: Rubric, seed: int | None, quick: bool, data_digest: str, device_type: str,
                 reference_digest: str, versions: dict, threads: int | None = None,
                 test_set: str = "private") -> str:
    parts = {
        # on a CPU the thread count changes the order of floating-point sums, so a run with
        # 2 threads is not the run a 1-core batch worker makes at the same seed: the
        # untouched template reproduces only a baseline trained with its own thread count
        "threads": threads if device_type == "cpu" else None,
        # of the budget, only the clamps can change how the baseline trains
        "dataset": asdict(rubric.dataset),
        "budget": [rubric.budget.max_epochs, rubric.budget.max_batch_size],
        "training": asdict(rubric.training),
        "quick": asdict(rubric.quick) if quick else None, "seed": seed,
        "data": data_digest, "test_set": test_set, "device": device_type,
        "reference": reference_digest,
        "torch": versions.get("torch"), "torchvision": versions.get("torchvision"),
        "code": grader_code_digest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=list).encode()).hexdigest()[:20]


def grader_code_digest(root: Path = GRADER_DIR) -> str:
    """A digest of every Python file of the training packages under `root`."""
    h = hashlib.sha256()
    for package in TRAINING_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def load_cached(cache_dir: Path, key: str) -> dict | None:
    path = cache_dir / "baselines" / f"{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def store(cache_dir: Path, key: str, record: dict) -> None:
    write_json(cache_dir / "baselines" / f"{key}.json", record)


def load_calibration(cache_dir: Path, key: str) -> dict[int, float]:
    """The baseline's accuracy per seed measured so far under `key` (baseline_key with no
    seed): what `grade calibrate` keeps, and every grading reads its noise from."""
    path = cache_dir / "calibration" / f"{key}.json"
    try:
        return {int(seed): float(acc) for seed, acc in json.loads(path.read_text())["accuracies"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def store_calibration(cache_dir: Path, key: str, accuracies: dict[int, float], **about) -> None:
    write_json(cache_dir / "calibration" / f"{key}.json",
               {**about, "key": key, "accuracies": {str(s): a for s, a in sorted(accuracies.items())}})
