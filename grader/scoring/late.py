"""The rubric's late policy (`late:`), applied to a graded results object: one rule for the
Gradescope bundle (due dates from submission_metadata.json) and `grade batch
--submission-times FILE` (the rubric's due dates, moved by a student's extension days).

The penalty is a share of the grader's score: `percent_per_day` (or `_per_hour`) for each
started day (hour) after the due date, at most `max_percent`; nothing within
`grace_minutes`, and 0 after the late due date when `zero_after_late_due_date`. What was
decided is kept in results.late (times, days and hours late, the percent, the score
before and after), so a report, an export or a later re-application reads it back.
"""
from __future__ import annotations

import copy
import datetime
import math
import dataclasses
from dataclasses import dataclass

from grader.i18n import _, ngettext
from grader.rubric import LatePolicy


@dataclass(frozen=True)
class Lateness:
    """What the policy decided for one submission (results.json's `late`)."""
    submitted_at: str
    due_date: str
    late_due_date: str | None
    extension_days: float        # a batch's extension, already in due_date (0 on Gradescope)
    hours_late: float            # 0 when on time
    days_late: int               # started days after the due date (0 when on time or in grace)
    in_grace: bool
    after_late_due_date: bool
    penalty_percent: float
    score_before: float
    score_after: float
    line: str = ""               # what a student reads of it (apply); empty when on time


def decide(policy: LatePolicy, *, submitted: datetime.datetime, due: datetime.datetime,
           late_due: datetime.datetime | None, score: float,
           extension_days: float = 0.0) -> Lateness:
    """The penalty for a submission at `submitted` against these due dates (the student's
    own: extensions already applied)."""
    seconds = (submitted - due).total_seconds()
    hours = max(0.0, seconds / 3600)
    in_grace = 0 < seconds <= policy.grace_minutes * 60
    after_late = (late_due is not None and submitted > late_due
                  and policy.zero_after_late_due_date)
    days = 0 if seconds <= 0 or in_grace else math.ceil(seconds / 86400)
    if after_late:
        percent = 100.0
    elif seconds <= 0 or in_grace:
        percent = 0.0
    elif policy.percent_per_hour:
        percent = min(policy.max_percent, math.ceil(seconds / 3600) * policy.percent_per_hour)
    else:
        percent = min(policy.max_percent, days * policy.percent_per_day)
    after = round(score * (1 - percent / 100), 4)
    return Lateness(submitted_at=submitted.isoformat(), due_date=due.isoformat(),
                    late_due_date=late_due.isoformat() if late_due else None,
                    extension_days=extension_days, hours_late=round(hours, 3), days_late=days,
                    in_grace=in_grace, after_late_due_date=after_late,
                    penalty_percent=float(percent), score_before=float(score), score_after=after)


def apply(results, lateness: Lateness):
    """`results` (grader.report.record.Results) with the penalty taken from its score, `late`
    recorded beside it and a line at the top of its output. The score before is the one
    recorded by an earlier application, if any, so applying again (a changed extension)
    never stacks penalties."""
    output = results.output or ""
    earlier = results.late.line if results.late else ""
    if earlier and output.startswith(earlier + "\n"):  # replaced, never stacked
        output = output[len(earlier) + 1:]
    late = dataclasses.replace(lateness, line=describe(lateness) if lateness.hours_late > 0 else "")
    return dataclasses.replace(copy.deepcopy(results), late=late, score=late.score_after,
                               output=(late.line + "\n" if late.line else "") + output)


def describe(lateness: Lateness, with_points: bool = True) -> str:
    """One line a student reads; `with_points` False leaves out the score (Gradescope, while
    the test results are not yet shown)."""
    if lateness.after_late_due_date:
        return _("Submitted after the late due date ({late_due}): the score is 0.").format(
            late_due=lateness.late_due_date)
    if lateness.in_grace:
        return _("Submitted within the grace period after the due date: no late penalty.")
    days = ngettext("{n} started day", "{n} started days", lateness.days_late).format(
        n=lateness.days_late)
    if not with_points:
        return _("Submitted {hours} h after the due date ({days}): a late penalty of "
                 "{percent}.").format(hours=f"{lateness.hours_late:.1f}", days=days,
                                      percent=f"{lateness.penalty_percent:g}%")
    return _("Submitted {hours} h after the due date ({days}): a late penalty of {percent}, "
             "{before} -> {after} points.").format(
        hours=f"{lateness.hours_late:.1f}", days=days,
        percent=f"{lateness.penalty_percent:g}%", before=f"{lateness.score_before:g}",
        after=f"{lateness.score_after:g}")


def base_score(results) -> float:
    """The grader's score before any late penalty."""
    return float(results.late.score_before if results.late else results.score)
