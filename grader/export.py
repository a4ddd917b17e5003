"""`grade export OUT --format csv|canvas|leaderboard|feedback`: files made from the
gradebook in OUT (nothing is retrained), written atomically into OUT/exports/.

- csv: one row per student and rubric, a column per rubric item, then total, accuracy,
  baseline, gain, status and the failure reason.
- canvas: Canvas's gradebook import (Student, ID, SIS User ID, SIS Login ID, Section, then
  one assignment column); the student id goes in SIS Login ID.
- leaderboard: pseudonyms (a keyed hash of the student id, the key kept in OUT) ranked by
  test accuracy; a student finds their own pseudonym in their feedback folder.
- feedback: results.json and report.md per student, as `grade --local` writes them.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from pathlib import Path

from grader import gradebook
from grader.batch import GRADEBOOK
from grader.report import write_reports
from grader.results import write_text

FORMATS = ("csv", "canvas", "leaderboard", "feedback")
WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "iris",
         "juniper", "kestrel", "lumen", "maple", "nova", "onyx", "pine", "quartz", "raven",
         "sierra", "tundra", "umber", "violet", "willow", "xenon", "yarrow", "zephyr")


def main(*, out: Path, fmt: str, rubric: str | None = None) -> list[Path]:
    out = Path(out)
    if not (out / GRADEBOOK).is_file():
        raise FileNotFoundError(f"no gradebook at {out / GRADEBOOK}: run `grade batch` first")
    db = gradebook.connect(out / GRADEBOOK)
    rows = gradebook.rows(db, rubric)
    db.close()
    target = out / "exports"
    if fmt == "csv":
        return [_write_csv(target / "grades.csv", *grades_table(rows))]
    if fmt == "canvas":
        return [_write_csv(target / "canvas.csv", *canvas_table(rows))]
    if fmt == "leaderboard":
        key = _leaderboard_key(out)
        md, table = leaderboard(rows, key)
        return [_write_csv(target / "leaderboard.csv", *table),
                write_text(target / "leaderboard.md", md)]
    if fmt == "feedback":
        key = _leaderboard_key(out)
        written = []
        for r in rows:
            folder = target / "feedback" / r.student
            write_reports(r.results, folder)
            written.append(write_text(folder / "leaderboard-name.txt", pseudonym(r.student, key) + "\n"))
        return written
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def grades_table(rows: list[gradebook.Row]) -> tuple[list[str], list[list]]:
    items: list[str] = []
    for r in rows:
        for t in r.results.get("tests", []):
            if t["name"] not in items:
                items.append(t["name"])
    header = ["student", "rubric", *items, "total", "max_total", "accuracy", "baseline_accuracy",
              "gain_pp", "status", "reason"]
    body = []
    for r in rows:
        scores = {t["name"]: t["score"] for t in r.results.get("tests", [])}
        body.append([r.student, r.rubric, *[scores.get(i, "") for i in items], r.score, r.max_score,
                     _num(r.accuracy), _num(r.baseline_accuracy), _num(r.gain_pp, 2), r.status,
                     r.failure_message or ""])
    return header, body


def canvas_table(rows: list[gradebook.Row]) -> tuple[list[str], list[list]]:
    titles = {r.results["provenance"]["rubric"].get("title") or r.rubric for r in rows}
    column = " / ".join(sorted(titles)) or "TinyCNN lab"
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
    points = max((r.max_score for r in rows), default=0)
    body = [["Points Possible", "", "", "", "", points]]
    body += [["", "", "", r.student, "", r.score] for r in rows]
    return header, body


def pseudonym(student: str, key: bytes) -> str:
    digest = hmac.new(key, student.encode(), hashlib.sha256).digest()
    return f"{WORDS[digest[0] % len(WORDS)]}-{WORDS[digest[1] % len(WORDS)]}-{digest[2:4].hex()}"


def leaderboard(rows: list[gradebook.Row], key: bytes) -> tuple[str, tuple[list[str], list[list]]]:
    ranked = sorted((r for r in rows if r.accuracy is not None), key=lambda r: -r.accuracy)
    header = ["rank", "name", "accuracy", "gain_pp", "score"]
    body = [[i, pseudonym(r.student, key), _num(r.accuracy), _num(r.gain_pp, 2), r.score]
            for i, r in enumerate(ranked, 1)]
    md = ["# Leaderboard", "", "Names are pseudonyms; yours is in your feedback folder.", "",
          "| rank | name | test accuracy | gain (pp) | score |", "|---:|---|---:|---:|---:|"]
    md += [f"| {b[0]} | {b[1]} | {b[2]} | {b[3]} | {b[4]:g} |" for b in body]
    return "\n".join(md) + "\n", (header, body)


def _leaderboard_key(out: Path) -> bytes:
    """Kept beside the gradebook, so pseudonyms stay the same from one export to the next."""
    path = out / ".leaderboard-key"
    if not path.exists():
        write_text(path, secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _num(value, digits: int = 4):
    return "" if value is None else round(value, digits)


def _write_csv(path: Path, header: list[str], body: list[list]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(body)
    return write_text(path, buf.getvalue())
