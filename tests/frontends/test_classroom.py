"""What GitHub Classroom's autograding reporter makes of `grade ci`'s `result`, computed
with the reporter's own arithmetic: the grade in its log and in its annotation, and a red
step only under --fail-under or for a submission that could not be graded."""

import pytest

from grader.commands import ci
from grader.failures import Failure, failure_dict
from grader.report.record import Item
from support.results import golden
from support.classroom import js_str, reporter


# --- classroom-resources/autograding-grading-reporter@v1, re-implemented --------------
# Read from its source at commit 43c2d9f (the v1 tag's dist/main.js is built from it):
# src/main.js (parse <RUNNER>_RESULTS, fail the step on status "fail" or "error"),
# src/console-results.js ConsoleResults (a log line per test, "Total points"),
# src/helpers/test-helpers.js getTestScore (passed tests / tests x max_score),
# src/aggregate-results.js AggregateResults (the summary table) and
# src/notify-classroom.js NotifyClassroom (the annotation Classroom records: the sum of
# tests[].score, skipped when max_score is 0).


# --- synthetic results ----------------------------------------------------------------

def item(name, score, max_score, status=None):
    return Item(name=name, score=float(score), max_score=float(max_score),
                status=status or ("passed" if score >= max_score else "failed"),
                output=f"{name}: {score:g} of {max_score:g}", tags=[name])


def pending(name, points):
    return Item(name=name, score=0.0, max_score=float(points), status="failed",
                output=f"Pending manual grading ({points:g} points).", tags=["manual", "pending"],
                answer="because", answer_source="answers.md")


def results_of(items, status="graded"):
    graded = [t for t in items if not t.pending]
    r = golden()
    r.tests, r.status = items, status
    r.score = round(sum(t.score for t in graded), 4)
    r.max_score = sum(t.max_score for t in graded)
    r.pending_points = sum(t.max_score for t in items if t.pending)
    r.failure = Failure(**failure_dict("syntax_error", "x")) if status == "failed" else None
    return r


def checks(passed=3):
    return [item(f"Check {i} of `conv{i}`", 5 if i < passed else 0, 5) for i in range(3)]


GRADES = {  # name: (items, status); each result's score/max is what the reporter must show
    "zero": (checks(0) + [item("Trains", 0, 15), item("Gain", 0, 70)], "graded"),
    "50/100": (checks(3) + [item("Trains", 15, 15), item("Gain", 20, 70)], "graded"),
    "45/110 and a pending answer": (checks(3) + [item("Trains", 15, 15), item("Gain", 15, 80),
                                                 pending("Written answer", 10)], "graded"),
    "100/100": (checks(3) + [item("Trains", 15, 15), item("Gain", 70, 70)], "graded"),
    "100/100 and a pending answer": (checks(3) + [item("Trains", 15, 15), item("Gain", 70, 70),
                                                  pending("Written answer", 10)], "graded"),
    "ungradable, 10/100": (checks(2) + [item("Trains", 0, 15), item("Gain", 0, 70)], "failed"),
}


@pytest.mark.parametrize("name", GRADES)
@pytest.mark.parametrize("fail_under", [None, 0, 50, 60])
def test_the_reporter_shows_exactly_the_grade_and_fails_only_under_the_pass_mark(name, fail_under):
    items, status = GRADES[name]
    results = results_of(items, status)
    score, top = results.score, results.max_score
    seen = reporter(ci._encode(ci.classroom_result(results, fail_under)))
    assert seen["annotation"] == f"Points {js_str(score)}/{js_str(top)}"
    assert f"Total points for grade: {score:.2f}/{top:g}" in seen["log"]
    assert seen["table"] == (js_str(score), js_str(top))  # the raw number, no rounding
    under = fail_under is not None and score < fail_under
    assert seen["step_failed"] == (under or status == "failed")
    assert not any("undefined" in line for line in seen["log"])
    assert not any("`" in line for line in seen["log"])  # Markdown code spans, as text


@pytest.mark.parametrize("name", ["45/110 and a pending answer", "100/100 and a pending answer"])
def test_a_pending_answer_is_never_passed_and_never_fails_the_step(name):
    items, _ = GRADES[name]
    result = ci.classroom_result(results_of(items))
    lines = [t for t in result["tests"] if "pending manual grading" in t["name"]]
    assert all(t["status"] != "pass" and t["score"] == 0 for t in lines)
    assert result["status"] == "pass"  # no --fail-under: graded is a green step


def test_item_lines_name_their_points_and_balance_lines_say_why():
    items, _ = GRADES["50/100"]
    lines = ci.classroom_result(results_of(items))["tests"]
    assert lines[3]["name"] == "Trains: 15/15 points" and lines[3]["status"] == "pass"
    assert lines[0]["name"] == "Check 0 of conv0: 5/5 points"
    balance = lines[len(items):]
    assert len(lines) == 8 and all("counts lines, not points" in t["name"] for t in balance)
    assert sum(t["status"] == "pass" for t in lines) == 4


@pytest.mark.parametrize("top", [100, 110, 95, 120])
def test_every_whole_grade_reads_the_same_in_the_log_and_the_annotation(top):
    """Any score out of a maximum: the annotation is exact, the log's total reads the same
    to the cent, and the log stays short. (The summary table prints the raw float: for a
    few grades, 7/100 among them, JavaScript's 7/100*100 is 7.000000000000001 whatever the
    lines, since any n and p with p/n = 7/100 give the same float.)"""
    for score in range(top + 1):
        results = results_of([item("Checks", min(score, 10), 10), item("Gain", max(score - 10, 0),
                                                                        top - 10)])
        result = ci.classroom_result(results)
        seen = reporter(ci._encode(result))
        assert seen["annotation"] == f"Points {score}/{top}"
        assert f"Total points for grade: {score}.00/{top}" in seen["log"]
        assert abs(float(seen["table"][0]) - score) < 1e-9
        assert len(result["tests"]) <= top


def test_a_fractional_score_reaches_classroom_exactly():
    items = [item("Checks", 10, 10), item("Gain", 23.3333, 70), item("Trains", 0.1, 0.2)]
    results = results_of(items)
    seen = reporter(ci._encode(ci.classroom_result(results)))
    assert seen["annotation"] == f"Points {js_str(results.score)}/{js_str(results.max_score)}"


def test_a_grading_that_broke_still_gives_the_reporter_a_result_and_no_points():
    seen = reporter(ci._encode(ci.crashed_result(RuntimeError("disk full"))))
    assert seen["step_failed"] and seen["annotation"] is None  # no grade reaches Classroom
    assert seen["log"] == ["Error: grade ci stopped before a grade: RuntimeError: disk full"]
