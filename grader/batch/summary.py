"""The class summary (`grade export --format summary`, written at the end of every batch):
summary.md with its two pictures, from the gradebook's rows."""
from __future__ import annotations

from collections import Counter

from grader.batch import gradebook
from grader.batch.classview import class_view
from grader.report.escape import md as esc


def class_summary(rows: list[gradebook.Row]) -> tuple[str, dict[str, bytes]]:
    """The instructor's view of a class: score spread, per-class test accuracy across the
    submissions that trained (mean, against the baseline), and the confusions most
    students' models make."""
    import numpy as np

    from grader.report.figures import confusion_png, per_class_png
    md = ["# Class summary", "", f"{len(rows)} gradings, {sum(r.status == 'graded' for r in rows)} "
          f"graded, {sum(r.status == 'failed' for r in rows)} failed.", ""]
    scores = [r.score for r in rows]
    if scores:
        md += [f"Score: median {np.median(scores):g}, quartiles {np.percentile(scores, 25):g} to "
               f"{np.percentile(scores, 75):g}, out of {max(r.max_score for r in rows):g}.", ""]
    amended = [r for r in rows if r.amendments]
    if amended:
        md += [f"{len(amended)} grade(s) amended by a person (grades.csv's final_total; the "
               f"score spread above is the automatic one).", ""]
    late = [r for r in rows if r.results.late and r.results.late.penalty_percent]
    if late:
        md += [f"{len(late)} late submission(s) penalised under the rubric's late policy "
               f"(grades.csv's days_late, late_penalty_percent, score_before_late).", ""]
    codes = Counter(r.failure_code for r in rows if r.failure_code)
    if codes:
        md += ["Failures: " + ", ".join(f"{esc(c)} ({n})" for c, n in codes.most_common()) + ".", ""]
    view = class_view(rows)
    if view is None:
        return "\n".join(md + ["No submission trained to the end, so no per-class view.", ""]), {}
    classes, base, trained = view.classes, view.baseline, len(view.per_student)
    md += [f"## Test accuracy per class ({trained} submissions that trained)", "",
           "| Class | Class mean | Lowest | Highest | Baseline |", "|---|---:|---:|---:|---:|"]
    md += [f"| {esc(c, cell=True)} | {m:.1%} | {lo:.1%} | {hi:.1%} | {'n/a' if base is None else f'{base[i]:.1%}'} |"
           for i, (c, m, lo, hi) in enumerate(zip(classes, view.mean, view.per_student.min(0),
                                                  view.per_student.max(0)))]
    md += ["", "## The most common confusions", "",
           "| True class | Predicted as | Share of the class's images | Worst confusion of |",
           "|---|---|---:|---:|"]
    md += [f"| {esc(classes[i], cell=True)} | {esc(classes[j], cell=True)} | {view.share(i, j):.1%} | "
           f"{view.worst[(i, j)]} submission(s) |" for _, i, j in view.confusions()[:10]]
    md += ["", "![class mean per class](per_class.png)", "",
           "![summed confusion matrix](confusion.png)", ""]
    pictures = {"per_class": per_class_png(classes, view.mean.tolist(), base,
                                           "Class mean test accuracy per class"),
                "confusion": confusion_png(classes, view.total.tolist(),
                                           f"All {trained} submissions: confusion (summed)")}
    return "\n".join(md), {k: v for k, v in pictures.items() if v}
