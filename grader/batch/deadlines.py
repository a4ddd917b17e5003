"""`grade batch --submission-times FILE`: when each student handed in, and their extension,
so a class graded from a folder gets the rubric's late policy as Gradescope applies it
(grader/scoring/late.py).

The file is a CSV with a header: `student` (the submission's id in the folder),
`submitted_at` (ISO 8601; a time without a UTC offset is read in the rubric's due date's
offset) and `extension_days` (days added to the due date and the late due date; empty
is 0). Columns beyond these are ignored, so an LMS export with more of them works.
"""
from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass
from pathlib import Path

from grader.rubric import LatePolicy, parse_time
from grader.scoring import late

COLUMNS = ("student", "submitted_at", "extension_days")


class TimesError(ValueError):
    """A submission-times file that cannot be read as one: the line and what is wrong."""


@dataclass(frozen=True)
class SubmissionTime:
    student: str
    submitted_at: datetime.datetime
    extension_days: float


def read_times(path: Path, policy: LatePolicy) -> dict[str, SubmissionTime]:
    """student -> their time; TimesError names the file, the line and the problem."""
    due = parse_time(policy.due_date)
    with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's BOM is no column
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS[:2] if c not in (reader.fieldnames or [])]
        if missing:
            raise TimesError(f"{path}: needs the columns {', '.join(COLUMNS)} (missing: "
                             f"{', '.join(missing)})")
        times: dict[str, SubmissionTime] = {}
        for row in reader:
            line = reader.line_num
            student = (row.get("student") or "").strip()
            if not student:
                raise TimesError(f"{path}: line {line}: no student id")
            if student in times:
                raise TimesError(f"{path}: line {line}: {student!r} is listed twice")
            text = (row.get("submitted_at") or "").strip()
            try:
                when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise TimesError(f"{path}: line {line}: submitted_at {text!r} is not an ISO "
                                 f"8601 time (e.g. 2026-12-02T09:30:00-08:00)") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=due.tzinfo)
            extension = (row.get("extension_days") or "").strip() or "0"
            try:
                days = float(extension)
            except ValueError:
                raise TimesError(f"{path}: line {line}: extension_days {extension!r} is not a "
                                 f"number of days") from None
            if days < 0:
                raise TimesError(f"{path}: line {line}: extension_days must be 0 or more")
            times[student] = SubmissionTime(student, when, days)
    return times


def lateness(policy: LatePolicy, t: SubmissionTime, score: float) -> late.Lateness:
    """The rubric's due dates, moved by the student's extension, judged on their time."""
    shift = datetime.timedelta(days=t.extension_days)
    late_due = parse_time(policy.late_due_date) + shift if policy.late_due_date else None
    return late.decide(policy, submitted=t.submitted_at, due=parse_time(policy.due_date) + shift,
                       late_due=late_due, score=score, extension_days=t.extension_days)
