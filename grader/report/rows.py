"""What every report shows, as rows: the model summary with the rubric's expectations and
the first wrong layer, and how a rubric item's points and details read. Markdown, the
terminal and HTML each lay these out their own way."""
from __future__ import annotations

import re

from grader.inspection.checks import shape
from grader.load.answers import is_pending

CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)  # Markdown's `code`, as the messages write it


def summary_rows(results: dict) -> list[dict]:
    """The model summary: every layer in the order the forward pass ran it, with a row for
    each block the rubric checks just before its layers, the rubric's expected shape beside
    the one it got, and a mark on the first layer where the shapes go wrong (or that
    raised)."""
    model = results["model"]
    expected = model.get("expected") or {}
    wrong = model.get("first_wrong") or {}
    error = model.get("error") or {}
    blocks = {name: m for name, m in (model.get("modules") or {}).items()
              if m.get("exists") and name in expected}
    rows, shown = [], set()

    def row(name, facts):
        want = expected.get(name)
        got = facts.get("output_shape")
        ok = None if want is None else (got is not None and got[1:] == want)
        mark = ""
        if wrong.get("module") == name and wrong["what"] != "raised":
            mark = "first wrong shape"
        elif error.get("module") == name:
            mark = "raised here: " + error.get("message", "")[:120]
        return {"name": name, "type": facts.get("type", ""), "shape": shape(got[1:] if got else None),
                "parameters": facts.get("parameters"), "expected": shape(want) if want else "",
                "ok": ok, "mark": mark, "block": name in blocks and name not in
                {layer["name"] for layer in model["layers"]}}

    for layer in model["layers"]:
        for name, facts in blocks.items():
            if name not in shown and layer["name"].startswith(name + "."):
                rows.append(row(name, facts))
                shown.add(name)
        rows.append(row(layer["name"], layer))
    return rows


PICTURES = {  # file, what it shows (alt text and caption)
    "curves": ("curves.png", "Training loss and validation accuracy per epoch, yours against the baseline"),
    "per_class": ("per_class.png", "Test accuracy per class, yours against the baseline"),
    "confusion": ("confusion.png", "Confusion matrix: rows are the true class, columns your model's "
                                   "prediction, in % of the row"),
    "gallery": ("gallery.png", "Test images with the true label and your model's prediction: the "
                               "most confident mistakes first (red), then right answers (green)"),
}


MARKS = {"passed": "✅", "failed": "❌", "pending": "⏳"}


def state(t: dict) -> str:
    """passed, failed, or pending (a person grades it): what the reports show."""
    return "pending" if is_pending(t) else t["status"]


def points(t: dict) -> str:
    if is_pending(t):
        return f"pending / {t['max_score']:g}"
    return f"{t['score']:g} / {t['max_score']:g}"


def pending_title(t: dict) -> str:
    """How a written answer is named where only a name and points fit (Gradescope, GitHub
    Classroom, the Markdown heading)."""
    return f"{t['name']} (pending manual grading, {t['max_score']:g} points)"


def detail(t: dict) -> str:
    """A rubric item's explanation; a written answer is shown in full elsewhere."""
    if is_pending(t):
        if t.get("answer"):
            return f"Graded by hand; the answer was collected from {t['answer_source']}."
        return f"Graded by hand; no answer found: {t['answer_source']}."
    return t["output"]


def count(v) -> str:
    return "n/a" if v is None else f"{v:,}"


def gain_summary(m: dict) -> str:
    """The gain as every report states it: the point estimate and its 95% interval."""
    gain, interval = m.get("gain_pp"), m.get("gain_interval_pp")
    if gain is None:
        return "n/a"
    if m.get("gain_method") == "paired-identical":
        return f"{gain:+.2f} pp (the baseline's own runs: no change)"
    if interval:
        return f"{gain:+.2f} pp, 95% interval [{interval[0]:+.2f}, {interval[1]:+.2f}]"
    return f"{gain:+.2f} pp (interval unknown: the baseline's noise is not measured here)"


def baseline_summary(m: dict) -> str:
    """What the gain is measured from: the calibrated or pinned distribution, or the
    baseline's runs at the same seeds."""
    d = m.get("baseline_distribution")
    if m.get("baseline_accuracy") is None:
        return "n/a"
    if d and m.get("gain_method") == "calibrated":
        where = f", {d['source']}" + (f" on {d['measured_on']}" if d.get("measured_on") else "")
        return (f"{m['baseline_accuracy']:.2%} (mean of {d['n']} seeds, std "
                f"{100 * d['std']:.2f} pp{where})")
    n = len(m.get("baseline_per_seed") or [])
    return f"{m['baseline_accuracy']:.2%} (same seed{'s' if n > 1 else ''})"


def plain_name(text: str) -> str:
    """A name for consumers that show text as typed (Gradescope's test names, GitHub
    Classroom's log, JUnit): Markdown code spans lose their backticks."""
    return CODE_SPAN.sub(lambda m: m.group(2).strip() or m.group(2), text)
