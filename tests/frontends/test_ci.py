"""`grade ci` under the environment GitHub Actions sets, and the workflow courses copy.

GitHub Classroom's `result` output is legacy (Classroom retired on 2026-08-28): the tests
of what its reporter reads set GRADER_CLASSROOM_RESULT=1, as a course still on it would."""
import base64
import json
from xml.etree import ElementTree as ET

import xmlschema
import yaml

from conftest import REPO, SCHEMAS, SUBMISSIONS
from grader.cli import main as cli
from grader.commands import ci
from support.classroom import reporter
from support.actions import outputs_of

WORKFLOW = REPO / ".github" / "grading" / "grade-pr.yml"


def test_ci_writes_summary_outputs_junit_and_classroom_points(tmp_path, actions_env, fmnist_dir,
                                                              tiny_rubric):
    summary, outputs = actions_env
    out = tmp_path / "report"
    code = cli(["ci", str(REPO / "student_template"), "--rubric", str(tiny_rubric), "--quick",
                "--data-dir", str(fmnist_dir), "--out", str(out), "--fail-under", "1000"])
    assert code == 1  # graded, under the pass mark
    text = summary.read_text()
    assert "## Rubric" in text and "Below the pass mark of 1000 points" in text
    assert "UNOFFICIAL" in text  # advisory, and says so on the job page
    o = outputs_of(outputs)
    results = json.loads((out / "results.json").read_text())
    assert float(o["score"]) == results["score"] and o["status"] == "graded"
    classroom = json.loads(base64.b64decode(o["result"]))
    assert classroom["version"] == 1 and classroom["max_score"] == results["max_score"]
    assert sum(t["score"] for t in classroom["tests"]) == results["score"]
    assert {t["status"] for t in classroom["tests"]} <= {"pass", "fail"}
    seen = reporter(o["result"])  # what the reporter step shows and records
    assert seen["annotation"] == f"Points {results['score']:g}/{results['max_score']:g}"
    assert f"Total points for grade: {results['score']:.2f}/{results['max_score']:g}" in seen["log"]
    assert seen["step_failed"]  # under --fail-under 1000, like the grade step
    suite = ET.parse(out / "junit.xml").getroot()
    cases = suite.findall("testcase")
    assert len(cases) == len(results["tests"]) == int(suite.get("tests"))
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == int(suite.get("failures")) == sum(
        t["status"] == "failed" for t in results["tests"])
    for name in ("ant-junit.xsd", "jenkins-xunit-junit-10.xsd"):
        xmlschema.XMLSchema(SCHEMAS / name).validate(out / "junit.xml")


def test_ci_exit_codes_follow_the_spec(tmp_path, actions_env, fmnist_dir, tiny_rubric):
    summary, outputs = actions_env
    args = ["--rubric", str(tiny_rubric), "--quick", "--data-dir", str(fmnist_dir)]
    assert cli(["ci", str(REPO / "student_template"), *args, "--out", str(tmp_path / "a"),
                "--fail-under", "0"]) == 0
    assert cli(["ci", str(SUBMISSIONS / "fails_syntax_error.py"), *args,
                "--out", str(tmp_path / "b")]) == 3
    classroom = json.loads(base64.b64decode(outputs_of(outputs)["result"]))
    assert classroom["status"] == "error"  # the second run's line comes last
    assert cli(["ci", "--rubric", str(tmp_path / "missing.yaml")]) == 2
    # no grade, but still a result the reporter reads (an empty one kills it)
    assert reporter(outputs_of(outputs)["result"])["log"][0].startswith(
        "Error: grade ci stopped before a grade: RubricError")


def test_a_grading_that_breaks_still_leaves_the_reporter_a_result(actions_env, monkeypatch):
    _, outputs = actions_env

    def broken(**_):
        raise RuntimeError("the grader broke")
    monkeypatch.setattr(ci, "grade_submission", broken)
    assert cli(["ci", str(REPO / "student_template"), "--rubric", "cifar10"]) == 4
    o = outputs_of(outputs)
    seen = reporter(o["result"])
    assert o["status"] == "error" and seen["step_failed"] and seen["annotation"] is None
    assert "RuntimeError: the grader broke" in seen["log"][0]


def test_the_pr_workflow_runs_grade_ci_and_uploads_its_reports():
    flow = yaml.safe_load(WORKFLOW.read_text())
    steps = flow["jobs"]["grade"]["steps"]
    grade = next(s for s in steps if s.get("id") == "grade")
    assert grade["run"].startswith("grade ci") and "--out grade-report" in grade["run"]
    assert not any("autograding-grading-reporter" in s.get("uses", "") for s in steps)
    assert any("upload-artifact" in s.get("uses", "") for s in steps)


def test_without_the_legacy_switch_there_is_no_classroom_result_and_the_run_is_annotated(
        tmp_path, actions_env, monkeypatch, fmnist_dir, tiny_rubric, capfd):
    summary, outputs = actions_env
    monkeypatch.delenv(ci.LEGACY_RESULT)
    monkeypatch.setenv("GRADER_DATA_DIR", str(fmnist_dir))  # the data, where no flag is typed
    code = cli(["ci", str(SUBMISSIONS / "fails_forward_error_injects_markdown_and_html.py"),
                "--rubric", str(tiny_rubric), "--quick", "--out", str(tmp_path / "out")])
    assert code == 3
    o = outputs_of(outputs)
    assert "result" not in o and o["status"] == "failed" and "score" in o
    printed = capfd.readouterr().out
    commands = [line for line in printed.splitlines() if line.startswith("::")]
    # one annotation, an error; the student's newlines cannot start a command of their own
    assert len(commands) == 1 and commands[0].startswith("::error title=tinycnn-grader::")
    assert "%0A" in commands[0] and f"Score {o['score']} / {o['max_score']}" in commands[0]
