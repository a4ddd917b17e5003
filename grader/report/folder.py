"""A grading's report folder: results.json (the record), then the human reports made from
it (report.md, a self-contained report.html, the pictures), each written atomically."""
from __future__ import annotations

from pathlib import Path

from grader.files import write_atomic, write_json
from grader.i18n import N_
from grader.report.figures import confusion_png, per_class_png, training_curves_png
from grader.report.html import render_html
from grader.report.markdown import render_markdown
from grader.report.record import Results


def write_reports(results: Results, out_dir: Path) -> dict[str, Path]:
    """results.json first (the record), then the human reports made from it."""
    out_dir = Path(out_dir)
    files = {"results": out_dir / "results.json", "markdown": out_dir / "report.md",
             "html": out_dir / "report.html"}
    write_json(files["results"], results.dump())
    pictures = {}
    for name, png in (("curves", training_curves_png(results)),
                      ("per_class", _per_class(results)), ("confusion", _confusion(results))):
        if png:
            files[name] = write_atomic(out_dir / f"{name}.png", png)
            pictures[name] = png
    if "gallery.png" in results.artifacts and (out_dir / "gallery.png").is_file():
        pictures["gallery"] = (out_dir / "gallery.png").read_bytes()
    write_atomic(files["markdown"], render_markdown(results, pictures))
    write_atomic(files["html"], render_html(results, pictures))
    return files


def _per_class(results: Results):
    m = results.metrics
    if not m.classes:
        return None
    return per_class_png(m.classes, m.per_class.student, m.per_class.baseline)


def _confusion(results: Results):
    m = results.metrics
    matrix = m.confusion.student
    return confusion_png(m.classes, matrix, N_("Your model: confusion on the test set")) if matrix else None
