"""A self-contained HTML report (one file, the curves embedded): what an instructor or a
student opens in a browser. Same facts as report.md, laid out to be read at a glance."""
from __future__ import annotations

import base64
from html import escape

from grader.failures import describe

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
code{font-size:.88em}
"""


def render_html(results: dict, curves_png: bytes | None = None) -> str:
    m, sub, p = results["metrics"], results["submission"], results["provenance"]
    title = p["rubric"]["title"] or p["rubric_name"]
    e = escape
    out = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{e(title)}: {e(sub['name'])}"
           f"</title><style>{CSS}</style><body>",
           f"<h1>{e(sub['name'])}</h1><p class=sub>{e(title)}</p>"]
    if results["notice"]:
        out.append(f"<p class=notice>{e(results['notice'])}</p>")
    if results["anomaly"]:
        out.append(f"<p class=flag><b>Flagged for review:</b> {e(results['anomaly'])}</p>")
    gain = m["gain_pp"]
    cards = [("Score", f"{results['score']:g} / {results['max_score']:g}", ""),
             ("Test accuracy", _pct(m["accuracy"]), ""),
             ("Baseline", _pct(m["baseline_accuracy"]), ""),
             ("Gain", "n/a" if gain is None else f"{gain:+.2f} pp",
              "" if gain is None else ("good" if gain >= 0 else "bad"))]
    out.append("<div class=cards>" + "".join(
        f"<div class=card><div class=k>{k}</div><div class='v {c}'>{e(v)}</div></div>"
        for k, v, c in cards) + "</div>")
    if results["failure"]:
        out.append(f"<h2>Why it could not be graded</h2><pre>{e(describe(results['failure']))}</pre>")
    out.append("<h2>Rubric</h2><table><tr><th></th><th>Item</th><th>Points</th><th>Details</th></tr>")
    for t in results["tests"]:
        ok = t["status"] == "passed"
        out.append(f"<tr><td class={'good' if ok else 'bad'}>{'✔' if ok else '✘'}</td>"
                   f"<td>{e(t['name'])}</td><td class=n>{t['score']:g} / {t['max_score']:g}</td>"
                   f"<td>{e(t['output'])}</td></tr>")
    out.append("</table>")
    if curves_png:
        data = base64.b64encode(curves_png).decode()
        out.append(f"<h2>Training curves</h2><img alt='training loss and validation accuracy per "
                   f"epoch, submission against baseline' src='data:image/png;base64,{data}'>")
    layers = results["model"]["layers"]
    if layers:
        out.append(f"<h2>Model summary</h2><table><tr><th>Layer</th><th>Type</th>"
                   f"<th>Output shape</th><th class=n>Parameters</th></tr>")
        for layer in layers:
            shape = "×".join(str(d) for d in layer["output_shape"] or []) or "-"
            out.append(f"<tr><td><code>{e(layer['name'])}</code></td><td>{e(layer['type'])}</td>"
                       f"<td>{shape}</td><td class=n>{layer['parameters']:,}</td></tr>")
        out.append(f"<tr><th colspan=3>Trainable parameters</th><th class=n>"
                   f"{m['parameters']:,}</th></tr></table>")
    hooks = sub["customised_hooks"]
    if hooks is not None or sub["notes"]:
        out.append("<h2>Your hooks</h2><p>Customised: " + (", ".join(
            f"<code>{e(h)}</code>" for h in hooks or []) or "none (all from the baseline)") + "</p>")
        out += [f"<p>Note: {e(n)}</p>" for n in sub["notes"]]
    out.append(f"<footer>Rubric <code>{e(p['rubric_name'])}</code> ({e(p['rubric_digest'])}), seeds "
               f"{e(str(p['seeds']))}, device <code>{e(p['device'])}</code>, torch "
               f"{e(p['versions']['torch'])}, grader {e(p['versions']['grader'])}, graded "
               f"{e(p['graded_at'])} in {m['wall_time_s']:.0f} s; baseline "
               f"{e(', '.join(m['baseline_source'] or ['n/a']))}.</footer></body></html>")
    return "\n".join(out)


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.2%}"
