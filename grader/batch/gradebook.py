"""The gradebook: one SQLite file in the batch's output folder.

A grade is one row per submission x rubric, written in a single transaction when its
grading has finished (results, score, failure, timings, versions), with a row per seed
beside it. Nothing is written while a submission trains, so a batch killed with -9 at any
moment leaves only whole rows: on the next run the finished submissions are skipped (same
content hash, same rubric digest) and the unfinished ones are graded again. Only the
driver writes here; workers hand their results back.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from grader.records import RecordError, dump
from grader.report.record import Results

FILE = "gradebook.sqlite"  # in the batch's --out folder

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    student TEXT NOT NULL,
    rubric TEXT NOT NULL,            -- rubric name
    rubric_digest TEXT NOT NULL,     -- a changed rubric is a new grade
    content_hash TEXT NOT NULL,      -- a changed submission is a new grade
    source TEXT NOT NULL,            -- the file or folder graded
    status TEXT NOT NULL,            -- graded | failed
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    accuracy REAL,
    baseline_accuracy REAL,
    gain_pp REAL,
    failure_code TEXT,
    failure_message TEXT,
    wall_s REAL,
    versions TEXT,                   -- JSON
    results TEXT NOT NULL,           -- the whole results.json
    graded_at TEXT NOT NULL,
    PRIMARY KEY (student, rubric_digest)
);
CREATE TABLE IF NOT EXISTS runs (
    student TEXT NOT NULL,
    rubric_digest TEXT NOT NULL,
    seed INTEGER NOT NULL,
    accuracy REAL,
    train_seconds REAL,
    wall_s REAL,
    PRIMARY KEY (student, rubric_digest, seed)
);
-- A person's amendments, apart from the automatic grades: keyed by the rubric's name, not
-- its digest, so a regrade (--force, or a fixed rubric) replaces the automatic part and
-- keeps them.
CREATE TABLE IF NOT EXISTS amendments (
    student TEXT NOT NULL,
    rubric TEXT NOT NULL,            -- rubric name
    item TEXT NOT NULL,              -- '' for the student's total, else a rubric item id
    points REAL NOT NULL,
    reason TEXT NOT NULL,
    automatic_points REAL NOT NULL,  -- the automatic total (or item's points) it replaced
    amended_at TEXT NOT NULL,
    PRIMARY KEY (student, rubric, item)
);
"""


@dataclass(frozen=True)
class Row:
    student: str
    rubric: str
    status: str
    score: float
    max_score: float
    accuracy: float | None
    baseline_accuracy: float | None
    gain_pp: float | None
    failure_code: str | None
    failure_message: str | None
    results: Results
    amendments: tuple[Amendment, ...] = ()  # a person's, kept apart from the automatic grade


@dataclass(frozen=True)
class Amendment:
    student: str
    rubric: str
    item: str                # "" for the total
    points: float
    reason: str
    automatic_points: float  # what the grader had given when the person amended it
    amended_at: str


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")   # readers (exports) never block the driver
    db.execute("PRAGMA synchronous=FULL")   # a committed grade survives a power cut
    db.executescript(SCHEMA)
    return db


def is_done(db: sqlite3.Connection, student: str, rubric_digest: str, content_hash: str) -> bool:
    row = db.execute("SELECT content_hash FROM grades WHERE student=? AND rubric_digest=?",
                     (student, rubric_digest)).fetchone()
    return row is not None and row[0] == content_hash


def record(db: sqlite3.Connection, *, student: str, rubric_digest: str, content_hash: str,
           source: str, results: Results) -> None:
    """Write one finished grade and its runs, replacing an older grade of the same pair."""
    m, failure = results.metrics, results.failure
    with db:  # one transaction: the grade and its runs land together or not at all
        db.execute("DELETE FROM runs WHERE student=? AND rubric_digest=?", (student, rubric_digest))
        db.execute(
            "INSERT OR REPLACE INTO grades VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (student, results.provenance.rubric_name, rubric_digest, content_hash, source,
             results.status, results.score, results.max_score, m.accuracy,
             m.baseline_accuracy, m.gain_pp, failure and failure.code, failure and failure.message,
             m.wall_time_s, json.dumps(dump(results.provenance.versions)), _json(results),
             time.strftime("%Y-%m-%dT%H:%M:%S%z")))
        for run in m.per_seed:
            db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?)",
                       (student, rubric_digest, run.seed, run.accuracy, run.train_seconds,
                        run.wall_s))


def results_of(db: sqlite3.Connection, student: str, rubric_digest: str) -> Results | None:
    row = db.execute("SELECT results FROM grades WHERE student=? AND rubric_digest=?",
                     (student, rubric_digest)).fetchone()
    return _results(student, row[0]) if row else None


def replace_results(db: sqlite3.Connection, student: str, rubric_digest: str,
                    results: Results) -> None:
    """The same grading with its score changed after the fact (a late policy applied
    again): the runs and the content hash stay."""
    with db:
        db.execute("UPDATE grades SET score=?, results=? WHERE student=? AND rubric_digest=?",
                   (results.score, _json(results), student, rubric_digest))


def _json(results: Results) -> str:
    return json.dumps(results.dump(), default=str)


class GradebookError(Exception):
    """A grade the gradebook holds cannot be read as this grader's results."""


def _results(student: str, text: str) -> Results:
    try:
        return Results.load(json.loads(text))
    except (RecordError, ValueError) as e:
        raise GradebookError(f"the gradebook's grade of {student!r} is not results this grader "
                             f"reads ({e}); grade it again with `grade batch --force`") from e


def rows(db: sqlite3.Connection, rubric: str | None = None) -> list[Row]:
    """The newest grade per student (for one rubric name, or all), sorted by student."""
    # INSERT OR REPLACE gives a new rowid, so the highest rowid is the newest grade
    query = ("SELECT student, rubric, status, score, max_score, accuracy, baseline_accuracy, "
             "gain_pp, failure_code, failure_message, results FROM grades g "
             "WHERE rowid = (SELECT MAX(rowid) FROM grades h WHERE h.student = g.student "
             "AND h.rubric = g.rubric)" + (" AND rubric = ?" if rubric else "")
             + " ORDER BY student, rubric")
    kept = {}
    for a in amendments(db):
        kept.setdefault((a.student, a.rubric), []).append(a)
    out = []
    for r in db.execute(query, (rubric,) if rubric else ()):
        out.append(Row(*r[:-1], results=_results(r[0], r[-1]),
                       amendments=tuple(kept.get((r[0], r[1]), ()))))
    return out


def amendments(db: sqlite3.Connection, student: str | None = None,
               rubric: str | None = None) -> list[Amendment]:
    where = " AND ".join(f"{k}=?" for k, v in (("student", student), ("rubric", rubric)) if v)
    query = ("SELECT student, rubric, item, points, reason, automatic_points, amended_at FROM "
             "amendments" + (f" WHERE {where}" if where else "") + " ORDER BY student, item")
    return [Amendment(*r) for r in db.execute(query, tuple(v for v in (student, rubric) if v))]


def amend(db: sqlite3.Connection, a: Amendment) -> None:
    with db:
        db.execute("INSERT OR REPLACE INTO amendments VALUES (?,?,?,?,?,?,?)",
                   (a.student, a.rubric, a.item, a.points, a.reason, a.automatic_points,
                    a.amended_at))


def clear_amendment(db: sqlite3.Connection, student: str, rubric: str, item: str) -> bool:
    with db:
        return db.execute("DELETE FROM amendments WHERE student=? AND rubric=? AND item=?",
                          (student, rubric, item)).rowcount > 0


def count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
