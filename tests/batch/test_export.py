"""`grade export` from a gradebook of synthetic grades: the columns of grades.csv, the
leaderboard's gain interval and units, and Canvas refusing grades that are not official."""
import csv
import json

import pytest

from grader.batch import export, gradebook
from grader.cli import main as cli
from support.gradebooks import gradebook_of, read
from support.results import results_for


@pytest.fixture
def out(tmp_path):
    gradebook_of(tmp_path, {
        "u_ada": results_for("u_ada"),
        "u_bo": results_for("u_bo", accuracy=0.6, interval=None, std=None, seeds=1),
        "u_cy": results_for("u_cy", accuracy=None, interval=None, status="failed"),
    })
    return tmp_path


def test_grades_csv_says_whether_official_and_how_sure_the_gain_is(out):
    rows = read(export.main(out=out, fmt="csv")[0])
    ada, bo = rows["u_ada"], rows["u_bo"]
    assert ada["official"] == "true"
    assert (ada["gain_interval_low_pp"], ada["gain_interval_high_pp"]) == ("1.1", "5.3")
    assert (ada["baseline_std_pp"], ada["baseline_seeds"]) == ("0.42", "10")
    assert (bo["gain_interval_low_pp"], bo["gain_interval_high_pp"], bo["baseline_std_pp"]) == (
        "", "", "")  # not measured: empty, not "None"
    assert ada["accuracy"] == "0.7135" and ada["gain_pp"] == "3.2"  # a fraction; points


def test_older_results_without_the_new_metrics_still_export(tmp_path):
    old = results_for("u_old").dump()
    del old["official"]
    for key in ("gain_interval_pp", "baseline_std_pp", "baseline_seeds"):
        del old["metrics"][key]
    db = gradebook.connect(tmp_path / gradebook.FILE)
    with db:  # as an older grader wrote it
        db.execute("INSERT INTO grades VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   ("u_old", "lab", "d", "h", "s", "graded", 50.0, 100.0, 0.7135, 0.6815, 3.2,
                    None, None, 1.0, "{}", json.dumps(old), "2026-01-01T00:00:00+0000"))
    db.close()
    row = read(export.main(out=tmp_path, fmt="csv")[0])["u_old"]
    assert row["official"] == "false" and row["gain_interval_low_pp"] == row["baseline_seeds"] == ""


def test_a_grade_the_gradebook_cannot_read_is_refused_with_what_to_do(tmp_path):
    """Results missing a field no version left out (or with one this grader does not know)
    stop the export with the student and the field named, not a KeyError."""
    broken = results_for("u_x").dump()
    del broken["metrics"]["accuracy"]
    db = gradebook.connect(tmp_path / gradebook.FILE)
    with db:
        db.execute("INSERT INTO grades VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   ("u_x", "lab", "d", "h", "s", "graded", 50.0, 100.0, None, None, None,
                    None, None, 1.0, "{}", json.dumps(broken), "2026-01-01T00:00:00+0000"))
    db.close()
    with pytest.raises(gradebook.GradebookError, match=r"'u_x'.*missing field 'accuracy'.*--force"):
        export.main(out=tmp_path, fmt="csv")
    assert cli(["export", str(tmp_path), "--format", "csv"]) == 2


def test_the_leaderboard_shows_the_interval_and_says_its_units(out):
    board_csv, board_md = export.main(out=out, fmt="leaderboard")
    board = list(csv.DictReader(board_csv.open()))
    assert [r["accuracy"] for r in board] == ["0.7135", "0.6"]  # fractions, like grades.csv
    assert (board[0]["gain_interval_low_pp"], board[0]["gain_interval_high_pp"]) == ("1.1", "5.3")
    assert board[1]["gain_interval_low_pp"] == ""
    md = board_md.read_text()
    assert "| 71.35% | +3.20 [+1.10, +5.30] |" in md and "| 60.00% | +3.20 |" in md
    assert "percentage points" in md


def test_canvas_refuses_unofficial_grades_unless_asked(tmp_path):
    gradebook_of(tmp_path, {"u_ada": results_for("u_ada"),
                            "u_bo": results_for("u_bo", official=False, quick=True),
                            "u_cy": results_for("u_cy", official=False)})
    with pytest.raises(export.UnofficialGrades) as refused:
        export.main(out=tmp_path, fmt="canvas")
    message = str(refused.value)
    assert "2 of 3 grades are unofficial" in message and "u_bo, u_cy" in message
    assert "--allow-unofficial" in message and "\n" not in message
    assert isinstance(refused.value, ValueError)
    assert not (tmp_path / "exports" / "canvas.csv").exists()
    (canvas,) = export.main(out=tmp_path, fmt="canvas", allow_unofficial=True)
    assert {r[3] for r in list(csv.reader(canvas.open()))[2:]} == {"u_ada", "u_bo", "u_cy"}


def test_canvas_exports_official_grades_without_asking(out):
    (canvas,) = export.main(out=out, fmt="canvas")
    assert canvas.is_file()
