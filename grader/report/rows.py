"""What every report shows, as rows: the model summary with the rubric's expectations and
the first wrong layer, and how a rubric item's points and details read. Markdown, the
terminal and HTML each lay these out their own way."""
from __future__ import annotations

import re
from dataclasses import dataclass

from grader.i18n import N_, _, ngettext
from grader.inspection.checks import shape
from grader.report.record import Item, Metrics, Model

CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)  # Markdown's `code`, as the messages write it


def pct(value) -> str:
    """An accuracy as every report prints it, or n/a where there is none."""
    return _("n/a") if value is None else f"{value:.2%}"


@dataclass(frozen=True)
class LayerRow:
    """One row of the model summary, as every report shows it."""
    name: str
    type: str
    shape: str                 # per image, as the forward pass gave it
    parameters: int | None
    expected: str              # the rubric's, "" where it expects nothing
    ok: bool | None            # None where the rubric expects nothing
    mark: str                  # the first wrong shape, or where it raised
    block: bool                # a block the rubric checks, not a layer of its own


def summary_rows(model: Model) -> list[LayerRow]:
    """The model summary: every layer in the order the forward pass ran it, with a row for
    each block the rubric checks just before its layers, the rubric's expected shape beside
    the one it got, and a mark on the first layer where the shapes go wrong (or that
    raised)."""
    expected = model.expected or {}
    wrong, error = model.first_wrong, model.error
    blocks = {name: m for name, m in (model.modules or {}).items()
              if m.exists and name in expected}
    rows, shown = [], set()

    def row(name, facts):
        want = expected.get(name)
        got = facts.output_shape
        ok = None if want is None else (got is not None and got[1:] == want)
        mark = ""
        if wrong and wrong.module == name and wrong.what != "raised":
            mark = _("first wrong shape")
        elif error and error.module == name:
            mark = _("raised here:") + " " + error.message[:120]
        return LayerRow(name=name, type=facts.type or "", shape=shape(got[1:] if got else None),
                        parameters=facts.parameters, expected=shape(want) if want else "",
                        ok=ok, mark=mark, block=name in blocks and name not in
                        {layer.name for layer in model.layers})

    for layer in model.layers:
        for name, facts in blocks.items():
            if name not in shown and layer.name.startswith(name + "."):
                rows.append(row(name, facts))
                shown.add(name)
        rows.append(row(layer.name, layer))
    return rows


PICTURES = {  # file, what it shows (alt text and caption; translated where shown)
    "curves": ("curves.png", N_("Training loss and validation accuracy per epoch, yours against "
                                "the baseline")),
    "per_class": ("per_class.png", N_("Test accuracy per class, yours against the baseline")),
    "confusion": ("confusion.png", N_("Confusion matrix: rows are the true class, columns your "
                                      "model's prediction, in percent of the row")),
    "gallery": ("gallery.png", N_("Test images with the true label and your model's prediction: "
                                  "the most confident mistakes first (red), then right answers "
                                  "(green)")),
}


WHO = {"student": N_("student"), "baseline": N_("baseline")}  # the runs' names, as shown


def run_name(who: str, e: dict) -> str:
    """A run's name in the progress rows: `student (seed 0)`."""
    return _("{who} (seed {seed})").format(who=_(WHO.get(who, who)), seed=e.get("seed", "?"))

MARKS = {"passed": "✅", "failed": "❌", "pending": "⏳"}


def state(t: Item) -> str:
    """passed, failed, or pending (a person grades it): what the reports show."""
    return "pending" if t.pending else t.status


def points(t: Item) -> str:
    if t.pending:
        return _("pending / {max}").format(max=f"{t.max_score:g}")
    return f"{t.score:g} / {t.max_score:g}"


def pending_title(t: Item) -> str:
    """How a written answer is named where only a name and points fit (Gradescope, GitHub
    Classroom, the Markdown heading)."""
    return t.name + " " + ngettext("(pending manual grading, {points} point)",
                                   "(pending manual grading, {points} points)",
                                   _plural(t.max_score)).format(points=f"{t.max_score:g}")


def detail(t: Item) -> str:
    """A rubric item's explanation; a written answer is shown in full elsewhere."""
    if t.pending:
        if t.answer:
            return _("Graded by hand; the answer was collected from {source}.").format(
                source=t.answer_source)
        return _("Graded by hand; no answer found: {source}.").format(source=t.answer_source)
    return t.output


def count(v) -> str:
    return _("n/a") if v is None else f"{v:,}"


def gain_summary(m: Metrics) -> str:
    """The gain as every report states it: the point estimate and its 95% interval."""
    gain, interval = m.gain_pp, m.gain_interval_pp
    if gain is None:
        return _("n/a")
    if m.gain_method == "paired-identical":
        return _("{gain} pp (the baseline's own runs: no change)").format(gain=f"{gain:+.2f}")
    if interval:
        text = _("{gain} pp, {level} interval [{low}, {high}]").format(  # "% i": see points.py
            gain=f"{gain:+.2f}", level="95%", low=f"{interval[0]:+.2f}", high=f"{interval[1]:+.2f}")
        if m.smoke_run:
            text += " " + _("(a --quick smoke run's: one seed on a subset, not the grade's)")
        return text
    return _("{gain} pp (interval unknown: the baseline's noise is not measured here)").format(
        gain=f"{gain:+.2f}")


def baseline_summary(m: Metrics) -> str:
    """What the gain is measured from: the calibrated or pinned distribution, or the
    baseline's runs at the same seeds."""
    d = m.baseline_distribution
    if m.baseline_accuracy is None:
        return _("n/a")
    if d and m.gain_method == "calibrated":
        where = f", {d.source}" + (" " + _("on {where}").format(where=d.measured_on)
                                    if d.measured_on else "")
        return _("{accuracy} (mean of {n} seeds, std {std} pp{where})").format(
            accuracy=f"{m.baseline_accuracy:.2%}", n=d.n, std=f"{100 * d.std:.2f}",
            where=where)
    n = len(m.baseline_per_seed or [])
    return ngettext("{accuracy} (same seed)", "{accuracy} (same seeds)", max(n, 1)).format(
        accuracy=f"{m.baseline_accuracy:.2%}")


def test_set_text(m: Metrics) -> str | None:
    """Which test set the accuracy was measured on (grader.load.testset)."""
    facts = m.test_set
    if facts.kind == "private":
        return _("Graded on the rubric's private test set.")
    text = _("Graded on the public test split with each image moved by one pixel by this "
             "machine's secret key, so a table of public test images finds nothing.")
    check = facts.memorisation
    if check:
        text += " " + _("On {n} untouched public images: {accuracy}.").format(
            n=check.public_images, accuracy=f"{check.public_accuracy:.2%}")
    return text


def _plural(points: float) -> int:
    """ngettext's n for a point count that may be a fraction (1.5 points)."""
    return 1 if points == 1 else 2


def plain_name(text: str) -> str:
    """A name for consumers that show text as typed (Gradescope's test names, GitHub
    Classroom's log, JUnit): Markdown code spans lose their backticks."""
    return CODE_SPAN.sub(lambda m: m.group(2).strip() or m.group(2), text)
