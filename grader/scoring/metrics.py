"""Test-set metrics the parent computes from the child's predictions and the labels only
it holds: the confusion matrix, per-class accuracy, means over seeds."""
from __future__ import annotations

import numpy as np


def confusion(labels: np.ndarray, predicted: np.ndarray, k: int) -> list[list[int]]:
    """Rows: the true class; columns: the prediction."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (labels, predicted), 1)
    return m.tolist()


def per_class(matrix: list[list[int]] | None) -> list[float] | None:
    if not matrix:
        return None
    m = np.asarray(matrix)
    return (np.diag(m) / np.maximum(m.sum(1), 1)).round(4).tolist()


def summed(matrices) -> list[list[int]] | None:
    matrices = [m for m in matrices if m]
    return np.sum(matrices, axis=0).tolist() if matrices else None


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None
