"""Grading a class: discovery, the gradebook, resuming after kill -9, the executors, exports."""
import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SUBMISSIONS
from grader.batch import driver as batch, export, gradebook
from grader.cli import main as cli
from support.batches import CLASS, hand_in, outcomes, run_batch


def test_discovery_takes_one_submission_per_student_and_reports_the_rest(tmp_path):
    (tmp_path / "pkg").mkdir()
    for name in ("ann.py", "ben.ipynb", "cat.zip", "notes.txt", "dup.py", "dup.zip", ".hidden.py"):
        (tmp_path / name).write_text("")
    found = batch.discover(tmp_path)
    assert sorted(found.entries) == ["ann", "ben", "cat", "pkg"]
    why = dict(found.skipped)
    assert "not a submission" in why["notes.txt"] and "more than one" in why["dup"]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, fmnist_dir, session_cache, tiny_rubric):
    os.environ["GRADER_CACHE_DIR"] = str(session_cache)
    root = tmp_path_factory.mktemp("class")
    folder, out = hand_in(root / "submissions"), root / "out"
    started = time.monotonic()
    code = run_batch(folder, out, tiny_rubric, fmnist_dir, session_cache, "--workers", "2")
    return folder, out, code, time.monotonic() - started


def test_batch_grades_everyone_once_with_the_right_outcome(graded_class):
    folder, out, code, _ = graded_class
    assert code == 0
    assert outcomes(out) == {s: want for s, (_, want) in CLASS.items()}
    for student in CLASS:  # the same reports a student gets from grade --local
        assert (out / "feedback" / student / "results.json").is_file()
        assert (out / "feedback" / student / "report.md").is_file()
    db = gradebook.connect(out / gradebook.FILE)
    runs = dict(db.execute("SELECT student, accuracy FROM runs WHERE seed = 0").fetchall())
    assert sorted(runs) == sorted(CLASS)  # a row per seed attempted
    assert sorted(s for s, acc in runs.items() if acc is not None) == ["u_ada", "u_bo", "u_ed"]


def test_a_second_run_regrades_only_what_changed(graded_class, fmnist_dir, session_cache, tiny_rubric):
    folder, out, _, _ = graded_class
    db = sqlite3.connect(out / gradebook.FILE)
    before = dict(db.execute("SELECT student, graded_at || rowid FROM grades"))
    # cy fixes the syntax error: only cy is graded again
    shutil.copyfile(SUBMISSIONS / "passes_only_optimizer_changed.py", folder / "u_cy.py")
    assert run_batch(folder, out, tiny_rubric, fmnist_dir, session_cache) == 0
    after = dict(db.execute("SELECT student, graded_at || rowid FROM grades"))
    assert [s for s in CLASS if before[s] != after[s]] == ["u_cy"]
    assert outcomes(out)["u_cy"] == "graded"
    assert db.execute("SELECT COUNT(*) FROM grades").fetchone()[0] == len(CLASS)


def test_a_resume_with_nothing_to_grade_still_ends_with_the_summary(graded_class, fmnist_dir,
                                                                    session_cache, tiny_rubric):
    """A run killed during its final export: the resume grades nothing and writes it."""
    folder, out, _, _ = graded_class
    (out / "exports" / "summary.md").unlink()
    assert run_batch(folder, out, tiny_rubric, fmnist_dir, session_cache) == 0
    assert (out / "exports" / "summary.md").is_file()


def test_a_grader_error_inside_the_child_is_not_recorded_as_the_students_result(tmp_path):
    from grader.batch.executors import Job
    db = gradebook.connect(tmp_path / gradebook.FILE)
    tally = batch.Tally(total=1)
    job = Job(student="zoe", path=tmp_path / "zoe.py", content_hash="h", rubric=None,
              data_dir=None, cache_dir=tmp_path, quick=True)
    broken = {"status": "failed", "failure": {"code": "grader_error", "message": "a grader bug"}}
    batch.record(db, tmp_path, job, "digest", broken, tally)
    assert tally.outcomes["error"] == 1 and gradebook.count(db) == 0


def test_exports_from_the_gradebook(graded_class):
    _, out, _, _ = graded_class
    (path,) = export.main(out=out, fmt="csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["student"] for r in rows] == sorted(CLASS)
    by = {r["student"]: r for r in rows}
    assert by["u_di"]["status"] == "failed" and "wrong shape" in by["u_di"]["reason"]
    items = [h for h in rows[0] if h not in ("student", "rubric") and h in by["u_ada"]][:5]
    assert float(by["u_ada"]["total"]) == sum(float(by["u_ada"][i]) for i in items)
    assert by["u_ada"]["status"] == "graded" and abs(float(by["u_ada"]["gain_pp"])) < 5  # the baseline
    assert "Model returns logits [N, 10]" in rows[0]  # the default title, with the classes
    assert cli(["export", str(out), "--format", "canvas"]) == 2  # a --quick batch: refused
    (canvas,) = export.main(out=out, fmt="canvas", allow_unofficial=True)
    lines = list(csv.reader(canvas.open()))
    assert lines[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert lines[1][0] == "Points Possible" and {r[3] for r in lines[2:]} == set(CLASS)
    board_csv, board_md = export.main(out=out, fmt="leaderboard")
    board = list(csv.DictReader(board_csv.open()))
    text = board_md.read_text() + board_csv.read_text()
    assert board and not any(student in text for student in CLASS)  # pseudonymous
    assert [float(r["accuracy"]) for r in board] == sorted((float(r["accuracy"]) for r in board),
                                                           reverse=True)
    again = export.main(out=out, fmt="leaderboard")[0].read_text()
    assert again == board_csv.read_text()  # stable pseudonyms
    feedback = export.main(out=out, fmt="feedback")
    names = {p.read_text().strip() for p in feedback}
    assert {r["name"] for r in board} <= names
    # the batch left each trained model, and the class summary, behind
    assert (out / "feedback" / "u_ada" / "model.pt").is_file()
    assert (out / "exports" / "feedback" / "u_ada" / "gallery.png").is_file()
    summary = (out / "exports" / "summary.md").read_text()
    assert "## The most common confusions" in summary and "failed" in summary


def test_export_without_a_gradebook_is_a_usage_error(tmp_path):
    assert cli(["export", str(tmp_path), "--format", "csv"]) == 2


def test_killed_with_sigkill_and_resumed_loses_and_doubles_nothing(tmp_path, fmnist_dir,
                                                                  session_cache, tiny_rubric):
    students = {f"s{i:02d}": CLASS[name] for i, name in enumerate(CLASS)}
    folder, out = hand_in(tmp_path / "subs", students), tmp_path / "out"
    command = [sys.executable, "-m", "grader.cli", "batch", str(folder), "--rubric",
               str(tiny_rubric), "--out", str(out), "--quick", "--data-dir", str(fmnist_dir),
               "--workers", "2"]
    env = {**os.environ, "GRADER_CACHE_DIR": str(session_cache)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / gradebook.FILE).exists() and 2 <= _count(out) < len(students):
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and every grading it had started
    proc.wait()
    first = _count(out)
    assert 0 < first < len(students), "kill -9 should land mid-batch"
    assert subprocess.run(command, env=env, capture_output=True).returncode == 0
    assert outcomes(out) == {s: want for s, (_, want) in students.items()}
    assert _count(out) == len(students)


def _count(out: Path) -> int:
    try:
        db = sqlite3.connect(out / gradebook.FILE, timeout=5)
        return db.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow  # 40 s; the cluster suite runs Slurm itself
def test_submitit_local_executor_gives_the_same_gradebook(graded_class, tmp_path, fmnist_dir,
                                                          session_cache, tiny_rubric):
    pytest.importorskip("submitit")
    from grader.batch.executors import run_slurm
    folder, out, _, _ = graded_class
    jobs = _jobs(folder, tiny_rubric, fmnist_dir, session_cache)
    via_submitit = dict((j.student, r) for j, r in run_slurm(jobs, tmp_path / "slurm", local=True,
                                                           poll_s=0.5))
    assert _summary(via_submitit) == _summary(_from_gradebook(out, via_submitit))


@pytest.mark.slow  # 50 s; the cluster suite runs a real Ray head
def test_ray_executor_gives_the_same_gradebook(graded_class, fmnist_dir, session_cache, tiny_rubric):
    ray = pytest.importorskip("ray")
    from grader.batch.executors import run_ray
    folder, out, _, _ = graded_class
    jobs = _jobs(folder, tiny_rubric, fmnist_dir, session_cache)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        via_ray = dict((j.student, r) for j, r in run_ray(jobs))
    finally:
        ray.shutdown()
    assert _summary(via_ray) == _summary(_from_gradebook(out, via_ray))


def _jobs(folder, rubric_path, data_dir, cache, n=3):
    """The first n students, each on one core like a local pool worker, so thread counts
    (and with them float sums) match the gradebook's."""
    from grader.batch.executors import Job
    from grader.rubric import load_rubric
    rubric = load_rubric(str(rubric_path))
    found = sorted(batch.discover(folder).entries.items())[:n]
    return [Job(student=s, path=p.resolve(), content_hash=batch.content_hash(p), rubric=rubric,
                data_dir=data_dir, cache_dir=cache, quick=True, device="cpu", cpus=(0,))
            for s, p in found]


def _from_gradebook(out: Path, students) -> dict:
    db = gradebook.connect(out / gradebook.FILE)
    return {r.student: r.results.dump() for r in gradebook.rows(db) if r.student in students}


def _summary(results: dict) -> dict:
    """What must not depend on the executor: outcome, points and accuracy."""
    return {s: (r["status"], (r["failure"] or {}).get("code"), r["score"], r["metrics"]["accuracy"])
            for s, r in results.items()}


def test_local_workers_get_disjoint_core_shares():
    from grader.batch.executors import worker_slots
    slots = worker_slots(2, "cpu")
    cores = [set(s["cpus"] or ()) for s in slots]
    if all(cores) and len(os.sched_getaffinity(0)) >= 2:
        assert not cores[0] & cores[1]
    assert all(s["device"] == "cpu" and s["gpu_share"] == 1.0 for s in slots)


def test_a_resumed_batch_removes_what_a_killed_run_left(tmp_path, monkeypatch):
    """kill -9 runs no cleanup: scratch folders of dead processes go at the next start,
    those of live ones (another batch still grading) stay."""
    import subprocess
    import sys
    from grader.files import sweep_scratch
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    left = [tmp_path / f"grade-{dead}-abc", tmp_path / f"baseline-{dead}-x1",
            tmp_path / "data" / f".partial-{dead}-q"]
    kept = [tmp_path / f"grade-{os.getpid()}-live", tmp_path / "grade-notes", tmp_path / "mine-1-2"]
    for path in left + kept:
        (path / "runs").mkdir(parents=True)
    removed = sweep_scratch(tmp_path, tmp_path / "data")
    assert sorted(removed) == sorted(left)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in left)
