"""A gradebook holding results (support.results), for the exports and what reads them."""
import csv

from grader.batch import gradebook
from grader.report.record import Item, Results


def gradebook_of(out, grades: dict) -> None:
    db = gradebook.connect(out / gradebook.FILE)
    for student, results in grades.items():
        gradebook.record(db, student=student, rubric_digest="d", content_hash=student,
                         source=student, results=results)
    db.close()


def read(path):
    return {r["student"] if "student" in r else r["name"]: r for r in csv.DictReader(path.open())}


def with_written_answer(results: Results, answered=True) -> Results:
    results.tests.append(Item(name="Why BatchNorm helps", score=0.0, max_score=10.0,
                              status="failed", output="Pending manual grading (10 points).",
                              tags=["why_bn", "manual", "pending"]))
    results.pending_points = 10.0
    return results
