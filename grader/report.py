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
from grader.figures import training_curves_png
from grader.html_report import render_html
from grader.results import write_json, write_text


def write_reports(results: dict, out_dir: Path) -> dict[str, Path]:
    """results.json first (the record), then the human reports made from it."""
    out_dir = Path(out_dir)
    files = {"results": out_dir / "results.json", "markdown": out_dir / "report.md",
             "html": out_dir / "report.html"}
    write_json(files["results"], results)
    write_text(files["markdown"], render_markdown(results))
    curves = training_curves_png(results)
    if curves:
        files["curves"] = write_text(out_dir / "curves.png", curves)
    write_text(files["html"], render_html(results, curves))
    return files


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _status(results) -> str:
    return "FAILED" if results["status"] == "failed" else "graded"


def render_markdown(results: dict) -> str:
    m, sub = results["metrics"], results["submission"]
    title = results["provenance"]["rubric"]["title"] or results["provenance"]["rubric_name"]
    out = [f"# {title}: {sub['name']}", ""]
    if results["notice"]:
        out += [f"> **{results['notice']}**", ""]
    if results["anomaly"]:
        out += [f"> **FLAGGED FOR REVIEW:** {results['anomaly']}", ""]
    out += [f"**Score: {results['score']:g} / {results['max_score']:g}** ({_status(results)})", ""]
    if results["failure"]:
        out += ["## Why it could not be graded", "", "```", describe(results["failure"]), "```", ""]
    out += ["| | Your model | Baseline |", "|---|---:|---:|",
            f"| Test accuracy | {_pct(m['accuracy'])} | {_pct(m['baseline_accuracy'])} |",
            f"| Parameters | {_int(m['parameters'])} | {_int(m['baseline_parameters'])} |",
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
        mark = "✅" if t["status"] == "passed" else "❌"
        out.append(f"| {mark} {t['name']} | {t['score']:g} / {t['max_score']:g} | "
                   f"{t['output'].replace('|', '/')} |")
    out.append("")
    if sub["customised_hooks"] is not None:
        out += ["## Your hooks", "", "Customised: " + (", ".join(f"`{h}`" for h in sub["customised_hooks"])
                                                       or "none (all from the baseline)"), ""]
    if sub["notes"]:
        out += ["Notes:", ""] + [f"- {n}" for n in sub["notes"]] + [""]
    if results["model"]["layers"]:
        out += ["## Model summary", "", "| Layer | Type | Output shape | Parameters |",
                "|---|---|---|---:|"]
        out += [f"| `{layer['name']}` | {layer['type']} | {_shape(layer['output_shape'])} | "
                f"{layer['parameters']:,} |" for layer in results["model"]["layers"]]
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
    layers = results["model"]["layers"]
    if layers:
        summary = Table(title="Model summary", show_lines=False)
        for col, just in (("Layer", "left"), ("Type", "left"), ("Output shape", "left"),
                          ("Params", "right")):
            summary.add_column(col, justify=just)
        for layer in layers:
            summary.add_row(layer["name"], layer["type"], _shape(layer["output_shape"]),
                            f"{layer['parameters']:,}")
        summary.caption = f"{m['parameters']:,} trainable parameters"
        parts.append(summary)
    rubric = Table(title="Rubric")
    rubric.add_column("")
    rubric.add_column("Item")
    rubric.add_column("Points", justify="right")
    rubric.add_column("Details", overflow="fold")
    for t in results["tests"]:
        ok = t["status"] == "passed"
        rubric.add_row(Text("✓" if ok else "✗", style="green" if ok else "red"), t["name"],
                       f"{t['score']:g}/{t['max_score']:g}", t["output"])
    parts.append(rubric)
    line = Text()
    line.append(f"Score {results['score']:g} / {results['max_score']:g}", style="bold")
    if m["accuracy"] is not None and m["baseline_accuracy"] is not None:
        line.append(f"   accuracy {m['accuracy']:.2%} vs baseline {m['baseline_accuracy']:.2%} "
                    f"({m['gain_pp']:+.2f} pp)")
    line.append(f"   {m['device']}, {m['wall_time_s']:.0f} s")
    parts.append(line)
    for note in results["submission"]["notes"]:
        parts.append(Text(f"note: {note}", style="dim"))
    return Group(*parts)


def _shape(shape) -> str:
    return "?" if shape is None else "×".join(str(s) for s in shape)


def _int(v) -> str:
    return "n/a" if v is None else f"{v:,}"
