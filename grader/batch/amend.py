"""`grade amend OUT STUDENT --points P --reason TEXT [--item ID] [--clear]`: a person's
grade, kept in the gradebook apart from the automatic one.

What the points mean:
- without --item, P is the student's final total: it replaces the automatic total in every
  export (the automatic total stays recorded beside it);
- with --item ID, P is the points of that one rubric item (a written answer pending manual
  grading, or a check a person overrules); the total becomes the automatic total with that
  item's points swapped in, before a late grade's penalty, which then applies to them too. A
  total amendment, where there is one, wins over item ones (and is final: no penalty).

Amendments are keyed by student and rubric name, so a regrade (`grade batch --force`, or a
fixed rubric with a new digest) replaces the automatic part and keeps them; an amendment
whose automatic part has changed since it was entered is marked stale in every export for
a person to look at again. `official` keeps describing the automatic grading.
"""
from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

from grader.batch import gradebook
from grader.load.answers import PENDING
from grader.report import record
from grader.report.folder import write_reports
from grader.report.record import Results


class AmendError(ValueError):
    """An amendment refused before anything was written: unknown student or item, points
    out of range, no reason."""


def main(*, out: Path, student: str, points: float | None = None, reason: str | None = None,
         item: str | None = None, clear: bool = False, rubric: str | None = None) -> str:
    """Record (or --clear) one amendment, rewrite the student's feedback reports, and
    return what was done, in a sentence."""
    out = Path(out)
    if not (out / gradebook.FILE).is_file():
        raise FileNotFoundError(f"no gradebook at {out / gradebook.FILE}: run `grade batch` first")
    db = gradebook.connect(out / gradebook.FILE)
    try:
        row = _the_row(db, student, rubric)
        what = f"{item!r} of {student}" if item else f"the total of {student}"
        if clear:
            if not gradebook.clear_amendment(db, student, row.rubric, item or ""):
                raise AmendError(f"no amendment to clear for {what}")
            done = f"cleared the amendment of {what}"
        else:
            gradebook.amend(db, _amendment(row, points, reason, item))
            done = f"amended {what} to {points:g} points"
        row = _the_row(db, student, row.rubric)
    finally:
        db.close()
    if (out / "feedback" / student).is_dir():  # the student's own reports show it too
        write_reports(apply(row.results, row.amendments), out / "feedback" / student)
    return done


def apply(results: Results, amendments) -> Results:
    """`results` as a person amended it: item points swapped in (a pending item amended is
    graded), the total replaced by a total amendment, and `automatic` and `amendment`
    beside them. The gradebook's own results are never changed."""
    if not amendments:
        return results
    results = copy.deepcopy(results)
    results.score = results.score or 0.0
    results.max_score = results.max_score or 0.0
    results.pending_points = results.pending_points or 0.0
    automatic = record.Automatic(results.score, results.max_score, results.pending_points)
    notes, stale, whole, gained = [], False, None, 0.0
    for a in amendments:
        if not a.item:
            whole = a
            stale |= a.automatic_points != automatic.score
            continue
        test = results.item(a.item)
        if test is None:  # the rubric dropped the item since: say so, count nothing
            notes.append(f"{a.item}: {a.points:g} points, but the rubric has no such item now")
            stale = True
            continue
        stale |= a.automatic_points != _auto_points(test)
        gained += a.points - _auto_points(test)
        notes.append(_swap_in(results, test, a))
    if gained:
        results.score = _with_late_penalty(results, gained, notes)
    if whole is not None:
        results.score = float(whole.points)
        notes.insert(0, f"total {whole.points:g} ({whole.reason})")
    results.automatic = automatic
    results.amendment = record.Amendment(
        points=results.score, total=whole.points if whole else None, reason="; ".join(notes),
        stale=stale, items={a.item: a.points for a in amendments if a.item})
    line = f"Amended by the instructor: {'; '.join(notes)}."
    results.output = line + "\n" + (results.output or "")
    return results


def _swap_in(results: Results, test: record.Item, a: gradebook.Amendment) -> str:
    """Put a person's points on one item (in place) and return the note that says so; a
    pending item now counts in the maximum (its points in the score: the caller's)."""
    if test.pending:
        results.max_score += test.max_score
        results.pending_points -= test.max_score
    test.tags = [t for t in test.tags if t != PENDING] + ["amended"]
    test.score = float(a.points)
    test.status = "passed" if a.points >= test.max_score else "failed"  # Gradescope's values
    test.output = (f"Amended by the instructor to {a.points:g} / {test.max_score:g} "
                   f"points: {a.reason}\n\n" + (test.output or ""))
    return f"{test.name}: {a.points:g} points ({a.reason})"


def _with_late_penalty(results: Results, gained: float, notes: list[str]) -> float:
    """The score once items gained `gained` points: a late grade's penalty (its percent of
    the grader's score, scoring/late.py) applies to the amended points as to the rest, and
    results.late records the new before and after."""
    late = results.late
    percent = float(late.penalty_percent or 0.0) if late else 0.0
    if not percent:
        return results.score + gained
    before = float(late.score_before) + gained
    after = round(before * (1 - percent / 100), 4)
    results.late = dataclasses.replace(late, score_before=before, score_after=after)
    notes.append(f"the late penalty of {percent:g}% applies to the amended points too")
    return after


def _amendment(row: gradebook.Row, points: float | None, reason: str | None,
               item: str | None) -> gradebook.Amendment:
    if points is None or not (reason or "").strip():
        raise AmendError("say --points P and --reason TEXT (or --clear)")
    if points < 0:
        raise AmendError(f"--points must be 0 or more, not {points:g}")
    if item:
        test = row.results.item(item)
        if test is None:
            ids = [t.id for t in row.results.tests if t.id]
            raise AmendError(f"{row.student} has no rubric item {item!r} (items: {', '.join(ids)})")
        if points > test.max_score:
            raise AmendError(f"{item} is worth at most {test.max_score:g} points, not {points:g}")
        auto = _auto_points(test)
    else:
        auto = row.results.score
    return gradebook.Amendment(student=row.student, rubric=row.rubric, item=item or "",
                               points=float(points), reason=reason.strip(),
                               automatic_points=auto, amended_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def _the_row(db, student: str, rubric: str | None) -> gradebook.Row:
    rows = [r for r in gradebook.rows(db, rubric) if r.student == student]
    if not rows:
        raise AmendError(f"no grade for {student!r} in the gradebook" +
                         (f" with rubric {rubric!r}" if rubric else ""))
    if len(rows) > 1:
        raise AmendError(f"{student} has grades for several rubrics "
                         f"({', '.join(r.rubric for r in rows)}): say which with --rubric")
    return rows[0]


def _auto_points(test: record.Item) -> float:
    """The grader's own points for an item; a pending one has none yet."""
    return 0.0 if test.pending else float(test.score)
