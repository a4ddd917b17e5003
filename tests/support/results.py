"""Results for the reports, the exports and the front ends to read. Each starts from a real
grading's (tests/golden/*.results.json, loaded as the typed record), so a field the grader
adds cannot be missing here; a test changes only the figures it is about."""
import json
from pathlib import Path

from grader.failures import Failure, failure_dict
from grader.report.record import Item, Pair, Results

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def golden(name: str = "template") -> Results:
    """A stored real grading: `template` (the untouched template) or `failed`."""
    return Results.load(json.loads((GOLDEN / f"{name}.results.json").read_text()))


def results_for(student, *, official=True, quick=False, accuracy=0.7135, interval=(1.1, 5.3),
                std=0.42, seeds=10, status="graded") -> Results:
    r = golden()
    r.score, r.max_score, r.pending_points = 50.0, 100.0, 0
    r.status, r.official, r.quick = status, official, quick
    r.mode, r.notice, r.anomaly = "official" if official else "local", "", None
    r.failure = None if status == "graded" else Failure(**failure_dict("syntax_error", "x"))
    r.tests = [Item(name="Output shape of `conv1`", score=5.0, max_score=5.0, status="passed",
                    output="", tags=["output_shape"])]
    m = r.metrics
    m.accuracy, m.baseline_accuracy = accuracy, 0.6815 if accuracy else None
    m.gain_pp = 3.2 if accuracy else None
    m.gain_interval_pp = list(interval) if interval else None
    m.baseline_std_pp, m.baseline_seeds = std, seeds
    # no per-class figures unless a test gives them (the class views then stay empty)
    m.confusion, m.per_class = Pair(None, None), Pair(None, None)
    r.provenance.rubric = {**r.provenance.rubric, "name": "lab", "title": "Lab"}
    r.provenance.rubric_name = "lab"
    # hooks and source not known: the similarity check compares predictions alone
    r.submission.name, r.submission.origin, r.submission.customised_hooks = student, "", None
    return r
