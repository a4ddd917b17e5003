"""The baseline's trained results, cached on disk so a class of 200 trains it once.

The key covers everything that changes the baseline's accuracy: the rubric's data set,
budget and quick settings, the seed, the decoded data's digest, the device type, the
torch/torchvision versions, the reference hooks' source and the grader's training code.
Change any of them and the baseline is trained again.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from grader.rubric import Rubric

TRAINING_CODE = ("train.py", "worker.py", "hooks.py", "inspection.py")


def baseline_key(*, rubric: Rubric, seed: int, quick: bool, data_digest: str, device_type: str,
                 reference_digest: str, versions: dict) -> str:
    parts = {
        "dataset": asdict(rubric.dataset), "budget": asdict(rubric.budget),
        "quick": asdict(rubric.quick) if quick else None, "seed": seed,
        "data": data_digest, "device": device_type, "reference": reference_digest,
        "torch": versions.get("torch"), "torchvision": versions.get("torchvision"),
        "code": grader_code_digest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=list).encode()).hexdigest()[:20]


def grader_code_digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in TRAINING_CODE:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def load_cached(cache_dir: Path, key: str) -> dict | None:
    path = cache_dir / "baselines" / f"{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def store(cache_dir: Path, key: str, record: dict) -> None:
    folder = cache_dir / "baselines"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=2)
    os.replace(tmp, folder / f"{key}.json")
