"""A self-contained HTML report (one file, the curves embedded): what an instructor or a
student opens in a browser. Same facts as report.md, laid out to be read at a glance."""
from __future__ import annotations

import base64

from grader.failures import describe
from grader.i18n import _, current, ngettext
from grader.report.record import Metrics, Results
from grader.report.escape import html as escape
from grader.report.rows import (CODE_SPAN, PICTURES, baseline_summary, count, detail, pct,
                               gain_summary, points, state, summary_rows, test_set_text)
from grader.report.results import score_line

CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2328;
 max-width:980px;margin:2rem auto;padding:0 1rem;background:#fff}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:2rem 0 .6rem;
 border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
.sub{color:#59636e;margin:0 0 1rem}.notice{background:#fff8c5;border:1px solid #d4a72c;
 padding:.6rem .8rem;border-radius:6px}.flag{background:#ffebe9;border:1px solid #cf222e;
 padding:.6rem .8rem;border-radius:6px}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}.card{flex:1;min-width:160px;
 border:1px solid #d0d7de;border-radius:8px;padding:.7rem 1rem}.card .k{color:#59636e;
 font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}.card .v{font-size:1.6rem;
 font-weight:600}.good{color:#1a7f37}.bad{color:#cf222e}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;
 padding:.35rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}
th{color:#59636e;font-weight:600}.n{text-align:right;font-variant-numeric:tabular-nums;
 white-space:nowrap}pre{background:#f6f8fa;padding:.8rem;border-radius:6px;overflow:auto;
 white-space:pre-wrap}img{max-width:100%}footer{color:#59636e;font-size:.8rem;margin-top:2rem}
code{font-size:.88em}.wait{color:#9a6700}tr.wrong{background:#ffebe9}tr.block{background:#f6f8fa;
 font-weight:600}
:lang(ko) td,:lang(ko) p,:lang(ko) h2{word-break:keep-all}
"""  # keep-all: Korean breaks lines between words, not inside them


def render_html(results: Results, pictures: dict | None = None) -> str:
    """`pictures`: name -> PNG bytes (grader.report.markdown.PICTURES), embedded in the page."""
    sections = (_head(results), _scores(results), _rubric(results), _answers(results),
                _figures(pictures or {}), _model(results), _hooks(results), _footer(results))
    return "\n".join(line for section in sections for line in section)


def _head(results: Results) -> list[str]:
    """The page's head, the title, and what a reader must see first (notice, flag,
    amendment, lateness)."""
    name, title, e = results.submission.name, results.provenance.title, _text
    out = [f"<!doctype html><html lang={current()}><meta charset=utf-8><title>{e(title)}: {e(name)}"
           f"</title><style>{CSS}</style><body>",
           f"<h1>{e(name)}</h1><p class=sub>{e(title)}</p>"]
    if results.notice:
        out.append(f"<p class=notice>{e(results.notice)}</p>")
    if results.anomaly:
        out.append("<p class=flag><b>" + e(_("FLAGGED FOR REVIEW:")) + f"</b> {e(results.anomaly)}</p>")
    if results.amendment:  # grader/batch/amend.py: a person's grade beside the automatic one
        auto = results.automatic
        out.append("<p class=notice><b>" + e(_("Amended by the instructor:")) + "</b> "
                   + e(results.amendment.reason) + ". "
                   + e(_("Automatic score: {score} / {max_score}.").format(
                       score=f"{auto.score:g}", max_score=f"{auto.max_score:g}")) + "</p>")
    if results.late and results.late.line:  # grader/scoring/late.py: the rubric's late policy
        out.append(f"<p class=notice>{e(results.late.line)}</p>")
    return out


def _scores(results: Results) -> list[str]:
    """The score, accuracy and gain cards, the gain's sentence, the test set, the failure."""
    m, e, out = results.metrics, _text, []
    gain = m.gain_pp
    score = f"{results.score:g} / {results.max_score:g}"
    if results.pending_points:
        score += " " + _("(+{points} pending)").format(points=f"{results.pending_points:g}")
    cards = [(_("Score"), score, ""),
             (_("Test accuracy"), pct(m.accuracy), ""),
             (_("Baseline"), pct(m.baseline_accuracy), ""),
             (_("Gain"), _("n/a") if gain is None else f"{gain:+.2f} pp", _gain_colour(m))]
    out.append("<div class=cards>" + "".join(
        f"<div class=card><div class=k>{k}</div><div class='v {c}'>{e(v)}</div></div>"
        for k, v, c in cards) + "</div>")
    if gain is not None:
        out.append("<p>" + e(_("Gain {gain}; baseline {baseline}.").format(
            gain=gain_summary(m), baseline=baseline_summary(m))) + "</p>")
    if test_set_text(m):
        out.append("<p>" + e(test_set_text(m)) + "</p>")
    if results.failure:
        out.append("<h2>" + e(_("Why it could not be graded")) +
                   f"</h2><pre>{e(describe(results.failure))}</pre>")
    return out


def _rubric(results: Results) -> list[str]:
    e, out = _text, []
    out.append("<h2>{}</h2><table><tr><th></th><th>{}</th><th>{}</th><th>{}</th></tr>".format(
        *map(e, (_("Rubric"), _("Item"), _("Points"), _("Details")))))
    for t in results.tests:
        sign, cls = {"passed": ("✔", "good"), "failed": ("✘", "bad"), "pending": ("…", "wait")}[state(t)]
        out.append(f"<tr><td class={cls}>{sign}</td><td>{e(t.name)}</td>"
                   f"<td class=n>{e(points(t))}</td><td>{e(detail(t))}</td></tr>")
    out.append("</table>")
    if results.pending_points:
        out.append("<p class=notice>" + e(_("{score}: written answers are graded by a "
                                             "person.").format(score=score_line(results))) + "</p>")
    return out


def _answers(results: Results) -> list[str]:
    """The written answers a person grades, as the grader found them."""
    e, out = _text, []
    for t in results.tests:
        if t.pending:
            out.append(f"<h2>{e(t.name)} <span class=wait>" + e(ngettext(
                "(pending, {points} point)", "(pending, {points} points)",
                1 if t.max_score == 1 else 2).format(points=f"{t.max_score:g}")) + "</span></h2>")
            if t.question:
                out.append(f"<p><i>{e(t.question)}</i></p>")
            out.append("<p class=sub>" + e(_("From {source}").format(source=t.answer_source))
                       + f"</p><pre>{e(t.answer)}</pre>"
                       if t.answer else "<p class=bad>" + e(_("No answer found: {source}.").format(
                           source=t.answer_source)) + "</p>")
    return out


def _figures(pictures: dict) -> list[str]:
    e, out = _text, []
    for key, heading in (("curves", _("Training curves")), ("per_class", _("Accuracy per class")),
                         ("confusion", _("Where it goes wrong")), ("gallery", _("Test images"))):
        if key in pictures:
            data = base64.b64encode(pictures[key]).decode()
            caption = _(PICTURES[key][1])
            out.append(f"<h2>{heading}</h2><figure><img alt='{e(caption)}' "
                       f"src='data:image/png;base64,{data}'><figcaption class=sub>{e(caption)}."
                       f"</figcaption></figure>")
    return out


def _model(results: Results) -> list[str]:
    e, out = _text, []
    if results.model.layers:
        out.append("<h2>{}</h2><p class=sub>{}</p><table><tr><th>{}</th><th>{}</th><th>{}</th>"
                   "<th>{}</th><th class=n>{}</th><th></th></tr>".format(
                       *map(e, (_("Model summary"), _("Output shapes per image, in the order the "
                                                      "forward pass ran the layers."),
                                _("Layer"), _("Type"), _("Output shape"), _("Expected"),
                                _("Parameters")))))
        for r in summary_rows(results.model):
            cls = " class=wrong" if r.mark else (" class=block" if r.block else "")
            ok = {True: "<span class=good>✔</span>", False: "<span class=bad>✘</span>", None: ""}[r.ok]
            out.append(f"<tr{cls}><td><code>{e(r.name)}</code></td><td>{e(r.type)}</td>"
                       f"<td>{e(r.shape)}</td><td>{e(r.expected)} {ok}</td>"
                       f"<td class=n>{e(count(r.parameters))}</td>"
                       f"<td class=bad>{'◀ ' + e(r.mark) if r.mark else ''}</td></tr>")
        out.append("<tr><th colspan=4>" + e(_("Trainable parameters")) + "</th><th class=n>"
                   f"{e(count(results.metrics.parameters))}</th><th></th></tr></table>")
    return out


def _hooks(results: Results) -> list[str]:
    sub, e, out = results.submission, _text, []
    hooks = sub.customised_hooks
    if hooks is not None or sub.notes:
        out.append("<h2>" + e(_("Your hooks")) + "</h2><p>" + e(_("Customised:")) + " " + (", ".join(
            f"<code>{e(h)}</code>" for h in hooks or []) or e(_("none (all from the baseline)"))) + "</p>")
        out += ["<p>" + e(_("note: {note}").format(note=n)) + "</p>" for n in sub.notes]
    return out


def _footer(results: Results) -> list[str]:
    m, p, e, out = results.metrics, results.provenance, _text, []
    out.append("<footer>" + e(_("Rubric `{rubric}` ({digest}), seeds {seeds}, device `{device}`, "
                                "torch {torch}, grader {grader}, graded {graded_at} in {seconds} s; "
                                "baseline {baseline}.").format(
        rubric=p.rubric_name, digest=p.rubric_digest, seeds=p.seeds, device=p.device,
        torch=p.versions.torch, grader=p.versions.grader, graded_at=p.graded_at,
        seconds=f"{m.wall_time_s:.0f}",
        baseline=", ".join(m.baseline_source or [_("n/a")]))) + "</footer></body></html>")
    return out


def _gain_colour(m: Metrics) -> str:
    """Green only for a gain told from noise (its interval above 0), red for a loss told
    from noise; a zero or undecided gain stays neutral."""
    gain, interval = m.gain_pp, m.gain_interval_pp
    if gain is None or gain == 0:
        return ""
    low, high = interval or (gain, gain)
    return "good" if low > 0 else "bad" if high < 0 else ""


def _text(value) -> str:
    """Escaped for HTML (grader.report.escape: bidi controls shown, control characters
    dropped), with Markdown's `code` spans (the reports' messages use them) shown as code
    instead of literal backticks."""
    return CODE_SPAN.sub(lambda m: f"<code>{m.group(2)}</code>", escape(str(value)))
