"""`grade ci [PATH]`: grade the checkout in a CI job (GitHub Actions on a pull request).

Writes into --out the same results.json and report.md as `grade --local`, plus JUnit XML
(one test case per rubric item, valid under Ant's JUnit schema and the Jenkins xUnit
plugin's); when run under GitHub Actions it sets step outputs ($GITHUB_OUTPUT): score,
max_score, pending_points and status, appends the report to the job page
($GITHUB_STEP_SUMMARY) and puts the grade on the run as an annotation (a workflow command
on stdout). Exits like `grade --local` (0, 1 under --fail-under, 3 ungradable). The score is
advisory: the student controls the workflow.

Legacy: GitHub Classroom retired on 2026-08-28. With GRADER_CLASSROOM_RESULT=1 the step also
sets `result`, the base64 JSON its autograding reporter read (always, even when grading
breaks), for a course still running that reporter; Classroom 50 has its own front end
(`grade classroom50`, integrations/classroom50/).
"""
from __future__ import annotations

import base64
import json
import os
import socket
from datetime import datetime, timezone
from fractions import Fraction
from math import ceil, inf, nextafter
from pathlib import Path
from xml.etree import ElementTree as ET

from rich.console import Console

from grader.failures import (EXIT_GRADED, EXIT_INTERNAL, EXIT_UNDER, EXIT_UNGRADABLE, describe,
                             exit_status)
from grader.files import write_atomic
from grader.grading import grade_submission
from grader.i18n import _, choose, use
from grader.report.folder import write_reports
from grader.report.escape import markup, visible, xml_chars
from grader.report.markdown import render_markdown
from grader.report.results import score_line
from grader.report.record import Item, Results
from grader.report.rows import detail, pending_title, plain_name
from grader.report.terminal import render_tables
from grader.rubric import load_rubric


def main(*, path: Path = Path("."), rubric: str = "cifar10", out: Path = Path("grade-report"),
         data_dir: Path | None = None, quick: bool = False, device: str = "auto",
         fail_under: float | None = None, lang: str | None = None,
         console: Console | None = None) -> int:
    console = console or Console(stderr=True)
    if data_dir is None and os.environ.get("GRADER_DATA_DIR"):  # where no flag is typed
        data_dir = Path(os.environ["GRADER_DATA_DIR"])
    try:
        spec = load_rubric(rubric)
        use(choose(lang, spec.language))
        console.print(markup(_("Grading {path} with rubric {rubric}").format(path=path, rubric=spec.name)
                             + " " + _("(CI, advisory)")))
        results = grade_submission(submission=path, rubric=spec, data_dir=data_dir, quick=quick,
                                   device=device, mode="ci", artifacts=out)
    except BaseException as e:
        # The legacy reporter step runs whatever happened (`if: always()`) and dies on an
        # empty `result` ("Unexpected end of JSON input"): leave it one that says what broke.
        step_outputs({"status": "error",
                      **({"result": _encode(crashed_result(e))} if legacy_result() else {})})
        annotate("error", _("grade ci stopped before a grade: {error}").format(
            error=f"{type(e).__name__}: {e}"))
        raise
    code = exit_status(results, fail_under)
    step_outputs(grade_outputs(results, fail_under))  # first: a report failing below costs no grade
    job_summary(results, fail_under, code)
    annotate(*annotation(results, code))
    files = write_reports(results, out)
    files["junit"] = write_atomic(Path(out) / "junit.xml", junit_xml(results))
    console.print(render_tables(results))
    console.print(markup(_("Reports: {files}").format(files=", ".join(str(p) for p in files.values()))))
    return code


# --- GitHub Classroom (retired 2026-08-28; legacy, GRADER_CLASSROOM_RESULT=1) ----------
# Written against classroom-resources/autograding-grading-reporter@v1 (dist/main.js, built
# from src/ at commit 43c2d9f). It reads the grade twice, with two different arithmetics:
# - the annotation Classroom records, "Points X/Y" (src/notify-classroom.js), is the sum
#   of tests[].score over max_score;
# - the log's "Total points for grade: X/Y" (getTestScore, src/helpers/test-helpers.js) is
#   (tests whose status is "pass") / len(tests) x max_score, whatever the points.
# It fails the step when the top-level status is "fail" or "error" (src/main.js), and
# prints " - line <line_no>" after a test's name unless line_no is 0
# (src/console-results.js).
# So every line carries its points for the annotation, and balance lines make the count
# of passed lines read score/max_score in the log.

CLASSROOM_STATUS = {EXIT_GRADED: "pass", EXIT_UNDER: "fail", EXIT_UNGRADABLE: "error",
                    EXIT_INTERNAL: "error"}
MAX_LINES = 200  # past it, the log's total is the nearest fraction with at most 200 lines


def classroom_result(results: Results, fail_under: float | None = None) -> dict:
    """The JSON the reporter reads from `<RUNNER>_RESULTS`: its annotation and its log both
    show score/max_score, and it fails the step only under --fail-under or when the
    submission could not be graded."""
    score, top = results.score, results.max_score
    lines = [_item_line(t) for t in results.tests if not t.pending]
    _settle(lines, score)
    if score < top:  # at full marks one line not passed would lower the log's total
        lines += [_pending_line(t) for t in results.tests if t.pending]
    return {"version": 1, "status": CLASSROOM_STATUS[exit_status(results, fail_under)],
            "max_score": top, "tests": lines + _balance(lines, score, top)}


def crashed_result(error: BaseException) -> dict:
    """What the reporter reads when grading stopped before a grade: an error line it prints,
    and max_score 0, so that no points reach Classroom (notify-classroom.js skips it)."""
    message = f"grade ci stopped before a grade: {type(error).__name__}: {error}"
    return {"version": 1, "status": "error", "max_score": 0,
            "tests": [_line("grade ci", "error", 0, 0, message)]}


def _line(name: str, status: str, score: float, max_score: float, message: str) -> dict:
    # line_no 0: a rubric item has no source line, and 0 is the reporter's "no line"
    return {"name": name, "status": status, "score": score, "max_score": max_score,
            "line_no": 0, "message": message}


def _item_line(t: Item) -> dict:
    name = _("{name}: {score}/{max} points").format(name=plain_name(t.name), score=f"{t.score:g}",
                                                   max=f"{t.max_score:g}")
    return _line(name, "pass" if t.status == "passed" else "fail", t.score, t.max_score, t.output)


def _pending_line(t: Item) -> dict:
    """Never "pass": a person has not graded it yet. Its points are in neither total."""
    return _line(plain_name(pending_title(t)), "fail", 0, 0, detail(t))


def _settle(lines: list[dict], score: float) -> None:
    """Make the reporter's left-to-right float sum of the lines' scores equal `score`
    exactly: results.json rounds the score to 4 decimals, and Python's sum() may add up
    differently from JavaScript's reduce (3.12 compensates)."""
    if not lines:
        return
    partial = 0.0
    for line in lines[:-1]:
        partial += line["score"]
    guess = score - partial
    for last in (guess, nextafter(guess, inf), nextafter(guess, -inf)):
        if partial + last == score:
            lines[-1]["score"] = last
            return


def _balance(lines: list[dict], score: float, top: float) -> list[dict]:
    """Lines worth no points, passed or not, so that passed/total x max_score is the score:
    50/100 with 4 of 5 items passed needs 8 lines, 4 of them passed."""
    if top <= 0:
        return []
    share = (Fraction(score) / Fraction(top)).limit_denominator(MAX_LINES)
    p, n = share.numerator, share.denominator
    passed = sum(line["status"] == "pass" for line in lines)
    rest = len(lines) - passed
    if (passed and not p) or (rest and p == n):
        return []  # a 0-point item passed at 0, or failed at full marks: nothing balances it
    k = max(1, ceil(passed / p) if p else 0, ceil(rest / (n - p)) if n > p else 0)
    why = _("(balance line: the reporter's log counts lines, not points; the grade is "
            "{score}/{max})").format(score=f"{score:g}", max=f"{top:g}")
    return ([_line(why, "pass", 0, 0, why) for _ in range(k * p - passed)]
            + [_line(why, "fail", 0, 0, why) for _ in range(k * (n - p) - rest)])


# --- GitHub Actions -------------------------------------------------------------------

LEGACY_RESULT = "GRADER_CLASSROOM_RESULT"


def legacy_result() -> bool:
    """GitHub Classroom's reporter is retired with Classroom: its `result` only on request."""
    return os.environ.get(LEGACY_RESULT, "").strip().lower() in ("1", "true", "yes")


def grade_outputs(results: Results, fail_under: float | None) -> dict:
    outputs = {"score": f"{results.score:g}", "max_score": f"{results.max_score:g}",
               "pending_points": f"{results.pending_points:g}", "status": results.status}
    if legacy_result():
        outputs["result"] = _encode(classroom_result(results, fail_under))
    return outputs


def annotation(results: Results, code: int) -> tuple[str, str]:
    """The run's annotation: the score (and why it could not be graded), an error when it
    could not be, a warning under the pass mark."""
    level = {EXIT_GRADED: "notice", EXIT_UNDER: "warning"}.get(code, "error")
    message = score_line(results)
    if results.failure:
        message = describe(results.failure) + "\n" + message
    return level, message


def annotate(level: str, message: str, title: str = "tinycnn-grader") -> None:
    """A workflow command on stdout, under GitHub Actions only. Its data is escaped as the
    runner unescapes it (%, CR, LF), so a student's text cannot end the line and start a
    command of its own; the title, a property, also escapes `:` and `,`."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    data = visible(message).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    prop = (visible(title).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            .replace(":", "%3A").replace(",", "%2C"))
    print(f"::{level} title={prop}::{data}", flush=True)


def step_outputs(values: dict) -> None:
    """Append to $GITHUB_OUTPUT (one `key=value` line each; every value is one line)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a") as f:
            f.write("".join(f"{k}={v}\n" for k, v in values.items()))


def job_summary(results: Results, fail_under: float | None, code: int) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        verdict = ("" if fail_under is None else "\n\n**" + (
            _("Below the pass mark of {points} points.") if code == EXIT_UNDER else
            _("At or above the pass mark of {points} points.")).format(points=f"{fail_under:g}") + "**")
        with open(path, "a") as f:
            f.write(render_markdown(results) + verdict + "\n")


def _encode(result: dict) -> str:
    return base64.b64encode(json.dumps(result).encode()).decode()


# --- JUnit XML ------------------------------------------------------------------------
# Valid under both schemas CI tools read JUnit with (vendored in tests/schemas/): Ant's
# (testsuite: properties, testcases, system-out, system-err in that order; timestamp,
# hostname and time required; a testcase holds at most one skipped/failure/error, and
# failure and error need a type) and the Jenkins xUnit plugin's junit-10.xsd (errors
# required). Neither lets a testcase carry points, so they are suite properties.

def junit_xml(results: Results) -> str:
    """One <testcase> per rubric item: passed, failed (or errored, when the grader broke)
    with the item's explanation, or skipped while a person grades it."""
    tests = results.tests
    cases = [_testcase(t, results) for t in tests]
    suite = ET.Element("testsuite", name=f"tinycnn-grader {results.provenance.rubric_name}",
                       tests=str(len(cases)),
                       failures=str(sum(c.find("failure") is not None for c in cases)),
                       errors=str(sum(c.find("error") is not None for c in cases)),
                       skipped=str(sum(c.find("skipped") is not None for c in cases)),
                       time=f"{results.execution_time:.1f}",
                       timestamp=_timestamp(results), hostname=socket.gethostname() or "localhost")
    suite.append(_properties(results))
    suite.extend(cases)
    ET.SubElement(suite, "system-out").text = "\n\n".join(
        f"{plain_name(t.name)}: {t.output}" for t in tests)
    ET.SubElement(suite, "system-err").text = ""
    ET.indent(suite)
    # ElementTree escapes the student's text but writes control characters XML cannot hold
    text = xml_chars(ET.tostring(suite, encoding="unicode"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


def _testcase(t: Item, results: Results) -> ET.Element:
    # time 0: the items are judged from one grading, whose time is the suite's
    case = ET.Element("testcase", classname="rubric", name=plain_name(t.name), time="0")
    points = f"{t.score:g} of {t.max_score:g} points"
    if t.pending:  # a person grades it: neither passed nor failed
        ET.SubElement(case, "skipped", message=f"pending manual grading ({t.max_score:g} "
                                               f"points)").text = t.output
    elif t.status != "passed":
        broke = results.failure_code == "grader_error"
        ET.SubElement(case, "error" if broke else "failure", message=points,
                      type="grader_error" if broke else "rubric").text = t.output
    return case


def _properties(results: Results) -> ET.Element:
    props = ET.Element("properties")
    m = results.metrics
    values = {"score": f"{results.score:g}", "max_score": f"{results.max_score:g}",
              "pending_points": f"{results.pending_points:g}"}
    for key, value in (("accuracy", m.accuracy), ("baseline_accuracy", m.baseline_accuracy),
                       ("gain_pp", m.gain_pp)):
        values[key] = "" if value is None else f"{value:.4f}"
    for t in results.tests:  # a testcase may not carry points in either schema
        values[f"points: {plain_name(t.name)}"] = (
            f"pending/{t.max_score:g}" if t.pending else f"{t.score:g}/{t.max_score:g}")
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=value)
    return props


def _timestamp(results: Results) -> str:
    """When it was graded, in UTC without a zone: Ant's schema allows no zone."""
    when = datetime.strptime(results.provenance.graded_at, "%Y-%m-%dT%H:%M:%S%z")
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
