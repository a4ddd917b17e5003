"""`grade ci [PATH]`: grade the checkout in a CI job (GitHub Actions on a pull request).

Writes into --out the same results.json and report.md as `grade --local`, plus JUnit XML
(one test case per rubric item, for CI test tabs); when run under GitHub Actions it
appends the report to the job page ($GITHUB_STEP_SUMMARY) and sets step outputs
($GITHUB_OUTPUT): score, max_score, pending_points, status, and `result`, the base64 JSON that GitHub
Classroom's autograding reporter reads. Exits like `grade --local` (0, 1 under
--fail-under, 3 ungradable). The score is advisory: the student controls the workflow.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from xml.etree import ElementTree as ET

from rich.console import Console

from grader.failures import exit_status
from grader.grading import grade_submission
from grader.report.folder import write_reports
from grader.report.markdown import render_markdown
from grader.report.terminal import render_tables
from grader.files import write_atomic
from grader.rubric import load_rubric
from grader.report.rows import detail, pending_title


def main(*, path: Path = Path("."), rubric: str = "cifar10", out: Path = Path("grade-report"),
         data_dir: Path | None = None, quick: bool = False, device: str = "auto",
         fail_under: float | None = None, console: Console | None = None) -> int:
    console = console or Console(stderr=True)
    spec = load_rubric(rubric)
    console.print(f"Grading {path} with rubric {spec.name} (CI, advisory)")
    results = grade_submission(submission=path, rubric=spec, data_dir=data_dir, quick=quick,
                               device=device, mode="ci", artifacts=out)
    files = write_reports(results, out)
    files["junit"] = write_atomic(Path(out) / "junit.xml", junit_xml(results))
    code = exit_status(results, fail_under)
    github_outputs(results, fail_under, code)
    console.print(render_tables(results))
    console.print("Reports: " + ", ".join(str(p) for p in files.values()))
    return code


def junit_xml(results: dict) -> str:
    """One <testcase> per rubric item: passed, or failed with the item's explanation."""
    tests = results["tests"]
    suite = ET.Element("testsuite", name=f"tinycnn-grader {results['provenance']['rubric_name']}",
                       tests=str(len(tests)),
                       failures=str(sum(t["status"] == "failed" for t in tests)),
                       skipped=str(sum(t["status"] == "pending" for t in tests)),
                       time=f"{results['execution_time']:.1f}")
    props = ET.SubElement(suite, "properties")
    for key in ("score", "max_score", "pending_points"):
        ET.SubElement(props, "property", name=key, value=f"{results.get(key, 0):g}")
    for key in ("accuracy", "baseline_accuracy", "gain_pp"):
        value = results["metrics"].get(key)
        ET.SubElement(props, "property", name=key, value="" if value is None else f"{value:.4f}")
    for t in tests:
        case = ET.SubElement(suite, "testcase", classname="rubric", name=t["name"])
        case.set("points", f"{t['score']:g}/{t['max_score']:g}")
        if t["status"] == "pending":  # a person grades it: neither passed nor failed
            ET.SubElement(case, "skipped", message=f"pending manual grading "
                                                   f"({t['max_score']:g} points)")
        elif t["status"] != "passed":
            failure = ET.SubElement(case, "failure", message=f"{t['score']:g} of {t['max_score']:g} points")
            failure.text = t["output"]
        ET.SubElement(case, "system-out").text = t["output"]
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def classroom_result(results: dict) -> dict:
    """The JSON GitHub Classroom's autograding reporter reads from `<ID>_RESULTS`."""
    return {
        "version": 1,
        "status": "error" if results["status"] == "failed" else
                  ("pass" if results["score"] >= results["max_score"] else "fail"),
        "max_score": results["max_score"],
        "tests": [_classroom_test(t) for t in results["tests"]],
    }


def _classroom_test(t: dict) -> dict:
    if t["status"] == "pending":  # out of the autograded total: a person adds these points
        return {"name": pending_title(t),
                "status": "pass", "score": 0, "max_score": 0, "message": detail(t)}
    return {"name": t["name"], "status": "pass" if t["status"] == "passed" else "fail",
            "score": t["score"], "max_score": t["max_score"], "message": t["output"]}


def github_outputs(results: dict, fail_under: float | None, code: int) -> None:
    summary, outputs = os.environ.get("GITHUB_STEP_SUMMARY"), os.environ.get("GITHUB_OUTPUT")
    if summary:
        verdict = ("" if fail_under is None else
                   f"\n\n**{'Below' if code == 1 else 'At or above'} the pass mark of "
                   f"{fail_under:g} points.**")
        with open(summary, "a") as f:
            f.write(render_markdown(results) + verdict + "\n")
    if outputs:
        encoded = base64.b64encode(json.dumps(classroom_result(results)).encode()).decode()
        with open(outputs, "a") as f:
            f.write(f"score={results['score']:g}\nmax_score={results['max_score']:g}\n"
                    f"pending_points={results.get('pending_points', 0):g}\n"
                    f"status={results['status']}\nresult={encoded}\n")
