"""Gradescope without test-set tuning (#32 items 3 and 4): what a student sees and when
(`release:`), the submission limit, the late policy from submission_metadata.json, the
bundle's exact versions, and the same late policy in `grade batch --submission-times`."""
import csv
import json
import shutil
import sqlite3
import zipfile

import pytest

from conftest import REPO, SUBMISSIONS, TINY_RUBRIC
from grader.batch import deadlines, gradebook
from grader.cli import main as cli
from grader.commands import gradescope
from grader.commands import gradescope_bundle as bundle
from grader.report.record import Epoch, Item, LeaderboardEntry
from grader.rubric import RubricError, load_rubric, parse_time
from grader.scoring import late
from support.autograder import run_autograder, unpack
from support.results import golden

DUE = "2026-12-01T23:59:00-08:00"
LATE_DUE = "2026-12-05T23:59:00-08:00"
RELEASE = """
release:
  test_results: after_due_date
  max_submissions: 2
  keep: best
late:
  grace_minutes: 10
  percent_per_day: 10
  max_percent: 50
"""


def rubric_file(tmp_path, extra=RELEASE):
    path = tmp_path / "lab.yaml"
    path.write_text(TINY_RUBRIC.format(time_limit=120).replace("max_epochs: 5", "max_epochs: 1")
                    + extra)
    return path


def metadata(created_at, previous=(), user_due=None, late_due=LATE_DUE):
    """submission_metadata.json as Gradescope's documentation gives it (docs/submission_metadata.md
    in gradescope/autograder_samples), with a user's own dates where they have an extension."""
    user = {"email": "s@example.com", "id": 1234, "name": "Student User"}
    if user_due:
        user["assignment"] = {"due_date": user_due, "late_due_date": None,
                              "release_date": "2026-11-20T00:00:00.000000-08:00"}
    return {"id": 123456, "created_at": created_at, "submission_method": "upload",
            "assignment": {"due_date": DUE, "late_due_date": late_due, "group_size": None,
                           "group_submission": False, "id": 25828, "course_id": 1234,
                           "release_date": "2026-11-20T00:00:00.000000-08:00",
                           "title": "Lab", "total_points": "100.0"},
            "users": [user],
            "previous_submissions": [{"submission_time": t, "score": s, "results": r}
                                     for t, s, r in previous]}


# --- the rubric keys ------------------------------------------------------------------------

def test_release_and_late_keys_are_typed_and_validated(tmp_path):
    spec = load_rubric(str(rubric_file(tmp_path)))
    assert (spec.release.test_results, spec.release.checks) == ("after_due_date", "visible")
    assert (spec.release.max_submissions, spec.release.keep) == (2, "best")
    assert (spec.late.percent_per_day, spec.late.max_percent, spec.late.grace_minutes) == (10, 50, 10)
    # they change what a student sees, never a grading: the digest (a batch's "same rubric") stays
    assert spec.digest() == load_rubric(str(rubric_file(tmp_path, extra=""))).digest()
    bad = rubric_file(tmp_path, extra="""
release: {test_results: tomorrow, keep: worst, max_submissions: 0, colour: red}
late: {due_date: 2026-12-01T23:59:00-08:00, percent_per_day: 5, percent_per_hour: 1}
""")
    with pytest.raises(RubricError) as e:
        load_rubric(str(bad))
    problems = dict(e.value.problems)
    assert "unknown key" in problems["release.colour"]
    assert "after_due_date" in problems["release.test_results"]
    assert "best, last" in problems["release.keep"]
    assert "at least 1" in problems["release.max_submissions"]
    assert "quote the date" in problems["late.due_date"]  # YAML read it as a timestamp
    naive = rubric_file(tmp_path, extra='late: {due_date: "2026-12-01T23:59:00", percent_per_day: 5, '
                                         'percent_per_hour: 1}\n')
    with pytest.raises(RubricError) as e:
        load_rubric(str(naive))
    problems = dict(e.value.problems)
    assert "UTC offset" in problems["late.due_date"] and "not both" in problems["late"]


# --- the late policy ------------------------------------------------------------------------

@pytest.mark.parametrize("submitted, percent, days", [
    ("2026-12-01T23:00:00-08:00", 0, 0),     # on time
    ("2026-12-02T00:08:00-08:00", 0, 0),     # within the 10-minute grace
    ("2026-12-02T00:20:00-08:00", 10, 1),    # a started day, counted from the due date
    ("2026-12-03T09:00:00-08:00", 20, 2),    # 33 h: two started days
    ("2026-12-05T20:00:00-08:00", 40, 4),
    ("2026-12-05T23:00:00+00:00", 40, 4),    # another offset, the same instant rules
    ("2026-12-06T00:30:00-08:00", 100, 5),   # after the late due date: zero
])
def test_the_late_policy_by_the_day_with_grace_and_zero_after_the_late_due_date(
        tmp_path, submitted, percent, days):
    policy = load_rubric(str(rubric_file(tmp_path))).late
    decided = late.decide(policy, submitted=parse_time(submitted), due=parse_time(DUE),
                          late_due=parse_time(LATE_DUE), score=80.0)
    assert (decided.penalty_percent, decided.days_late) == (percent, days)
    assert decided.score_after == pytest.approx(80.0 * (1 - percent / 100))


def test_the_late_policy_by_the_hour_is_capped_and_never_stacks(tmp_path):
    policy = load_rubric(str(rubric_file(tmp_path, extra="late: {percent_per_hour: 2, max_percent: 30}\n"))).late
    decided = late.decide(policy, submitted=parse_time("2026-12-02T02:30:00-08:00"),
                          due=parse_time(DUE), late_due=None, score=50.0)
    assert decided.penalty_percent == 6  # 2 h 31 min: three started hours
    way_late = late.decide(policy, submitted=parse_time("2026-12-09T00:00:00-08:00"),
                           due=parse_time(DUE), late_due=None, score=50.0)
    assert way_late.penalty_percent == 30 and not way_late.after_late_due_date  # capped; no late due date
    results = golden()
    results.score, results.output = 50.0, "Score 50 / 100."
    once = late.apply(results, decided)
    assert once.score == 47.0 and once.late.score_before == 50.0
    assert once.output.startswith("Submitted 2.5 h after the due date")
    # applied again (a changed extension): from the score before, the line replaced
    again = late.apply(once, late.decide(policy, submitted=parse_time("2026-12-02T00:30:00-08:00"),
                                         due=parse_time(DUE), late_due=None,
                                         score=late.base_score(once)))
    assert again.score == 49.0 and again.output.count("Submitted") == 1
    assert (results.score, results.output, results.late) == (50.0, "Score 50 / 100.", None)  # not changed in place


# --- submission_metadata.json and the submission limit --------------------------------------

def test_the_metadata_gives_the_students_own_due_date_and_previous_submissions(tmp_path):
    path = tmp_path / "submission_metadata.json"
    path.write_text(json.dumps(metadata("2026-12-02T10:00:00.365935-08:00",
                                        previous=[("2026-11-30T14:24:48.087023-08:00", 30.0, None),
                                                  ("2026-11-29T09:00:00.000000-08:00", "55.0", None)],
                                        user_due="2026-12-03T23:59:00.000000-08:00")))
    meta = gradescope.read_metadata(path)
    assert meta.due_date == parse_time("2026-12-03T23:59:00-08:00")  # the extension
    assert meta.late_due_date == parse_time(LATE_DUE)                # none of their own
    assert [p.score for p in meta.previous] == [55.0, 30.0]          # by time; "55.0" read as a number
    assert gradescope.read_metadata(tmp_path / "absent.json") is None


@pytest.mark.parametrize("created_at, late_due, shown", [
    ("2026-12-01T10:00:00-08:00", LATE_DUE, False),   # before the due date
    ("2026-12-03T10:00:00-08:00", LATE_DUE, False),   # in the late window: Gradescope still hides
    ("2026-12-06T10:00:00-08:00", LATE_DUE, True),    # after the late due date
    ("2026-12-03T10:00:00-08:00", None, True),        # no late submissions: after the due date
])
def test_after_due_date_means_after_the_late_due_date_where_there_is_one(
        tmp_path, created_at, late_due, shown):
    release = load_rubric(str(rubric_file(tmp_path))).release
    path = tmp_path / "m.json"
    path.write_text(json.dumps(metadata(created_at, late_due=late_due)))
    assert gradescope.test_results_shown(release, gradescope.read_metadata(path)) is shown
    assert gradescope.test_results_shown(release, None) is False  # no metadata: not shown


@pytest.mark.parametrize("keep, kept", [("best", 60.0), ("last", 40.0)])
def test_past_the_limit_the_best_or_last_graded_result_stands(tmp_path, keep, kept):
    spec = load_rubric(str(rubric_file(tmp_path, extra=f"release: {{max_submissions: 2, keep: {keep}}}\n")))
    earlier = lambda score: {"score": score, "output": f"graded {score}", "tests": [],  # noqa: E731
                             "visibility": "visible", "extra_data": {"status": "graded"}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(metadata("2026-12-01T12:00:00-08:00", previous=[
        ("2026-11-28T10:00:00-08:00", 60.0, earlier(60.0)),
        ("2026-11-29T10:00:00-08:00", 40.0, earlier(40.0)),
        ("2026-11-30T10:00:00-08:00", 60.0, None)])))  # over the limit itself: not a graded one
    form = gradescope.over_limit(spec.release, gradescope.read_metadata(path))
    assert form["score"] == kept and f"graded {kept:g}" in form["output"]
    assert form["output"].startswith("Submission 4 was not graded")
    assert form["extra_data"]["submission_limit"] == {
        "graded": False, "number": 4, "limit": 2, "keep": keep, "kept_score": kept,
        "kept_submission_time": "2026-11-2{}T10:00:00-08:00".format(8 if keep == "best" else 9)}
    path.write_text(json.dumps(metadata("2026-12-01T12:00:00-08:00",
                                        previous=[("2026-11-28T10:00:00-08:00", 60.0, None)])))
    assert gradescope.over_limit(spec.release, gradescope.read_metadata(path)) is None


def test_hidden_test_results_never_show_and_their_points_wait_for_publication(tmp_path):
    """`hidden`: the figures' test is hidden; the points items, which would show through the
    total, are after_published (a hidden test should carry no points); checks and written
    answers keep the checks' visibility; nothing of the test set is in the top-level output."""
    release = load_rubric(str(rubric_file(tmp_path, extra="release: {test_results: hidden, "
                                                          "checks: after_published}\n"))).release
    results = golden()
    results.score, results.max_score, results.status, results.notice = 22.5, 40.0, "graded", ""
    results.failure, results.output = None, "Test accuracy 81.20% vs baseline 80.00%"
    results.leaderboard = [LeaderboardEntry("Accuracy", 81.2, "desc")]
    results.tests = [Item("Model returns logits [N, 10]", 5.0, 5.0, "passed", "ok", ["output_shape"]),
                     Item("Accuracy gain over the baseline", 20.0, 30.0, "failed",
                          "81.20% vs baseline 80.00%", ["gain"]),
                     Item("Why?", 0.0, 5.0, "failed", "Pending manual grading (5 points).",
                          ["why", "manual", "pending"])]
    results.history.student = [[Epoch(1, 1.0, 0.7, 1.0), Epoch(2, 0.9, 0.75, 1.0)]]
    results.provenance.rubric = {**results.provenance.rubric, "checks": [{"id": "output_shape"}]}
    results.late = late.Lateness(
        submitted_at="2026-12-02T08:00:00-08:00", due_date=DUE, late_due_date=None,
        extension_days=0.0, hours_late=8.017, days_late=1, in_grace=False,
        after_late_due_date=False, penalty_percent=10.0, score_before=25.0, score_after=22.5,
        line="Submitted 8.0 h after the due date (1 started day): a late penalty of 10%, "
             "25 -> 22.5 points.")
    form = gradescope.release_form(gradescope.gradescope_form(results), results, release,
                                   report="REPORT 81.20%", shown=False)
    vis = {t["name"]: t["visibility"] for t in form["tests"]}
    assert vis == {"Model returns logits [N, 10]": "after_published",
                   "Accuracy gain over the baseline": "after_published",
                   "Why? (pending manual grading, 5 points)": "after_published",
                   "Late penalty": "after_published", "Validation accuracy": "after_published",
                   "Test accuracy, gain and the full report": "hidden"}
    assert form["visibility"] == "after_published" and "leaderboard" not in form
    assert "81.2" not in form["output"] and "22.5" not in form["output"]
    assert "a late penalty of 10%." in form["output"] and "shown to the course staff only" in form["output"]
    assert "75.00%" in form["output"]  # the validation accuracy at the last epoch
    assert form["score"] == pytest.approx(sum(t["score"] for t in form["tests"]))


# --- the bundle's exact versions ------------------------------------------------------------

def test_the_bundle_installs_the_locks_versions_and_refuses_a_rubric_measured_with_others(tmp_path, capsys):
    pins = bundle.lock_pins(bundle.LOCK)
    assert (pins["torch"], pins["torchvision"]) == ("2.14.1", "0.29.1")
    out = tmp_path / "ag.zip"
    # the shipped rubric's pinned baseline was measured with torch 2.14.1: it builds
    assert cli(["gradescope", "--rubric", "fashion_mnist", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as z:
        assert z.read("constraints.txt").decode() == bundle.LOCK.read_text()
        setup = z.read("setup.sh").decode()
        assert json.loads(z.read("config.json"))["versions"] == {"torch": "2.14.1",
                                                                 "torchvision": "0.29.1"}
    assert '-c "$lock" torch torchvision' in setup and '-c "$lock" /autograder/source/grader-src' in setup
    # the Python the lock was resolved for, not whatever the image ships
    assert "# for Python 3.11 on linux" in bundle.LOCK.read_text() and "\nLOCK_PYTHON=3.11\n" in setup
    err = capsys.readouterr().err
    assert "as the rubric's pinned baseline was measured" in err and "Python 3.11, the one the lock" in err
    # a rubric measured with another torch: refused, with what to do
    other = tmp_path / "other.yaml"
    other.write_text((REPO / "rubrics" / "fashion_mnist.yaml").read_text().replace("torch 2.14.1", "torch 2.15.0"))
    out.unlink()
    assert cli(["gradescope", "--rubric", str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "measured with torch 2.15.0" in err and "--recalibrate" in err and not out.exists()
    assert cli(["gradescope", "--rubric", str(other), "--out", str(out), "--recalibrate"]) == 0
    assert "recalibrates the baseline" in capsys.readouterr().err and out.exists()
    # a lock without torch pins nothing that matters: refused
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==2.0.0\n")
    assert cli(["gradescope", "--rubric", "fashion_mnist", "--out", str(out), "--lock", str(lock)]) == 2
    # a lock that does not say which Python it was resolved for: refused too
    lock.write_text("\n".join(line for line in bundle.LOCK.read_text().splitlines()
                              if not line.startswith("# for Python")))
    capsys.readouterr()
    assert cli(["gradescope", "--rubric", "fashion_mnist", "--out", str(out), "--lock", str(lock)]) == 2
    assert "which Python it was resolved for" in capsys.readouterr().err


# --- a simulated /autograder tree with a hidden-until-due rubric ----------------------------

def _tests_add_up(r):
    assert r["score"] == pytest.approx(sum(t["score"] for t in r["tests"]), abs=1e-3)


@pytest.mark.slow  # 45 s: three gradings on a simulated autograder
def test_hidden_until_due_then_shown_late_penalty_and_limit_on_a_simulated_autograder(
        tmp_path, fmnist_dir, session_cache):
    assert cli(["gradescope", "--rubric", str(rubric_file(tmp_path)), "--out", str(tmp_path / "ag.zip")]) == 0
    root = tmp_path / "autograder"
    unpack(tmp_path / "ag.zip", root)
    (root / "submission").mkdir(parents=True)
    shutil.copyfile(SUBMISSIONS / "passes_only_optimizer_changed.py", root / "submission" / "lab.py")
    meta = root / "submission_metadata.json"

    # before the due date: the test figures wait for it, the checks and validation show now
    meta.write_text(json.dumps(metadata("2026-12-01T10:00:00.000000-08:00")))
    before = run_autograder(root, fmnist_dir, session_cache)
    accuracy = before["extra_data"]["metrics"]["accuracy"]
    assert accuracy is not None and f"{accuracy:.2%}" not in before["output"]
    assert "leaderboard" not in before and before["stdout_visibility"] == "hidden"
    assert before["visibility"] == "visible"
    vis = {t["name"]: t["visibility"] for t in before["tests"]}
    assert vis["Trains to the end above chance"] == vis["Accuracy gain over the baseline"] == "after_due_date"
    assert vis["Model returns logits [N, 10]"] == vis["Validation accuracy"] == "visible"
    report = next(t for t in before["tests"] if t["name"] == "Test accuracy, gain and the full report")
    assert report["visibility"] == "after_due_date" and report["max_score"] == 0
    assert f"{accuracy:.2%}" in report["output"] and report["output_format"] == "md"
    assert "shown after the due date" in before["output"] and "Graded submission 1 of 2" in before["output"]
    assert "Validation accuracy at the last epoch" in before["output"]
    assert before["extra_data"]["late"]["penalty_percent"] == 0  # on time, and recorded
    _tests_add_up(before)

    # 33 hours late, the second submission, no late due date: shown (past the due date), 20%
    # off, recorded
    meta.write_text(json.dumps(metadata("2026-12-03T09:00:00.000000-08:00", late_due=None, previous=[
        ("2026-12-01T10:00:00.000000-08:00", before["score"], before)])))
    after = run_autograder(root, fmnist_dir, session_cache)
    lateness = after["extra_data"]["late"]
    assert (lateness["days_late"], lateness["penalty_percent"]) == (2, 20)
    assert after["score"] == lateness["score_after"] == pytest.approx(lateness["score_before"] * 0.8, abs=1e-3)
    assert lateness["score_before"] > 0 and lateness["hours_late"] == pytest.approx(33 + 1 / 60, abs=0.01)
    acc = after["extra_data"]["metrics"]["accuracy"]
    assert f"{acc:.2%}" in after["output"] and after["leaderboard"][0]["name"] == "Accuracy"
    assert "a late penalty of 20%" in after["output"] and "Graded submission 2 of 2" in after["output"]
    assert {t["visibility"] for t in after["tests"]} == {"visible"}
    penalty = next(t for t in after["tests"] if t["name"] == "Late penalty")
    assert penalty["score"] == pytest.approx(lateness["score_after"] - lateness["score_before"], abs=1e-3)
    _tests_add_up(after)

    # a third: past the limit of 2, not graded (no look at the test set); the best stands
    shutil.copyfile(SUBMISSIONS / "fails_syntax_error.py", root / "submission" / "lab.py")
    meta.write_text(json.dumps(metadata("2026-12-03T10:00:00.000000-08:00", previous=[
        ("2026-12-01T10:00:00.000000-08:00", before["score"], before),
        ("2026-12-03T09:00:00.000000-08:00", after["score"], after)])))
    third = run_autograder(root, fmnist_dir, session_cache)
    best = max(before["score"], after["score"])
    assert third["score"] == best and third["output"].startswith("Submission 3 was not graded")
    assert third["extra_data"]["submission_limit"]["graded"] is False
    assert "syntax_error" not in json.dumps(third)


# --- grade batch --submission-times ---------------------------------------------------------

def test_submission_times_are_read_with_their_offsets_and_refused_clearly(tmp_path):
    policy = load_rubric(str(rubric_file(tmp_path, extra=f'late: {{due_date: "{DUE}"}}\n'))).late
    good = tmp_path / "times.csv"
    good.write_text("student,submitted_at,extension_days,section\n"
                    "u_a,2026-12-02T01:00:00,,A\n"           # no offset: the due date's
                    "u_b,2026-12-02T09:00:00Z,1.5,B\n")
    times = deadlines.read_times(good, policy)
    assert times["u_a"].submitted_at == parse_time("2026-12-02T01:00:00-08:00")
    assert times["u_b"].extension_days == 1.5
    assert deadlines.lateness(policy, times["u_b"], 10.0).hours_late == 0  # within the extension
    for body, why in [("u_a,yesterday,0\n", "line 2: submitted_at 'yesterday'"),
                      ("u_a,2026-12-02T01:00:00Z,0\nu_a,2026-12-02T01:00:00Z,0\n", "line 3: 'u_a' is listed twice"),
                      ("u_a,2026-12-02T01:00:00Z,-1\n", "0 or more"),
                      ("u_a,2026-12-02T01:00:00Z,two\n", "not a number")]:
        bad = tmp_path / "bad.csv"
        bad.write_text("student,submitted_at,extension_days\n" + body)
        with pytest.raises(deadlines.TimesError, match=why):
            deadlines.read_times(bad, policy)
    bad.write_text("name,when\nu_a,2026\n")
    with pytest.raises(deadlines.TimesError, match="missing: student, submitted_at"):
        deadlines.read_times(bad, policy)


def test_batch_applies_the_late_policy_from_a_csv_and_again_when_it_changes(
        tmp_path, fmnist_dir, session_cache, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(session_cache))
    rubric = rubric_file(tmp_path, extra=f'late: {{due_date: "{DUE}", percent_per_day: 10}}\n')
    folder, out = tmp_path / "submissions", tmp_path / "out"
    folder.mkdir()
    shutil.copyfile(SUBMISSIONS / "passes_only_optimizer_changed.py", folder / "u_bo.py")
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at,extension_days\n"
                     "u_bo,2026-12-03T01:00:00-08:00,0\n"      # 25 h late: 2 started days
                     "u_gone,2026-12-01T20:00:00-08:00,\n")    # listed, handed nothing in
    args = ["batch", str(folder), "--rubric", str(rubric), "--out", str(out), "--quick",
            "--data-dir", str(fmnist_dir), "--submission-times", str(times)]
    assert cli(args) == 0
    assert cli(["export", str(out), "--format", "csv"]) == 0
    rows = {r["student"]: r for r in csv.DictReader((out / "exports" / "grades.csv").open())}
    bo = rows["u_bo"]
    assert (bo["days_late"], bo["late_penalty_percent"]) == ("2", "20.0")
    assert float(bo["total"]) == pytest.approx(float(bo["score_before_late"]) * 0.8, abs=1e-3)
    assert sorted(rows) == ["u_bo"]
    feedback = json.loads((out / "feedback" / "u_bo" / "results.json").read_text())
    assert feedback["late"]["penalty_percent"] == 20 and "late penalty of 20%" in \
        (out / "feedback" / "u_bo" / "report.md").read_text()
    # an extension granted afterwards: applied to the recorded grade, nothing retrained
    db = sqlite3.connect(out / gradebook.FILE)
    graded_at = db.execute("SELECT graded_at FROM grades WHERE student='u_bo'").fetchone()
    times.write_text("student,submitted_at,extension_days\nu_bo,2026-12-03T01:00:00-08:00,2\n")
    assert cli(args) == 0
    assert db.execute("SELECT graded_at FROM grades WHERE student='u_bo'").fetchone() == graded_at
    db.close()
    assert cli(["export", str(out), "--format", "csv"]) == 0
    bo = {r["student"]: r for r in csv.DictReader((out / "exports" / "grades.csv").open())}["u_bo"]
    assert (bo["days_late"], bo["late_penalty_percent"]) == ("0", "0.0")
    assert bo["total"] == bo["score_before_late"]
    # a late policy without a due date cannot judge a CSV: refused up front
    no_due = rubric_file(tmp_path, extra="late: {percent_per_day: 10}\n")
    assert cli([*args[:2], "--rubric", str(no_due), *args[4:]]) == 2
