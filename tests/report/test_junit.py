"""`grade ci`'s junit.xml against the schemas CI tools read JUnit with: Ant's JUnit schema
and the Jenkins xUnit plugin's junit-10.xsd (vendored in tests/schemas/, with their source
and license)."""
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from conftest import SCHEMAS
from grader.commands.ci import junit_xml
from grader.failures import Failure, failure_dict
from grader.report.record import Item
from support.results import golden


@pytest.fixture(scope="module", params=["ant-junit.xsd", "jenkins-xunit-junit-10.xsd"])
def schema(request):
    return xmlschema.XMLSchema(SCHEMAS / request.param)


def item(name, score, max_score, status):
    """status "pending" makes a written answer: failed, tagged pending, as grading does."""
    return Item(name=name, score=float(score), max_score=float(max_score),
                status="failed" if status == "pending" else status,
                output=f"{name}: <{score:g}> & more",
                tags=[name, "pending"] if status == "pending" else [name])


def results_of(tests, failure=None):
    r = golden()
    r.tests, r.failure = tests, failure
    r.score = sum(t.score for t in tests if not t.pending)
    r.max_score = sum(t.max_score for t in tests if not t.pending)
    r.pending_points = sum(t.max_score for t in tests if t.pending)
    r.execution_time, r.status = 83.4, "failed" if failure else "graded"
    r.metrics.accuracy, r.metrics.baseline_accuracy, r.metrics.gain_pp = 0.7135, 0.7, 1.35
    r.provenance.rubric_name, r.provenance.graded_at = "cifar10", "2026-11-23T10:04:05+0100"
    return r


CASES = {
    "graded": results_of([item("Output shape of `conv1`", 5, 5, "passed"),
                          item("Accuracy gain over the baseline", 20, 70, "failed"),
                          item("Written answer", 0, 10, "pending")]),
    "ungradable": results_of([item("Model returns logits", 0, 5, "failed")],
                             failure=Failure(**failure_dict("syntax_error", "line 5"))),
    "grader broke": results_of([item("Trains to the end", 0, 15, "failed")],
                               failure=Failure(**failure_dict("grader_error", "bug"))),
    "no items": results_of([]),
}


@pytest.mark.parametrize("case", CASES)
def test_junit_xml_is_valid_under_both_schemas(schema, case):
    schema.validate(junit_xml(CASES[case]))


def test_counts_points_and_names_read_right():
    suite = ET.fromstring(junit_xml(CASES["graded"]))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("3", "1", "0", "1")
    assert suite.get("timestamp") == "2026-11-23T09:04:05"  # UTC, no zone (Ant's pattern)
    cases = suite.findall("testcase")
    assert cases[0].get("name") == "Output shape of conv1"  # no Markdown backticks
    assert cases[1].find("failure").get("type") == "rubric"
    assert cases[1].find("failure").get("message") == "20 of 70 points"
    assert cases[2].find("skipped") is not None and cases[2].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["points: Output shape of conv1"] == "5/5"
    assert props["points: Written answer"] == "pending/10"
    assert props["score"] == "25" and props["gain_pp"] == "1.3500"


def test_a_grader_error_is_an_error_not_the_students_failure():
    suite = ET.fromstring(junit_xml(CASES["grader broke"]))
    assert (suite.get("failures"), suite.get("errors")) == ("0", "1")
    assert suite.find("testcase/error").get("type") == "grader_error"
