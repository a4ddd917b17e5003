"""Issue #19's "done when", end to end: a batch of a dozen synthetic submissions with two
near-copies ends with a dashboard a headless browser renders, the copies flagged with their
evidence, and an amendment that survives `grade batch --force`."""
import csv
import json
import shutil

import pytest

from conftest import REPO, SUBMISSIONS
from grader.cli import main as cli
from conftest import chromium
from support.pages import rendered, visible_students
from support.models import OTHER, RENAMED, RESNET

HOSTILE = "<img src=x onerror=alert(1)>"  # a student id is a file name: it can hold this
HANDED_IN = {  # student -> a file from tests/submissions, the template, or source text
    "u_ada": REPO / "student_template",
    "u_bo": SUBMISSIONS / "passes_only_optimizer_changed.py",
    "u_cy": SUBMISSIONS / "fails_syntax_error.py",
    "u_di": SUBMISSIONS / "fails_output_shape.py",
    "u_ed": SUBMISSIONS / "passes_over_budget_clamped.py",
    "u_fu": SUBMISSIONS / "passes_own_transform_callable.py",
    "u_gi": SUBMISSIONS / "passes_misnamed_hook.py",
    HOSTILE: SUBMISSIONS / "fails_calls_sys_exit.py",
    "u_io": RESNET,
    "u_ju": RENAMED,   # u_io's model, every name changed
    "u_ka": OTHER,
    "u_lu": REPO / "student_template",
}


def hand_in(folder):
    folder.mkdir(parents=True)
    for student, what in HANDED_IN.items():
        if isinstance(what, str):
            (folder / f"{student}.py").write_text(what)
        elif what.is_dir():
            shutil.copytree(what, folder / student, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(what, folder / f"{student}{what.suffix}")
    return folder


def batch(folder, out, rubric, data_dir, *extra):
    return cli(["batch", str(folder), "--rubric", str(rubric), "--out", str(out), "--quick",
                "--data-dir", str(data_dir), "--workers", "2", *extra])


def grades(out):
    assert cli(["export", str(out), "--format", "csv"]) == 0
    return {r["student"]: r for r in csv.DictReader((out / "exports" / "grades.csv").open())}


@pytest.mark.slow  # 2 min: a whole class at the desk
@pytest.mark.timeout(600)  # two batches of 12: 1.5 to 2.5 min on two busy cores
def test_a_class_ends_with_a_dashboard_flagged_copies_and_an_amendment_that_survives(
        tmp_path, fmnist_dir, cache_dir, tiny_rubric):
    folder, out = hand_in(tmp_path / "subs"), tmp_path / "out"
    assert batch(folder, out, tiny_rubric, fmnist_dir) == 0
    page = out / "exports" / "index.html"
    assert page.is_file() and (out / "exports" / "similarity.csv").is_file()  # written by the batch

    pairs = list(csv.DictReader((out / "exports" / "similarity.csv").open()))
    copies = [p for p in pairs if {p["student_a"], p["student_b"]} == {"u_io", "u_ju"}]
    assert len(copies) == 1, pairs
    (copy,) = copies
    assert copy["flagged_by"] == "code+predictions"
    assert float(copy["code_share_a"]) > 0.8 and copy["matched_lines"].startswith("u_")
    assert float(copy["same_wrong_share"]) > 0.95 and float(copy["prediction_agreement"]) > 0.95
    assert not any({p["student_a"], p["student_b"]} == {"u_ada", "u_lu"} for p in pairs)  # templates
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.read_text()
    assert "<img src=x" not in page.read_text()

    assert cli(["amend", str(out), "u_bo", "--points", "77", "--reason", "regraded by hand"]) == 0
    browser = chromium() is not None  # without one, the rest still runs (test_dashboard skips)
    if browser:
        dom = rendered(page, "#show=similar")
        assert visible_students(dom) == ["u_io", "u_ju"] and "2 of 12 students shown" in dom
        assert '<img src="x"' not in dom and HOSTILE in visible_students(rendered(page, "#q=onerror"))
        dom = rendered(page, "#show=amended")
        assert visible_students(dom) == []  # the page was written before the amendment
    assert cli(["export", str(out), "--format", "dashboard"]) == 0
    if browser:
        assert visible_students(rendered(page, "#show=amended")) == ["u_bo"]

    before = grades(out)["u_bo"]
    assert (before["final_total"], before["amended_points"]) == ("77.0", "77.0")
    report = (out / "feedback" / "u_bo" / "report.html").read_text()
    assert "Amended by the instructor" in report and "regraded by hand" in report

    graded_at = json.loads((out / "feedback" / "u_bo" / "results.json").read_text())["provenance"]["graded_at"]
    assert batch(folder, out, tiny_rubric, fmnist_dir, "--force") == 0
    after = grades(out)["u_bo"]
    assert (after["final_total"], after["amendment_reason"], after["amendment_stale"]) == (
        "77.0", "total 77 (regraded by hand)", "false")
    assert after["total"] == before["total"]  # the automatic part, graded again
    regraded = json.loads((out / "feedback" / "u_bo" / "results.json").read_text())
    assert regraded["score"] == 77.0 and regraded["amendment"]["reason"] == "total 77 (regraded by hand)"
    assert regraded["provenance"]["graded_at"] >= graded_at
    assert "Amended by the instructor" in (out / "feedback" / "u_bo" / "report.html").read_text()
    if browser:
        assert visible_students(rendered(page, "#show=amended")) == ["u_bo"]  # the batch's new page
