"""`grade --local`: a student's check before submitting, with live progress and a final
table; the same results.json and report.md as every other mode."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from grader.failures import exit_status
from grader.grading import grade_submission
from grader.i18n import _, choose, use
from grader.report.escape import markup
from grader.report.terminal import LiveProgress, render_tables
from grader.report.folder import write_reports
from grader.rubric import load_rubric

def main(*, path: Path = Path("."), rubric: str = "cifar10", out: Path = Path("grade-report"),
         data_dir: Path | None = None, quick: bool = False, device: str = "auto",
         fail_under: float | None = None, use_cache: bool = True, as_json: bool = False,
         lang: str | None = None, console: Console | None = None) -> int:
    console = console or Console(stderr=as_json)
    spec = load_rubric(rubric)
    use(choose(lang, spec.language))
    if as_json:
        results = grade_submission(submission=path, rubric=spec, data_dir=data_dir, quick=quick,
                                   device=device, use_cache=use_cache, artifacts=out)
    else:
        console.print(_("Grading {path} with rubric {rubric}").format(
            path=f"[bold]{markup(path)}[/]", rubric=f"[bold]{markup(spec.name)}[/]")
                      + (" [yellow]" + _("(quick, unofficial)") + "[/]" if quick else ""))
        with LiveProgress(console) as progress:
            results = grade_submission(submission=path, rubric=spec, data_dir=data_dir,
                                       quick=quick, device=device, use_cache=use_cache,
                                       artifacts=out, on_event=progress)
    files = write_reports(results, out)
    if as_json:
        print(json.dumps(results.dump(), indent=2, default=str))
    else:
        console.print(render_tables(results))
        console.print("[dim]" + markup(_("Reports: {files}").format(
            files=f"{files['results']}, {files['markdown']}, {files['html']}")) + "[/]")
    return exit_status(results, fail_under)
