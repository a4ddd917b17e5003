"""A class handed in as a folder of submissions, graded by `grade batch`, and what its gradebook holds."""
import shutil
import sqlite3
from pathlib import Path

from conftest import REPO, SUBMISSIONS
from grader.batch import gradebook
from grader.cli import main as cli


# student id -> (what they hand in, the outcome the gradebook must hold)
CLASS = {
    "u_ada": (REPO / "student_template", "graded"),
    "u_bo": (SUBMISSIONS / "passes_only_optimizer_changed.py", "graded"),
    "u_cy": (SUBMISSIONS / "fails_syntax_error.py", "syntax_error"),
    "u_di": (SUBMISSIONS / "fails_output_shape.py", "output_shape"),
    "u_ed": (SUBMISSIONS / "hostile_hunts_for_test_labels.py", "graded"),
    "u_fu": (SUBMISSIONS / "fails_calls_sys_exit.py", "training_error"),
}


def hand_in(folder: Path, students=CLASS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for student, (source, _) in students.items():
        if source.is_dir():
            shutil.copytree(source, folder / student, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, folder / f"{student}{source.suffix}")
    return folder


def outcomes(out: Path) -> dict:
    db = sqlite3.connect(out / gradebook.FILE)
    rows = db.execute("SELECT student, status, failure_code FROM grades").fetchall()
    db.close()
    return {s: (code or status) for s, status, code in rows}


def run_batch(folder, out, rubric, data_dir, cache, *extra):
    return cli(["batch", str(folder), "--rubric", str(rubric), "--out", str(out), "--quick",
                "--data-dir", str(data_dir), *extra])
