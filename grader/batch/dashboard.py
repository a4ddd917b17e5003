"""The instructor's dashboard: OUT/exports/index.html, one self-contained page (inline CSS,
SVG and script; nothing fetched, so it opens offline) made from the gradebook.

A table of students that sorts and filters in the page (its state lives in the URL's
#fragment, e.g. index.html#sort=score&dir=desc&show=flagged&q=bn, so a view can be
bookmarked), the score and gain distributions, the class's per-class accuracy and most
common confusions, and every flag with a link to the student's own report.html.
Everything that came from a submission (ids, messages, file names) is escaped here, in
Python (grader.report.escape.html: bidi controls shown as <U+202E>, control characters
dropped); the script only reorders and hides rows, never writes HTML.
"""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from grader.batch.amend import apply
from grader.batch.classview import class_view
from grader.report.escape import html as escape

# The page's style and script are files of their own beside this module (package data:
# the wheel carries them), read once and inlined: the page stays one self-contained file.
CSS = (Path(__file__).parent / "dashboard.css").read_text(encoding="utf-8")


# Sorting and filtering; the state is the #fragment. No innerHTML anywhere: only row order,
# `hidden` and text change, so nothing from a submission is ever parsed as HTML.
SCRIPT = (Path(__file__).parent / "dashboard.js").read_text(encoding="utf-8")

COLUMNS = [  # key, heading, numeric
    ("student", "Student", False), ("score", "Score", True), ("automatic", "Automatic", True),
    ("gain", "Gain (pp)", True), ("accuracy", "Accuracy", True), ("parameters", "Parameters", True),
    ("status", "Status", False), ("reason", "Failure reason", False), ("flags", "Flags", False)]


def render(rows, pairs, *, title: str = "", coverage: dict | None = None) -> str:
    """The page, from gradebook rows (grader.batch.gradebook.Row) and flagged pairs
    (grader.batch.similarity.Pair)."""
    shown = [apply(r.results, r.amendments) for r in rows]
    # a class graded --quick is unofficial throughout: said once, not flagged on every row
    all_unofficial = bool(rows) and all(r.results.official is not True for r in rows)
    flags = student_flags(rows, shown, pairs, flag_unofficial=not all_unofficial)
    e = escape
    out = [f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport "
           f"content='width=device-width'><title>{e(title or 'Class dashboard')}</title>"
           f"<style>{CSS}</style><body><h1>{e(title or 'Class dashboard')}</h1>"
           f"<p class=sub>{len(rows)} students, made {e(time.strftime('%Y-%m-%d %H:%M'))} from the "
           f"gradebook. Flags are for a person to look at, never penalties.</p>"]
    if all_unofficial:
        out.append("<p class='flag info'>Every grade here is unofficial (a --quick batch, or "
                   "student code that ran unconfined): not for a gradebook as it stands.</p>")
    scores = [s.score for s in shown]
    cards = [("Students", len(rows)), ("Graded", sum(r.status == "graded" for r in rows)),
             ("Failed", sum(r.status == "failed" for r in rows)),
             ("Median score", f"{np.median(scores):g}" if scores else "n/a"),
             ("Flagged", sum(bool(f) for f in flags.values())),
             ("Similar pairs", len(pairs))]
    out.append("<div class=cards>" + "".join(f"<div class=card><div class=k>{k}</div><div class=v>"
                                             f"{e(str(v))}</div></div>" for k, v in cards) + "</div>")
    out += _distributions(rows, shown)
    out += _table(rows, shown, flags)
    out += _per_class(rows)
    out += _flag_list(rows, flags, pairs)
    if coverage:
        out.append(f"<p class=sub>Similarity: code compared for {coverage['code']} and test "
                   f"predictions for {coverage['predictions']} of {coverage['students']} students "
                   f"(code needs the submissions where the batch found them; predictions, a "
                   f"model that trained).</p>")
    out.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(out)


def student_flags(rows, shown, pairs, flag_unofficial: bool = True) -> dict[str, list[tuple[str, str, str]]]:
    """student -> [(tag, label, detail)]: what a person should look at."""
    flags = {r.student: [] for r in rows}
    for r, s in zip(rows, shown):
        if r.results.anomaly:
            flags[r.student].append(("implausible", "implausible accuracy", r.results.anomaly))
        if flag_unofficial and r.results.official is not True:
            flags[r.student].append(("unofficial", "unofficial grade",
                                     r.results.notice or "not graded in official mode"))
        if s.pending_points:
            flags[r.student].append(("pending", "written answers pending",
                                     f"{s.pending_points:g} points to grade by hand "
                                     f"(grade amend OUT {r.student} --item ID ...)"))
        if s.amendment and s.amendment.stale:
            flags[r.student].append(("stale", "amendment to check",
                                     "the automatic grade changed since this was amended"))
    for p in pairs:
        for me, other in ((p.a, p.b), (p.b, p.a)):
            if me in flags:
                flags[me].append(("similar", f"similar to {other}", "similar " + " and ".join(
                    p.flagged_by) + (" (code alone: short idiomatic model code matches easily)"
                                     if p.flagged_by == ["code"] else "")))
    return flags


def _table(rows, shown, flags) -> list[str]:
    e = escape
    out = ["<h2>Students</h2><div class=controls><input id=q type=search placeholder='filter: id, "
           "status, reason, flag' aria-label=filter><select id=show aria-label=show>"
           "<option value=all>everyone</option><option value=flagged>flagged</option>"
           "<option value=similar>similar submissions</option><option value=failed>failed</option>"
           "<option value=amended>amended</option><option value=pending>pending answers</option>"
           "</select><span id=shown class=sub>" + f"{len(rows)} students</span></div>",
           "<table id=students><thead><tr>" + "".join(
               f"<th data-key={k}{' class=n' if num else ''}>{h}</th>" for k, h, num in COLUMNS)
           + "</tr></thead><tbody>"]
    for r, s in zip(rows, shown):
        m, mine = r.results.metrics, flags[r.student]
        amended = s.amendment
        tags = {t for t, _, _ in mine} | {r.status} | ({"flagged"} if mine else set()) | (
            {"amended"} if amended else set())
        gain, interval = m.gain_pp, m.gain_interval_pp
        gain_text = "" if gain is None else f"{gain:+.2f}" + (
            f" [{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else "")
        cells = {"student": r.student, "score": f"{s.score:g}", "automatic": f"{r.score:g}",
                 "gain": "" if gain is None else f"{gain:.4f}",
                 "accuracy": "" if r.accuracy is None else f"{r.accuracy:.4f}",
                 "parameters": m.parameters or "", "status": r.status,
                 "reason": r.failure_message or "", "flags": " ".join(l for _, l, _ in mine)}
        data = " ".join(f"data-{k}='{e(str(v))}'" for k, v in cells.items() if k not in ("reason",))
        text = " ".join(str(v) for v in cells.values()).lower()
        link = f"../feedback/{quote(r.student)}/report.html"
        score = f"{s.score:g} / {s.max_score:g}" + (" ✎" if amended else "")
        out.append(
            f"<tr {data} data-text='{e(text)}' data-tags='{e(' '.join(sorted(tags)))}'>"
            f"<td><a href='{e(link)}'>{e(r.student)}</a></td>"
            f"<td class=n title='{e(amended.reason if amended else '')}'>{e(score)}</td>"
            f"<td class=n>{e(cells['automatic'])}</td><td class=n>{e(gain_text)}</td>"
            f"<td class=n>{'' if r.accuracy is None else f'{r.accuracy:.2%}'}</td>"
            f"<td class=n>{e(_count(m.parameters))}</td>"
            f"<td class='{'failed' if r.status == 'failed' else ''}'>{e(r.status)}</td>"
            f"<td>{e(r.failure_message or '')}</td><td>" + "".join(
                f"<span class='flag{' info' if t in ('pending', 'unofficial') or 'alone' in d else ''}' "
                f"title='{e(d)}'>{e(l)}</span>" for t, l, d in mine) + "</td></tr>")
    out.append("</tbody></table><p class=sub>Click a heading to sort; ✎ marks a grade a person "
               "amended (hover for the reason). Score is the final grade, Automatic the "
               "grader's.</p>")
    return out


def _distributions(rows, shown) -> list[str]:
    scores = [s.score for s in shown]
    gains = [r.gain_pp for r in rows if r.gain_pp is not None]
    return ["<h2>Distributions</h2><div class=charts>",
            _figure(histogram(scores, "score (points)"), f"Final scores of {len(scores)} students"),
            _figure(histogram(gains, "gain over the baseline (percentage points)", zero=True),
                    f"Accuracy gains of the {len(gains)} submissions that trained"), "</div>"]


def _per_class(rows) -> list[str]:
    view = class_view(rows)
    if view is None:
        return ["<p class=sub>No submission trained to the end, so no per-class view.</p>"]
    classes = view.classes
    out = ["<h2>The class, per class</h2><div class=charts>",
            _figure(per_class_bars(classes, view.mean.tolist(), view.baseline),
                    "Class mean test accuracy per class (bars) and the baseline's (marks)"),
            "<table style='width:auto'><tr><th>True class</th><th>Predicted as</th>"
            "<th class=n>Share of the class</th><th class=n>Worst confusion of</th></tr>"]
    top = [(i, j) for n, i, j in view.confusions() if n][:8]
    out += [f"<tr><td>{escape(classes[i])}</td><td>{escape(classes[j])}</td>"
            f"<td class=n>{view.share(i, j):.1%}</td><td class=n>{view.worst[(i, j)]} students</td>"
            f"</tr>" for i, j in top]
    return out + ["</table></div>"]


def histogram(values, label: str, zero: bool = False, width: int = 420, height: int = 200) -> str:
    """An inline SVG histogram (about 12 bins), a dashed line at 0 when `zero`."""
    if not values:
        return f"<svg width='{width}' height='40'><text x='0' y='20'>no data</text></svg>"
    lo, hi = min(values), max(values)
    if hi <= lo:  # every value the same: a range around it, the value in the middle
        lo, hi = lo - 1, hi + 1
    counts, edges = np.histogram(values, bins=min(12, max(3, len(set(values)))), range=(lo, hi))
    left, bottom, top = 36, height - 34, 10
    x = lambda v: left + (v - lo) / (hi - lo) * (width - left - 24)  # noqa: E731
    y = lambda c: bottom - c / max(counts.max(), 1) * (bottom - top)  # noqa: E731
    bars = "".join(f"<rect x='{x(a):.1f}' y='{y(c):.1f}' width='{max(x(b) - x(a) - 1, 1):.1f}' "
                   f"height='{bottom - y(c):.1f}' fill='#0969da'><title>{a:g} to {b:g}: {c}"
                   f"</title></rect>" for a, b, c in zip(edges[:-1], edges[1:], counts))
    ticks = "".join(f"<text x='{x(v):.1f}' y='{bottom + 14}' text-anchor='middle' font-size='11'>"
                    f"{v:g}</text>" for v in nice_ticks(lo, hi, integers=all(
                        float(v).is_integer() for v in values)))
    line = (f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='{top}' y2='{bottom}' stroke='#cf222e' "
            f"stroke-dasharray='4 3'/>" if zero and lo <= 0 <= hi else "")
    return (f"<svg role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"
            f"<line x1='{left}' x2='{width - 10}' y1='{bottom}' y2='{bottom}' stroke='#59636e'/>"
            f"{bars}{line}{ticks}<text x='{left}' y='{top + 2}' font-size='11' fill='#59636e'>"
            f"{counts.max()} max</text><text x='{width / 2}' y='{height - 4}' text-anchor='middle' "
            f"font-size='12'>{escape(label)}</text></svg>")


def nice_ticks(lo: float, hi: float, n: int = 5, integers: bool = False) -> list[float]:
    """Round ticks within [lo, hi], at most n + 1 of them: the finest step of 1, 2, 2.5 or 5
    times a power of ten that fits (whole numbers only for whole-number data)."""
    mag = 10 ** np.floor(np.log10((hi - lo) / n))
    for step in (m * mag * k for k in (1, 10, 100) for m in (1, 2, 2.5, 5)):
        if integers and step < 1:
            continue
        first, last = np.ceil(lo / step - 1e-9), np.floor(hi / step + 1e-9)
        if last - first + 1 <= n + 1:
            break
    return [round(float(k * step), 10) + 0.0 for k in np.arange(first, last + 1)]


def per_class_bars(classes, mean, base, width: int = 440) -> str:
    row, left = 20, 90
    height = row * len(classes) + 10
    scale = lambda v: left + v * (width - left - 40)  # noqa: E731
    parts = []
    for i, (c, v) in enumerate(zip(classes, mean)):
        yy = 5 + i * row
        parts.append(f"<text x='{left - 6}' y='{yy + 13}' text-anchor='end' font-size='12'>"
                     f"{escape(c)}</text><rect x='{left}' y='{yy + 2}' width='{scale(v) - left:.1f}' "
                     f"height='{row - 6}' fill='#0969da'><title>{escape(c)}: {v:.1%}</title></rect>"
                     f"<text x='{scale(v) + 4:.1f}' y='{yy + 13}' font-size='11'>{v:.0%}</text>")
        if base is not None:  # every attribute quoted: an unquoted `2/>` reads as the value "2/"
            parts.append(f"<line x1='{scale(base[i]):.1f}' x2='{scale(base[i]):.1f}' y1='{yy}' "
                         f"y2='{yy + row - 2}' stroke='#cf222e' stroke-width='2'/>")
    return (f"<svg role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"
            + "".join(parts) + "</svg>")


def _flag_list(rows, flags, pairs) -> list[str]:
    e = escape
    link = lambda s: f"<a href='{e('../feedback/' + quote(s) + '/report.html')}'>{e(s)}</a>"  # noqa: E731
    out = ["<h2 id=flags>Flags</h2>"]
    if pairs:
        out.append("<h3>Similar submissions</h3><table id=pairs><tr><th>Students</th><th>By</th>"
                   "<th>Code matched</th><th>Identical mistakes</th><th>Evidence</th></tr>")
        for p in pairs:
            ev = p.predictions or {}
            code = (f"{p.code[0]:.0%} / {p.code[1]:.0%} of their own code; "
                    + "; ".join(p.spans[:4])) if p.code else ""
            mistakes = (f"{ev['same_wrong']} of {min(ev['wrong_a'], ev['wrong_b'])} "
                        f"({ev['same_wrong_share']:.0%}; {ev['expected_same_wrong']:.1f} expected "
                        f"by chance); agreement {ev['agreement']:.1%} vs {ev['expected_agreement']:.1%} "
                        f"by chance ({ev['excess_agreement']:.2f} beyond it)"
                        if ev else "")
            out.append(f"<tr><td>{link(p.a)} &amp; {link(p.b)}</td><td>{e(' + '.join(p.flagged_by))}"
                       f"</td><td>{e(code)}</td><td>{e(mistakes)}</td><td>"
                       + (f"<pre>{e(p.excerpt)}</pre>" if p.excerpt else "") + "</td></tr>")
        out.append("</table>")
    others = [(r.student, f) for r in rows for f in flags[r.student] if f[0] != "similar"]
    if others:
        out.append("<h3>Other flags</h3><table id=other-flags><tr><th>Student</th><th>Flag</th>"
                   "<th>Why</th></tr>")
        out += [f"<tr><td>{link(s)}</td><td>{e(label)}</td><td>{e(why)}</td></tr>"
                for s, (_, label, why) in others]
        out.append("</table>")
    if not pairs and not others:
        out.append("<p>Nothing flagged.</p>")
    return out


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _count(v) -> str:
    return "" if v is None else f"{v:,}"
