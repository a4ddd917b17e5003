"""report.md: the Markdown report, a pure renderer of the one results object
(grader.report.results). The GitHub job summary and Gradescope's output use it too."""
from __future__ import annotations

from grader.failures import describe
from grader.i18n import _, ngettext
from grader.report.escape import md, md_block, md_code, md_lines
from grader.report.results import score_line
from grader.report.record import Results
from grader.report.rows import (MARKS, PICTURES, WHO, baseline_summary, count, detail, pct,
                                gain_summary, pending_title, points, state, summary_rows,
                                test_set_text)


def _status(results) -> str:
    return _("FAILED") if results.status == "failed" else _("graded")


def _row(*cells) -> str:
    """A table row of the grader's own labels and numbers (student text goes through md)."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def render_markdown(results: Results, pictures: dict | None = None) -> str:
    """`pictures`: the PNGs written beside report.md, linked by file name. Every string that
    is not the grader's own Markdown goes through grader.report.escape: a message, a name or
    an answer renders as the text it is (no fence it closes, no HTML, image or heading)."""
    sections = (_head(results), _measured(results), _rubric(results), _answers(results),
                _hooks(results), _model(results), _pictures(results, pictures),
                _training(results), _provenance(results))
    return "\n".join(line for section in sections for line in section)


def _head(results: Results) -> list[str]:
    """The title, what a reader must see first (notice, flag, amendment, lateness), the
    score, and why it could not be graded."""
    out = [f"# {md(results.provenance.title)}: {md(results.submission.name)}", ""]
    if results.notice:
        out += [f"> **{md(results.notice)}**", ""]
    if results.anomaly:
        out += ["> **" + _("FLAGGED FOR REVIEW:") + "** " + md(results.anomaly), ""]
    if results.amendment:  # grader/batch/amend.py: a person's grade beside the automatic one
        auto = results.automatic
        out += ["> **" + _("Amended by the instructor:") + "** " + md(results.amendment.reason)
                + ". " + _("Automatic score: {score} / {max_score}.").format(
                    score=f"{auto.score:g}", max_score=f"{auto.max_score:g}"), ""]
    if results.late and results.late.line:  # grader/scoring/late.py: the rubric's late policy
        out += ["> **" + md(results.late.line) + "**", ""]
    out += [f"**{score_line(results)}** ({_status(results)})", ""]
    if results.failure:
        out += ["## " + _("Why it could not be graded"), "", *md_block(describe(results.failure)), ""]
    return out


def _measured(results: Results) -> list[str]:
    """The student's model against the baseline's, the test set and the gain."""
    m = results.metrics
    # (labels are joined, not inside f-strings, where Babel's extractor cannot see them)
    out = [_row("", _("Your model"), _("Baseline")), "|---|---:|---:|",
           _row(_("Test accuracy"), pct(m.accuracy), pct(m.baseline_accuracy)),
           _row(_("Parameters"), count(m.parameters), count(m.baseline_parameters)),
           _row(_("Epochs"), m.epochs or _("n/a"), ""), ""]
    if m.pipeline:
        out += [_("Augmentation ran on the {train} path (test transform: {test}); `batched` means "
                  "whole batches with a random draw per image, `per-image` means torchvision "
                  "image by image.").format(train=md(m.pipeline.train), test=md(m.pipeline.test)), ""]
    if test_set_text(m):
        out += [md(test_set_text(m)), ""]
    if m.gain_pp is not None:
        out += [_("Gain: **{gain}** over the baseline, {baseline}.").format(
            gain=gain_summary(m), baseline=baseline_summary(m)), ""]
        if m.extra_seeds:
            out += [ngettext("{n} extra seed was run because the interval straddled a tier boundary.",
                             "{n} extra seeds were run because the interval straddled a tier "
                             "boundary.", m.extra_seeds).format(n=m.extra_seeds), ""]
    return out


def _rubric(results: Results) -> list[str]:
    out = ["## " + _("Rubric"), "", _row(_("Item"), _("Points"), _("Details")), "|---|---:|---|"]
    for t in results.tests:
        out.append(f"| {MARKS[state(t)]} {md(t.name, cell=True)} | {points(t)} | "
                   f"{md(detail(t), cell=True)} |")
    return out + [""]


def _answers(results: Results) -> list[str]:
    """The written answers a person grades, as the grader found them."""
    out = []
    for t in results.tests:
        if t.pending:
            out += [f"## {md(pending_title(t))}", ""]
            if t.question:
                out += [f"*{md(t.question)}*", ""]
            if t.answer:
                out += [_("Answer from {source}:").format(source=md(t.answer_source)), ""] + \
                       ["> " + line for line in md_lines(t.answer)] + [""]
            else:
                out += [_("No answer found: {source}.").format(source=md(t.answer_source)), ""]
    return out


def _hooks(results: Results) -> list[str]:
    sub, out = results.submission, []
    if sub.customised_hooks is not None:
        out += ["## " + _("Your hooks"), "", _("Customised:") + " " + (
            ", ".join(md_code(h) for h in sub.customised_hooks) or _("none (all from the baseline)")), ""]
    if sub.notes:
        out += [_("Notes:"), ""] + [f"- {md(n)}" for n in sub.notes] + [""]
    return out


def _model(results: Results) -> list[str]:
    if not results.model.layers:
        return []
    out = ["## " + _("Model summary"), "",
            _("Output shapes are per image; a batch adds N in front."), "",
            _row(_("Layer"), _("Type"), _("Output shape"), _("Expected"), _("Parameters"), ""),
            "|---|---|---|---|---:|---|"]
    for r in summary_rows(results.model):
        name = md_code(r.name, cell=True)
        name = f"**{name}**" if r.block else name
        ok = {True: " ✅", False: " ❌", None: ""}[r.ok]
        mark = f"⬅ **{md(r.mark, cell=True)}**" if r.mark else ""
        out.append(f"| {name} | {md(r.type, cell=True)} | {md(r.shape, cell=True)} | "
                   f"{md(r.expected, cell=True)}{ok} | "
                   f"{count(r.parameters)} | {mark} |")
    out.append("")
    return out


def _pictures(results: Results, pictures: dict | None) -> list[str]:
    if not pictures:
        return []
    out = ["## " + _("Pictures"), ""]
    for key, (file, caption) in PICTURES.items():
        if key in pictures:
            caption = _(caption)
            out += [f"![{caption}]({file})", "", f"*{caption}.*", ""]
    pc = results.metrics.per_class
    if pc.student:
        out += [_row(_("Class"), _("Yours"), _("Baseline")), "|---|---:|---:|"]
        base = pc.baseline or [None] * len(pc.student)
        out += [f"| {md(c, cell=True)} | {pct(s)} | {pct(b)} |"
                for c, s, b in zip(results.metrics.classes, pc.student, base)]
        out.append("")
    return out


def _training(results: Results) -> list[str]:
    """Each run's epochs, the student's and the baseline's."""
    out = []
    for who, runs in (("student", results.history.student), ("baseline", results.history.baseline)):
        for hist in runs:
            if hist:
                out += ["## " + _("Training: {who}").format(who=_(WHO.get(who, who))), "",
                        _row(_("Epoch"), _("Train loss"), _("Val accuracy"), _("Seconds")),
                        "|---:|---:|---:|---:|"]
                out += [f"| {h.epoch} | {h.train_loss:.4f} | {h.val_accuracy:.2%} | "
                        f"{h.seconds:.1f} |" for h in hist]
                out.append("")
    return out


def _provenance(results: Results) -> list[str]:
    p = results.provenance
    out = ["## " + _("Provenance"), "",
            _("Rubric `{rubric}` ({digest}), seeds {seeds}, device `{device}`, torch {torch}, "
              "torchvision {torchvision}, grader {grader}; data {data} ({data_digest}); "
              "submission {submission}; graded {graded_at} in {seconds} s.").format(
                rubric=p.rubric_name, digest=p.rubric_digest, seeds=p.seeds,
                device=p.device, torch=p.versions.torch,
                torchvision=p.versions.torchvision, grader=p.versions.grader,
                data=p.data.name, data_digest=p.data.digest,
                submission=p.code.submission, graded_at=p.graded_at,
                seconds=f"{results.metrics.wall_time_s:.0f}"), ""]
    if p.isolation:
        out += [_("Isolation of the submission's code:") + " " + "; ".join(
            md(f"{k}: {v}") for k, v in p.isolation.items()) + ".", ""]
    return out
