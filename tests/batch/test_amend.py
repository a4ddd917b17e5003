"""`grade amend`: a person's grade kept apart from the automatic one, shown in every export,
kept across regrades, and marked when the automatic part changed since."""
import csv
import datetime

import pytest

from grader.batch import amend, export, gradebook
from grader.cli import main as cli
from grader.rubric import LatePolicy
from grader.scoring import late
from support.gradebooks import gradebook_of, read, with_written_answer
from support.results import results_for


@pytest.fixture
def out(tmp_path):
    gradebook_of(tmp_path, {"u_ada": with_written_answer(results_for("u_ada")),
                            "u_bo": results_for("u_bo", official=False, quick=True)})
    return tmp_path


def test_a_total_amendment_replaces_the_total_and_keeps_the_automatic_one(out):
    said = amend.main(out=out, student="u_ada", points=88, reason="late penalty waived")
    assert "88" in said
    rows = read(export.main(out=out, fmt="csv")[0])
    ada, bo = rows["u_ada"], rows["u_bo"]
    assert (ada["total"], ada["final_total"], ada["amended_points"]) == ("50.0", "88.0", "88.0")
    assert "late penalty waived" in ada["amendment_reason"] and ada["amendment_stale"] == "false"
    assert ada["Output shape of `conv1`"] == "5.0"  # item columns stay automatic
    assert (bo["final_total"], bo["amended_points"], bo["amendment_reason"]) == ("50.0", "", "")


def test_an_item_amendment_grades_a_pending_written_answer(out):
    amend.main(out=out, student="u_ada", item="why_bn", points=7, reason="good, misses one case")
    ada = read(export.main(out=out, fmt="csv")[0])["u_ada"]
    assert ada["Why BatchNorm helps"] == "pending"  # the automatic grade, unchanged
    assert ada["final_total"] == "57.0" and "7 points (good, misses one case)" in ada["amendment_reason"]
    (canvas,) = export.main(out=out, fmt="canvas", allow_unofficial=True)
    lines = list(csv.reader(canvas.open()))
    hand = lines[0].index("Lab: Why BatchNorm helps (graded by hand)")
    ada_line = next(r for r in lines if r[3] == "u_ada")
    assert (ada_line[5], ada_line[hand]) == ("50.0", "7.0")  # auto part, then the hand-graded one
    bo_line = next(r for r in lines if r[3] == "u_bo")
    assert bo_line[hand] == ""  # not graded by hand yet


def test_an_item_amended_on_a_late_grade_is_penalised_like_the_rest():
    """A late grade (scoring/late.py: 20% off 50 points = 40): a written answer graded 10 by
    hand adds 10 before the penalty, so the total is 60 x 0.8 = 48, not 40 + 10."""
    results = with_written_answer(results_for("u_ada"))
    day = datetime.timedelta(days=1)
    due = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    results = late.apply(results, late.decide(LatePolicy(percent_per_day=10.0), submitted=due + 2 * day,
                                              due=due, late_due=None, score=results.score))
    assert (results.score, results.late.penalty_percent) == (40.0, 20.0)
    item = gradebook.Amendment(student="u_ada", rubric="r", item="why_bn", points=10.0,
                               reason="good", automatic_points=0.0, amended_at="")
    shown = amend.apply(results, [item])
    assert shown.score == 48.0 and shown.automatic.score == 40.0
    assert (shown.late.score_before, shown.late.score_after) == (60.0, 48.0)
    assert "late penalty of 20% applies to the amended points too" in shown.amendment.reason
    on_time = with_written_answer(results_for("u_ada"))
    assert amend.apply(on_time, [item]).score == 60.0


def test_the_students_results_show_the_amendment(out):
    """(report.html and report.md with it: tests/batch/test_desk.py, on real gradings)"""
    amend.main(out=out, student="u_ada", item="why_bn", points=10, reason="full marks")
    db = gradebook.connect(out / gradebook.FILE)
    (row,) = [r for r in gradebook.rows(db) if r.student == "u_ada"]
    assert row.results.score == 50.0  # the gradebook keeps the automatic grade
    shown = amend.apply(row.results, row.amendments)
    assert (shown.score, shown.max_score, shown.pending_points) == (60.0, 110.0, 0.0)
    assert shown.dump()["automatic"] == {"score": 50.0, "max_score": 100.0, "pending_points": 10.0}
    item = shown.tests[-1]
    assert item.status == "passed" and "pending" not in item.tags  # Gradescope's values
    assert all(t.status in ("passed", "failed") for t in shown.tests)
    assert shown.output.startswith("Amended by the instructor: Why BatchNorm helps: 10 points")


def test_a_regrade_keeps_the_amendment_and_marks_it_when_the_automatic_part_changed(out):
    amend.main(out=out, student="u_ada", points=90, reason="regraded by hand")
    again = with_written_answer(results_for("u_ada"))
    db = gradebook.connect(out / gradebook.FILE)
    gradebook.record(db, student="u_ada", rubric_digest="d", content_hash="u_ada", source="",
                     results=again)  # a regrade, same points: not stale
    db.close()
    ada = read(export.main(out=out, fmt="csv")[0])["u_ada"]
    assert (ada["final_total"], ada["amendment_stale"]) == ("90.0", "false")
    again.score = 65.0  # a rubric fix changed the automatic grade, under a new digest
    db = gradebook.connect(out / gradebook.FILE)
    gradebook.record(db, student="u_ada", rubric_digest="d2", content_hash="u_ada", source="",
                     results=again)
    db.close()
    ada = read(export.main(out=out, fmt="csv")[0])["u_ada"]
    assert (ada["total"], ada["final_total"], ada["amendment_stale"]) == ("65.0", "90.0", "true")


def test_canvas_takes_a_total_a_person_entered_even_over_an_unofficial_run(out):
    with pytest.raises(export.UnofficialGrades):
        export.main(out=out, fmt="canvas")
    amend.main(out=out, student="u_bo", points=40, reason="graded by hand: the run was --quick")
    (canvas,) = export.main(out=out, fmt="canvas")
    bo = next(r for r in csv.reader(canvas.open()) if r[3] == "u_bo")
    assert bo[5] == "40.0"
    assert read(export.main(out=out, fmt="csv")[0])["u_bo"]["official"] == "false"  # still says so


@pytest.mark.parametrize("args, why", [
    (dict(student="u_zed", points=1, reason="x"), "no grade for 'u_zed'"),
    (dict(student="u_ada", item="nope", points=1, reason="x"), "no rubric item 'nope'"),
    (dict(student="u_ada", item="why_bn", points=11, reason="x"), "at most 10"),
    (dict(student="u_ada", points=-1, reason="x"), "0 or more"),
    (dict(student="u_ada", points=5), "--reason"),
    (dict(student="u_ada", clear=True), "no amendment to clear"),
])
def test_refused_amendments_say_why_and_write_nothing(out, args, why):
    with pytest.raises(amend.AmendError, match=why):
        amend.main(out=out, **args)
    db = gradebook.connect(out / gradebook.FILE)
    assert gradebook.amendments(db) == []


def test_the_command_line_sets_and_clears(out, capsys):
    assert cli(["amend", str(out), "u_ada", "--points", "70", "--reason", "[red]x</td>"]) == 0
    assert read(export.main(out=out, fmt="csv")[0])["u_ada"]["amendment_reason"] == "total 70 ([red]x</td>)"
    assert cli(["amend", str(out), "u_ada", "--item", "nope", "--points", "1", "--reason", "r"]) == 2
    assert cli(["amend", str(out), "u_ada", "--clear"]) == 0
    assert read(export.main(out=out, fmt="csv")[0])["u_ada"]["amended_points"] == ""


def test_the_leaderboard_and_the_class_summary_show_amended_grades(out):
    amend.main(out=out, student="u_ada", points=95, reason="bonus for the write-up")
    board = list(csv.DictReader(export.main(out=out, fmt="leaderboard")[0].open()))
    assert sorted(float(r["score"]) for r in board) == [50.0, 95.0]
    summary = export.main(out=out, fmt="summary")[0].read_text()
    assert "1 grade(s) amended by a person" in summary


def test_an_item_the_rubric_dropped_since_is_marked_and_counts_nothing(out):
    amend.main(out=out, student="u_ada", item="why_bn", points=6, reason="fine")
    db = gradebook.connect(out / gradebook.FILE)
    gradebook.record(db, student="u_ada", rubric_digest="d3", content_hash="u_ada", source="",
                     results=results_for("u_ada"))  # the new rubric has no written answer
    db.close()
    ada = read(export.main(out=out, fmt="csv")[0])["u_ada"]
    assert (ada["final_total"], ada["amendment_stale"]) == ("50.0", "true")
    assert "no such item now" in ada["amendment_reason"]
