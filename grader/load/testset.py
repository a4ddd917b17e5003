"""The test images a grading scores on: the public test split re-rendered with a secret, so
that a submission cannot look its answers up, plus a sample of the untouched public images
to compare with.

CIFAR-10's and Fashion-MNIST's test labels are public: a submission can carry a table from
an image's bytes to its label and score whatever it likes on the public split. Every image
here is moved by one pixel (one of the eight neighbouring offsets, edges repeated), the
offset drawn from a key kept in the grader's cache folder (created once per machine, mode
0600, never shown to a child), so no test image a child sees is byte for byte a public one,
and the same image gets the same offset in every grading on the machine (the baseline's
cached runs stay comparable, and the template still reproduces the baseline exactly).
The child also predicts PUBLIC_SAMPLE public images; an honest model scores about the same
on both, while one that recognises public images scores far better on them: the gap is
reported, and a large one flags the result (`memorisation_gap`). A rubric's private test
set (`dataset.test_dir`) is graded as it is: nothing public to memorise.
"""
from __future__ import annotations

import hashlib
import math
import os
import secrets
from pathlib import Path

import numpy as np

KEY_FILE = "test-key"
RENDERING = "shift1-v2"   # part of the baseline's cache key: a new rendering retrains it
PUBLIC_SAMPLE = 2000      # public images predicted for the memorisation check
OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
FLAG_PP, FLAG_SE = 4.0, 4.0  # a gap above both (pp, standard errors) is flagged


def key(cache_dir: Path) -> bytes:
    """This machine's secret, made on first use; only the grader's user can read it."""
    path = Path(cache_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    return path.read_bytes()


def fingerprint(secret: bytes) -> str:
    """What results and cache keys record of the key: which rendering, never the key."""
    return RENDERING + "-" + hashlib.sha256(b"fingerprint" + secret).hexdigest()[:12]


def rerender(images: np.ndarray, index: np.ndarray, secret: bytes) -> np.ndarray:
    """`images` (N, H, W, C uint8), the public test images at original positions `index`,
    each shifted by the offset the key gives its position."""
    index = np.asarray(index, dtype=np.int64)
    # one offset per test position, drawn from the key: the same for a position in any
    # order or subset, and independent between keys
    seed = int.from_bytes(hashlib.sha256(b"offsets" + secret).digest()[:16], "big")
    table = np.random.default_rng(seed).integers(0, len(OFFSETS), size=int(index.max(initial=-1)) + 1)
    which = table[index]
    padded = np.pad(np.asarray(images), ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = images.shape[1:3]
    out = np.empty_like(np.asarray(images))
    for k, (dy, dx) in enumerate(OFFSETS):
        rows = np.flatnonzero(which == k)
        out[rows] = padded[rows, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    return out


def memorisation_gap(graded_acc: float, n_graded: int, public_acc: float,
                     n_public: int) -> dict:
    """The public images' accuracy against the graded images', in points, with its
    standard error; `flagged` when it is both large and well outside the noise."""
    p = min(max((graded_acc + public_acc) / 2, 1e-3), 1 - 1e-3)
    se = 100 * math.sqrt(p * (1 - p) * (1 / max(n_graded, 1) + 1 / max(n_public, 1)))
    gap = 100 * (public_acc - graded_acc)
    return {"public_accuracy": public_acc, "public_images": n_public, "gap_pp": round(gap, 2),
            "se_pp": round(se, 2), "flagged": gap > FLAG_PP and gap > FLAG_SE * se}
