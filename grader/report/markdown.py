"""Human reports, rendered from the one results object (grader.results).

`render_markdown` and `render_tables` are pure; `write_reports` puts results.json and
report.md in the output folder, each written atomically.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.failures import describe
from grader.figures import confusion_png, per_class_png, training_curves_png
from grader.html_report import render_html
from grader.results import score_line, write_json, write_text
from grader.tables import MARKS, PICTURES, count, detail, pending_title, points, summary_rows


def write_reports(results: dict, out_dir: Path) -> dict[str, Path]:
    """results.json first (the record), then the human reports made from it."""
    out_dir = Path(out_dir)
    files = {"results": out_dir / "results.json", "markdown": out_dir / "report.md",
             "html": out_dir / "report.html"}
    write_json(files["results"], results)
    pictures = {}
    for name, png in (("curves", training_curves_png(results)),
                      ("per_class", _per_class(results)), ("confusion", _confusion(results))):
        if png:
            files[name] = write_text(out_dir / f"{name}.png", png)
            pictures[name] = png
    if "gallery.png" in results.get("artifacts", []) and (out_dir / "gallery.png").is_file():
        pictures["gallery"] = (out_dir / "gallery.png").read_bytes()
    write_text(files["markdown"], render_markdown(results, pictures))
    write_text(files["html"], render_html(results, pictures))
    return files


def _per_class(results):
    m = results["metrics"]
    if not m.get("per_class") or not m.get("classes"):
        return None
    return per_class_png(m["classes"], m["per_class"]["student"], m["per_class"]["baseline"])


def _confusion(results):
    m = results["metrics"]
    matrix = (m.get("confusion") or {}).get("student")
    return confusion_png(m["classes"], matrix, "Your model: confusion on the test set") if matrix else None


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _status(results) -> str:
    return "FAILED" if results["status"] == "failed" else "graded"


def render_markdown(results: dict, pictures: dict | None = None) -> str:
    """`pictures`: the PNGs written beside report.md, linked by file name."""
    m, sub = results["metrics"], results["submission"]
    title = results["provenance"]["rubric"]["title"] or results["provenance"]["rubric_name"]
    out = [f"# {title}: {sub['name']}", ""]
    if results["notice"]:
        out += [f"> **{results['notice']}**", ""]
    if results["anomaly"]:
        out += [f"> **FLAGGED FOR REVIEW:** {results['anomaly']}", ""]
    out += [f"**{score_line(results)}** ({_status(results)})", ""]
    if results["failure"]:
        out += ["## Why it could not be graded", "", "```", describe(results["failure"]), "```", ""]
    out += ["| | Your model | Baseline |", "|---|---:|---:|",
            f"| Test accuracy | {_pct(m['accuracy'])} | {_pct(m['baseline_accuracy'])} |",
            f"| Parameters | {count(m['parameters'])} | {count(m['baseline_parameters'])} |",
            f"| Epochs | {m['epochs'] or 'n/a'} | |", ""]
    if m.get("pipeline"):
        out += [f"Augmentation ran on the {m['pipeline']['train']} path (test transform: "
                f"{m['pipeline']['test']}); `batched` means whole batches with a random draw "
                "per image, `per-image` means torchvision image by image.", ""]
    if m["gain_pp"] is not None:
        out += [f"Gain: **{m['gain_pp']:+.2f} percentage points** over the baseline "
                f"({', '.join(m['baseline_source'] or [])} baseline).", ""]
    out += ["## Rubric", "", "| Item | Points | Details |", "|---|---:|---|"]
    for t in results["tests"]:
        out.append(f"| {MARKS[t['status']]} {t['name']} | {points(t)} | "
                   f"{detail(t).replace('|', '/')} |")
    out.append("")
    for t in results["tests"]:
        if t["status"] == "pending":
            out += [f"## {pending_title(t)}", ""]
            if t.get("question"):
                out += [f"*{t['question']}*", ""]
            if t.get("answer"):
                out += [f"Answer from {t['answer_source']}:", ""] + \
                       ["> " + line for line in t["answer"].splitlines()] + [""]
            else:
                out += [f"No answer found: {t['answer_source']}.", ""]
    if sub["customised_hooks"] is not None:
        out += ["## Your hooks", "", "Customised: " + (", ".join(f"`{h}`" for h in sub["customised_hooks"])
                                                       or "none (all from the baseline)"), ""]
    if sub["notes"]:
        out += ["Notes:", ""] + [f"- {n}" for n in sub["notes"]] + [""]
    if results["model"]["layers"]:
        out += ["## Model summary", "", "Output shapes are per image; a batch adds N in front.", "",
                "| Layer | Type | Output shape | Expected | Parameters | |",
                "|---|---|---|---|---:|---|"]
        for r in summary_rows(results):
            name = f"**`{r['name']}`**" if r["block"] else f"`{r['name']}`"
            ok = {True: " ✅", False: " ❌", None: ""}[r["ok"]]
            mark = f"⬅ **{r['mark']}**".replace("|", "/") if r["mark"] else ""
            out.append(f"| {name} | {r['type']} | {r['shape']} | {r['expected']}{ok} | "
                       f"{count(r['parameters'])} | {mark} |")
        out.append("")
    if pictures:
        out += ["## Pictures", ""]
        for key, (file, caption) in PICTURES.items():
            if key in pictures:
                out += [f"![{caption}]({file})", "", f"*{caption}.*", ""]
        pc = results["metrics"].get("per_class") or {}
        if pc.get("student"):
            out += ["| Class | Yours | Baseline |", "|---|---:|---:|"]
            base = pc.get("baseline") or [None] * len(pc["student"])
            out += [f"| {c} | {_pct(s)} | {_pct(b)} |"
                    for c, s, b in zip(results["metrics"]["classes"], pc["student"], base)]
            out.append("")
    for who, runs in results["history"].items():
        for hist in runs:
            if hist:
                out += [f"## Training: {who}", "", "| Epoch | Train loss | Val accuracy | Seconds |",
                        "|---:|---:|---:|---:|"]
                out += [f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val_accuracy']:.2%} | "
                        f"{h['seconds']:.1f} |" for h in hist]
                out.append("")
    p = results["provenance"]
    out += ["## Provenance", "",
            f"Rubric `{p['rubric_name']}` ({p['rubric_digest']}), seeds {p['seeds']}, device "
            f"`{p['device']}`, torch {p['versions']['torch']}, torchvision "
            f"{p['versions']['torchvision']}, grader {p['versions']['grader']}; data "
            f"{p['data']['name']} ({p['data']['digest']}); submission {p['code']['submission']}; "
            f"graded {p['graded_at']} in {m['wall_time_s']:.0f} s.", ""]
    if p.get("isolation"):
        out += ["Isolation of the submission's code: " + "; ".join(
            f"{k}: {v}" for k, v in p["isolation"].items()) + ".", ""]
    return "\n".join(out)


def render_tables(results: dict) -> Group:
    """The final screen of `grade --local`: readable in five seconds."""
    m = results["metrics"]
    parts = []
    if results["notice"]:
        parts.append(Text(results["notice"], style="bold yellow"))
    if results["anomaly"]:
        parts.append(Text("FLAGGED FOR REVIEW: " + results["anomaly"], style="bold red"))
    if results["failure"]:
        parts.append(Panel(describe(results["failure"]), title="Could not be graded",
                           border_style="red"))
    if results["model"]["layers"]:
        summary = Table(title="Model summary (output shape per image)", show_lines=False)
        for col, just in (("Layer", "left"), ("Type", "left"), ("Output", "left"),
                          ("Expected", "left"), ("Params", "right"), ("", "left")):
            summary.add_column(col, justify=just)
        for r in summary_rows(results):
            ok = {True: ("✓", "green"), False: ("✗", "red"), None: ("", "")}[r["ok"]]
            summary.add_row(Text(r["name"], style="bold" if r["block"] else ""), r["type"],
                            Text(r["shape"], style="red" if r["ok"] is False else ""),
                            Text(f"{r['expected']} {ok[0]}".strip(), style=ok[1]),
                            count(r["parameters"]), Text(f"◀ {r['mark']}" if r["mark"] else "",
                                                        style="bold red"))
        summary.caption = f"{count(m['parameters'])} trainable parameters"
        parts.append(summary)
    rubric = Table(title="Rubric")
    rubric.add_column("")
    rubric.add_column("Item")
    rubric.add_column("Points", justify="right")
    rubric.add_column("Details", overflow="fold")
    for t in results["tests"]:
        sign, style = {"passed": ("✓", "green"), "failed": ("✗", "red"),
                       "pending": ("…", "yellow")}[t["status"]]
        rubric.add_row(Text(sign, style=style), t["name"], points(t), detail(t))
    parts.append(rubric)
    line = Text()
    line.append(score_line(results), style="bold")
    if m["accuracy"] is not None and m["baseline_accuracy"] is not None:
        line.append(f"   accuracy {m['accuracy']:.2%} vs baseline {m['baseline_accuracy']:.2%} "
                    f"({m['gain_pp']:+.2f} pp)")
    line.append(f"   {m['device']}, {m['wall_time_s']:.0f} s")
    parts.append(line)
    for note in results["submission"]["notes"]:
        parts.append(Text(f"note: {note}", style="dim"))
    return Group(*parts)
