"""The class as a whole: test accuracy per class and the confusions across the submissions
that trained, from the gradebook's rows. One computation for the class summary
(export.py) and the dashboard (dashboard.py)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassView:
    classes: list[str]
    per_student: np.ndarray        # [submissions, classes]: test accuracy per class
    baseline: list[float] | None   # the baseline's per class, where a grading kept it
    total: np.ndarray              # the submissions' confusion matrices summed (rows: true class)
    worst: Counter                 # (true, predicted) -> submissions whose worst confusion it is

    @property
    def mean(self) -> np.ndarray:
        return self.per_student.mean(0)

    def confusions(self) -> list[tuple[int, int, int]]:
        """(count, true, predicted) for every off-diagonal cell, most frequent first."""
        n = len(self.classes)
        return sorted(((int(self.total[i, j]), i, j) for i in range(n) for j in range(n)
                       if i != j), reverse=True)

    def share(self, i: int, j: int) -> float:
        """How much of class i's test images the class's models called j."""
        return self.total[i, j] / max(self.total[i].sum(), 1)


def class_view(rows) -> ClassView | None:
    """From gradebook rows (grader.batch.gradebook.Row); None when none trained."""
    trained = [r.results.metrics for r in rows if r.results.metrics.confusion.student]
    if not trained:
        return None
    worst = Counter()
    for m in trained:  # each submission's own worst confusion
        c = np.array(m.confusion.student)
        np.fill_diagonal(c, 0)
        i, j = np.unravel_index(c.argmax(), c.shape)
        if c[i, j]:
            worst[(int(i), int(j))] += 1
    return ClassView(
        classes=trained[0].classes,
        per_student=np.array([m.per_class.student for m in trained]),
        baseline=next((m.per_class.baseline for m in trained if m.per_class.baseline), None),
        total=np.sum([m.confusion.student for m in trained], axis=0),
        worst=worst)
