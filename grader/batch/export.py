"""`grade export OUT --format csv|canvas|leaderboard|feedback`: files made from the
gradebook in OUT (nothing is retrained), written atomically into OUT/exports/.

- csv: one row per student and rubric, a column per rubric item ("pending" for a written
  answer a person grades), then total, pending manual points, accuracy, baseline, gain,
  status, the failure reason, whether the grade is official (true/false), the gain's 95%
  interval and the baseline's spread (empty where the grading did not measure them), then
  the amendment (grader/batch/amend.py): `final_total` (the grade to use: amended_points
  where a person amended it, else total), `amended_points`, `amendment_reason` and
  `amendment_stale` (true when the automatic part changed since it was amended), then the
  late policy's `submitted_at`, `days_late`, `late_penalty_percent` and `score_before_late`
  (empty without `grade batch --submission-times`). `total` is the automatic grade after
  any late penalty; the item columns are the automatic points before it.
- canvas: Canvas's gradebook import (Student, ID, SIS User ID, SIS Login ID, Section, then
  one assignment column, and one per written answer to grade by hand, empty until a
  person amends it); the student id goes in SIS Login ID. Amended grades go in as amended.
  Only official grades, unless allow_unofficial: a quick or advisory run must not reach the
  gradebook by accident (a total a person entered is theirs, so it goes in regardless).
- leaderboard: pseudonyms (a keyed hash of the student id, the key kept in OUT) ranked by
  test accuracy, with the gain and its interval; a student finds their own pseudonym in
  their feedback folder.
- feedback: the reports per student, as `grade --local` writes them, with the run's
  weights, predictions and gallery from the batch's own feedback folder.
- summary: the class view (summary.md with per_class.png and confusion.png,
  grader/batch/summary.py): score spread, failure reasons, per-class test accuracy across
  the class against the baseline, and the most common confusions. `grade batch` writes it
  at the end of every batch.
- similarity: similarity.csv, the pairs of similar submissions (code with the starter code
  subtracted, and test predictions) with their evidence (grader/batch/similarity.py).
- dashboard: index.html, the class on one self-contained page (grader/batch/dashboard.py),
  and similarity.csv beside it. `grade batch` writes it at the end of every batch.

Units, the same in every CSV: `accuracy` and `baseline_accuracy` are fractions (0.7135),
as in results.json's metrics; columns ending in `_pp` are percentage points (gain 2.5 =
2.5 points of accuracy); the Markdown shows accuracies as percentages with a % sign, like
Gradescope's leaderboard.

Student text is data in every export (grader.report.escape): a CSV text cell that a
spreadsheet would run as a formula (= + - @, tab, CR first) starts with a `'`, numbers stay
numbers; bidi controls are written out (`<U+202E>`); the Markdown is inert.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
import shutil
from pathlib import Path
from typing import Callable

from grader.batch import dashboard, gradebook, similarity
from grader.batch.summary import class_summary
from grader.batch.amend import apply
from grader.report.escape import csv_cell
from grader.report.folder import write_reports
from grader.report.record import Metrics, Results
from grader.files import write_atomic

WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "iris",
         "juniper", "kestrel", "lumen", "maple", "nova", "onyx", "pine", "quartz", "raven",
         "sierra", "tundra", "umber", "violet", "willow", "xenon", "yarrow", "zephyr")


class UnofficialGrades(ValueError):
    """Exporting for Canvas grades that are not official (a --quick run, or not graded in
    official mode) without allow_unofficial."""


def main(*, out: Path, fmt: str, rubric: str | None = None,
         allow_unofficial: bool = False) -> list[Path]:
    out = Path(out)
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if not (out / gradebook.FILE).is_file():
        raise FileNotFoundError(f"no gradebook at {out / gradebook.FILE}: run `grade batch` first")
    db = gradebook.connect(out / gradebook.FILE)
    rows = gradebook.rows(db, rubric)
    db.close()
    return WRITERS[fmt](out, rows, allow_unofficial)


# One writer per format: (the batch's folder, its gradebook rows, allow_unofficial) -> the
# files written under OUT/exports/.

def _csv(out: Path, rows: list[gradebook.Row], allow_unofficial: bool) -> list[Path]:
    return [_write_csv(out / "exports" / "grades.csv", *grades_table(rows))]


def _canvas(out: Path, rows: list[gradebook.Row], allow_unofficial: bool) -> list[Path]:
    if not allow_unofficial:
        refuse_unofficial(rows)
    return [_write_csv(out / "exports" / "canvas.csv", *canvas_table(rows))]


def _leaderboard(out: Path, rows: list[gradebook.Row], allow_unofficial: bool) -> list[Path]:
    md, table = leaderboard(rows, _leaderboard_key(out))
    return [_write_csv(out / "exports" / "leaderboard.csv", *table),
            write_atomic(out / "exports" / "leaderboard.md", md)]


def _feedback(out: Path, rows: list[gradebook.Row], allow_unofficial: bool) -> list[Path]:
    key = _leaderboard_key(out)
    written = []
    for r in rows:
        folder = out / "exports" / "feedback" / r.student
        kept = out / "feedback" / r.student  # what the batch's run left there
        for name in r.results.artifacts:
            if (kept / name).is_dir():
                shutil.copytree(kept / name, folder / name, dirs_exist_ok=True)
            elif (kept / name).is_file():
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(kept / name, folder / name)
        write_reports(apply(r.results, r.amendments), folder)
        written.append(write_atomic(folder / "leaderboard-name.txt", pseudonym(r.student, key) + "\n"))
    return written


def _summary(out: Path, rows: list[gradebook.Row], allow_unofficial: bool) -> list[Path]:
    md, pictures = class_summary(rows)
    written = [write_atomic(out / "exports" / "summary.md", md)]
    written += [write_atomic(out / "exports" / f"{name}.png", png) for name, png in pictures.items()]
    return written


def _similarity(out: Path, rows: list[gradebook.Row], allow_unofficial: bool) -> list[Path]:
    pairs, _ = similarity.for_class(out, rows)
    return [_write_csv(out / "exports" / "similarity.csv", *similarity.table(pairs))]


def _dashboard(out: Path, rows: list[gradebook.Row], allow_unofficial: bool) -> list[Path]:
    pairs, coverage = similarity.for_class(out, rows)
    similar = _write_csv(out / "exports" / "similarity.csv", *similarity.table(pairs))
    titles = sorted({r.results.provenance.title for r in rows})
    page = dashboard.render(rows, pairs, title=" / ".join(titles) + " — class dashboard",
                            coverage=coverage)
    return [write_atomic(out / "exports" / "index.html", page), similar]


WRITERS: dict[str, Callable[[Path, list[gradebook.Row], bool], list[Path]]] = {
    "csv": _csv, "canvas": _canvas, "leaderboard": _leaderboard, "feedback": _feedback,
    "summary": _summary, "dashboard": _dashboard, "similarity": _similarity}
FORMATS = tuple(WRITERS)


def grades_table(rows: list[gradebook.Row]) -> tuple[list[str], list[list]]:
    items: list[str] = []
    for r in rows:
        for t in r.results.tests:
            if t.name not in items:
                items.append(t.name)
    # new columns go last: a script that reads columns by position keeps working
    header = ["student", "rubric", *items, "total", "max_total", "pending_manual_points",
              "accuracy", "baseline_accuracy", "gain_pp", "status", "reason", "official",
              "gain_interval_low_pp", "gain_interval_high_pp", "baseline_std_pp", "baseline_seeds",
              "final_total", "amended_points", "amendment_reason", "amendment_stale",
              "submitted_at", "days_late", "late_penalty_percent", "score_before_late"]
    body = []
    for r in rows:
        scores = {t.name: "pending" if t.pending else t.score for t in r.results.tests}
        metrics = r.results.metrics
        body.append([r.student, r.rubric, *[scores.get(i, "") for i in items], r.score, r.max_score,
                     r.results.pending_points, _num(r.accuracy),
                     _num(r.baseline_accuracy), _num(r.gain_pp, 2), r.status,
                     r.failure_message or "", _official(r), *_interval(metrics),
                     _num(metrics.baseline_std_pp, 2), _cell(metrics.baseline_seeds),
                     *_amendment_cells(r), *_late_cells(r.results)])
    return header, body


def final_score(r: gradebook.Row) -> float:
    """The grade to use: a person's amendment where there is one, else the automatic score."""
    return apply(r.results, r.amendments).score


def _amendment_cells(r: gradebook.Row) -> list:
    amended = apply(r.results, r.amendments).amendment
    if not amended:
        return [r.score, "", "", ""]
    return [amended.points, amended.points, amended.reason, "true" if amended.stale else "false"]


def _late_cells(results: Results) -> list:
    """The late policy's decision (grader/scoring/late.py), empty where none was applied."""
    late = results.late
    if not late:
        return ["", "", "", ""]
    return [late.submitted_at, late.days_late, late.penalty_percent, late.score_before]


def refuse_unofficial(rows: list[gradebook.Row]) -> None:
    # a total a person entered is their grade, whatever the automatic run was
    unofficial = [r.student for r in rows if _official(r) != "true"
                  and not any(a.item == "" for a in r.amendments)]
    if unofficial:
        shown = ", ".join(unofficial[:5]) + (", ..." if len(unofficial) > 5 else "")
        raise UnofficialGrades(
            f"{len(unofficial)} of {len(rows)} grades are unofficial (a --quick run or not an "
            f"official grading): {shown}; grade them again with `grade batch` (without "
            f"--quick), or pass --allow-unofficial to export them anyway")


def _official(r: gradebook.Row) -> str:
    return "true" if r.results.official is True else "false"


def _interval(metrics: Metrics) -> list:
    """The gain's 95% interval as two cells, empty where it was not measured."""
    interval = metrics.gain_interval_pp or [None, None]
    return [_num(interval[0], 2), _num(interval[1], 2)]


def canvas_table(rows: list[gradebook.Row]) -> tuple[list[str], list[list]]:
    titles = {r.results.provenance.title for r in rows}
    column = " / ".join(sorted(titles)) or "TinyCNN lab"
    # Written answers get their own columns, left empty until a person amends them (--item):
    # Canvas shows them ungraded till then.
    manual = {}
    for r in rows:
        for t in r.results.tests:
            if t.pending:
                manual.setdefault(t.id, (f"{column}: {t.name} (graded by hand)", t.max_score))
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column,
              *[name for name, _ in manual.values()]]
    points = max((r.max_score for r in rows), default=0)
    body = [["Points Possible", "", "", "", "", points, *[p for _, p in manual.values()]]]
    for r in rows:
        amended = apply(r.results, r.amendments).amendment
        if amended and amended.total is not None:  # the person's total: everything in one column
            score, hand = amended.total, {}
        else:
            hand = {i: p for i, p in (amended.items if amended else {}).items() if i in manual}
            score = (amended.points if amended else r.score) - sum(hand.values())
        body.append(["", "", "", r.student, "", score, *[hand.get(i, "") for i in manual]])
    return header, body


def pseudonym(student: str, key: bytes) -> str:
    digest = hmac.new(key, student.encode(), hashlib.sha256).digest()
    return f"{WORDS[digest[0] % len(WORDS)]}-{WORDS[digest[1] % len(WORDS)]}-{digest[2:4].hex()}"


def leaderboard(rows: list[gradebook.Row], key: bytes) -> tuple[str, tuple[list[str], list[list]]]:
    ranked = sorted((r for r in rows if r.accuracy is not None), key=lambda r: -r.accuracy)
    header = ["rank", "name", "accuracy", "gain_pp", "score", "gain_interval_low_pp",
              "gain_interval_high_pp"]
    body = [[i, pseudonym(r.student, key), _num(r.accuracy), _num(r.gain_pp, 2), final_score(r),
             *_interval(r.results.metrics)] for i, r in enumerate(ranked, 1)]
    md = ["# Leaderboard", "", "Names are pseudonyms; yours is in your feedback folder. The gain "
          "is in percentage points over the baseline, with its 95% interval where it was "
          "measured.", "",
          "| rank | name | test accuracy | gain (pp) | score |", "|---:|---|---:|---:|---:|"]
    md += [f"| {b[0]} | {b[1]} | {r.accuracy:.2%} | {_gain_cell(r)} | {b[4]:g} |"
           for b, r in zip(body, ranked)]
    return "\n".join(md) + "\n", (header, body)


def _gain_cell(r: gradebook.Row) -> str:
    if r.gain_pp is None:
        return ""
    interval = r.results.metrics.gain_interval_pp
    return f"{r.gain_pp:+.2f}" + (f" [{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else "")


def _leaderboard_key(out: Path) -> bytes:
    """Kept beside the gradebook, so pseudonyms stay the same from one export to the next."""
    path = out / ".leaderboard-key"
    if not path.exists():
        write_atomic(path, secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _num(value, digits: int = 4):
    return "" if value is None else round(value, digits)


def _cell(value):
    return "" if value is None else value


def _write_csv(path: Path, header: list[str], body: list[list]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([csv_cell(c) for c in header])
    writer.writerows([csv_cell(c) for c in row] for row in body)
    return write_atomic(path, buf.getvalue())
