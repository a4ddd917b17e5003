"""Synthetic results.json and a gradebook holding them, for the exports and what reads them."""
import csv

from grader.batch import gradebook


def results_for(student, *, official=True, quick=False, accuracy=0.7135, interval=(1.1, 5.3),
                std=0.42, seeds=10, status="graded"):
    metrics = {"accuracy": accuracy, "baseline_accuracy": 0.6815 if accuracy else None,
               "gain_pp": 3.2 if accuracy else None,
               "gain_interval_pp": list(interval) if interval else None,
               "baseline_std_pp": std, "baseline_seeds": seeds}
    return {"score": 50.0, "max_score": 100.0, "pending_points": 0, "status": status,
            "official": official, "quick": quick, "mode": "official" if official else "local",
            "failure": None if status == "graded" else {"code": "syntax_error", "message": "x"},
            "tests": [{"name": "Output shape of `conv1`", "score": 5.0, "max_score": 5.0,
                       "status": "passed", "output": ""}],
            "metrics": metrics,
            "provenance": {"rubric": {"name": "lab", "title": "Lab"}, "versions": {}}}


def gradebook_of(out, grades: dict) -> None:
    db = gradebook.connect(out / gradebook.FILE)
    for student, results in grades.items():
        gradebook.record(db, student=student, rubric_digest="d", content_hash=student,
                         source=student, results=results)
    db.close()


def read(path):
    return {r["student"] if "student" in r else r["name"]: r for r in csv.DictReader(path.open())}


def with_written_answer(results, answered=True):
    results["tests"].append({"name": "Why BatchNorm helps", "score": 0.0, "max_score": 10.0,
                             "status": "failed", "output": "Pending manual grading (10 points).",
                             "tags": ["why_bn", "manual", "pending"]})
    results["pending_points"] = 10.0
    return results
