"""`grade --local`: a student's check before submitting, with live progress and a final
table; the same results.json and report.md as every other mode."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from grader.failures import exit_status
from grader.grading import grade_submission
from grader.report.terminal import LiveProgress, render_tables
from grader.report.folder import write_reports
from grader.rubric import load_rubric

def main(*, path: Path = Path("."), rubric: str = "cifar10", out: Path = Path("grade-report"),
         data_dir: Path | None = None, quick: bool = False, device: str = "auto",
         fail_under: float | None = None, use_cache: bool = True, as_json: bool = False,
         console: Console | None = None) -> int:
    console = console or Console(stderr=as_json)
    spec = load_rubric(rubric)
    if as_json:
        results = grade_submission(submission=path, rubric=spec, data_dir=data_dir, quick=quick,
                                   device=device, use_cache=use_cache, artifacts=out)
    else:
        console.print(f"Grading [bold]{path}[/] with rubric [bold]{spec.name}[/]"
                      + (" [yellow](quick, unofficial)[/]" if quick else ""))
        with LiveProgress(console) as progress:
            results = grade_submission(submission=path, rubric=spec, data_dir=data_dir,
                                       quick=quick, device=device, use_cache=use_cache,
                                       artifacts=out, on_event=progress)
    files = write_reports(results, out)
    if as_json:
        print(json.dumps(results, indent=2, default=str))
    else:
        console.print(render_tables(results))
        console.print(f"[dim]Reports: {files['results']}, {files['markdown']}[/]")
    return exit_status(results, fail_under)
