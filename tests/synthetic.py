"""Small, learnable data sets written in the real on-disk formats the grader reads:
Fashion-MNIST IDX files (torchvision's FashionMNIST/raw layout), an ImageFolder tree of
PNGs (CIFAR-10's class names), and a tarball of that tree (like ../shared/data's copy).

Each class is a fixed coarse pattern, shifted by a few pixels and buried in noise, so a
TinyCNN learns it in a few epochs but not perfectly: a better model or training recipe
has room to score higher.
"""
from __future__ import annotations

import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from grader.load.datasets import CIFAR10_CLASSES, FASHION_FILES


def make_images(n: int, size: int, channels: int, seed: int, signal: float = 0.45):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    templates = np.random.default_rng(1234).random((10, size // 4, size // 4, channels))
    templates = np.kron(templates, np.ones((4, 4, 1)))  # blocky 4x4 patterns
    images = signal * templates[labels] + (1 - signal) * rng.random((n, size, size, channels))
    for i, (dy, dx) in enumerate(rng.integers(-2, 3, (n, 2))):  # random shifts
        images[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
    return (images * 255).astype(np.uint8), labels.astype(np.int64)


def write_idx_images(path: Path, images: np.ndarray):
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 0x0803, n, h, w) + images.tobytes())


def write_idx_labels(path: Path, labels: np.ndarray):
    path.write_bytes(struct.pack(">II", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes())


def write_fashion_mnist(root: Path, n_train: int = 1200, n_test: int = 400) -> Path:
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        x, y = make_images(n, 28, 1, seed)
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", x[..., 0])
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", y)
    assert all((raw / f).exists() for f in FASHION_FILES)
    return root


def write_image_folder(root: Path, n_train: int = 600, n_test: int = 200, size: int = 32,
                       classes=CIFAR10_CLASSES) -> Path:
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        x, y = make_images(n, size, 3, seed)
        for i, (img, label) in enumerate(zip(x, y)):
            folder = root / split / classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i:05d}.png")
    return root


def write_tarball(tree: Path, tarball: Path) -> Path:
    with tarfile.open(tarball, "w:gz") as tar:
        for split in ("train", "test"):
            tar.add(tree / split, arcname=split)
    return tarball
