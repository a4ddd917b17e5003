"""report.md: the Markdown report, a pure renderer of the one results object
(grader.report.results). The GitHub job summary and Gradescope's output use it too."""
from __future__ import annotations

from grader.failures import describe
from grader.report.results import score_line
from grader.load.answers import is_pending
from grader.report.rows import (MARKS, PICTURES, baseline_summary, count, detail, gain_summary,
                               pending_title, points, state, summary_rows)


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
    if results.get("amendment"):  # grader/batch/amend.py: a person's grade beside the automatic one
        out += [f"> **Amended by the instructor:** {results['amendment']['reason']}. Automatic "
                f"score: {results['automatic']['score']:g} / {results['automatic']['max_score']:g}.", ""]
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
        out += [f"Gain: **{gain_summary(m)}** over the baseline, {baseline_summary(m)}.", ""]
        if m.get("extra_seeds"):
            out += [f"{m['extra_seeds']} extra seed(s) were run because the interval straddled "
                    "a tier boundary.", ""]
    out += ["## Rubric", "", "| Item | Points | Details |", "|---|---:|---|"]
    for t in results["tests"]:
        out.append(f"| {MARKS[state(t)]} {t['name']} | {points(t)} | "
                   f"{detail(t).replace('|', '/')} |")
    out.append("")
    for t in results["tests"]:
        if is_pending(t):
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
