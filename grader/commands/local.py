"""`grade --local`: a student's check before submitting, with live progress and a final
table; the same results.json and report.md as every other mode."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from grader.grade import grade_submission
from grader.progress import LiveProgress
from grader.report import render_tables, write_reports
from grader.rubric import load_rubric

EXIT_GRADED, EXIT_UNDER, EXIT_USAGE, EXIT_UNGRADABLE = 0, 1, 2, 3


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
    return exit_code(results, fail_under)


def exit_code(results: dict, fail_under: float | None) -> int:
    if results["status"] == "failed":
        return EXIT_UNGRADABLE
    if fail_under is not None and results["score"] < fail_under:
        return EXIT_UNDER
    return EXIT_GRADED
