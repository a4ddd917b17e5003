"""Gradescope: inside Gradescope's container `run_autograder` grades /autograder/submission
into /autograder/results/results.json (`python -m grader.commands.gradescope run`; setup.sh's
`prepare` readies the data and the baseline). Grades made there are official: the student
controls neither the grader nor the data. The bundle itself is built by
commands/gradescope_bundle.py. AUTOGRADER_ROOT and AUTOGRADER_PYTHON let a test run it on a
simulated tree.

What Gradescope reads (its autograder specification, gradescope-autograders.readthedocs.io
/en/latest/specs/, docs/specs.md in gradescope/autograder_samples): only
/autograder/results/results.json, which run_autograder must leave; a test's `status` may be
"passed" or "failed" and nothing else, and without one a test passes when its score equals
its max_score (so a 0-of-0 pending answer would show as passed); test names and outputs
are plain text unless `name_format`/`output_format` say "html", "simple_format", "md" or
"ansi".

What a student sees and when (the rubric's `release:`): Gradescope's `visibility` is set
at the top level (the default for every test) and on each test, one of "visible",
"hidden", "after_due_date" and "after_published"; `stdout_visibility` takes the same
values (kept "hidden": the run's log shows test accuracies); `extra_data` is stored, not
shown to students. An "after_due_date" test shows once the due date has passed, or the late due
date where late submissions are allowed. Gradescope hides the total while a test that
carries points is hidden, and an earlier version of its specification says a "hidden" test
should carry none, so the points items of `hidden` test results wait for "after_published". The top-level `output` has no visibility of its own, so while
the test results are not yet shown it carries only what is visible at once; the full
report travels in a 0-point test of the test results' visibility.

/autograder/submission_metadata.json (docs/submission_metadata.md) gives `created_at` (the
submission's time: limits and lateness are judged on it, never on the clock, so a rerun
decides the same), `assignment.due_date` and `assignment.late_due_date`, each user's own
`users[].assignment` dates where they have an extension, and `previous_submissions[]`
(`submission_time`, `score`, `results`: the results.json that submission left).
"""
from __future__ import annotations

import copy
import datetime
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.failures import describe
from grader.i18n import N_, _
from grader.rubric import Release, load_rubric, parse_time
from grader.report.escape import md
from grader.report.record import Item, Results
from grader.report.rows import pending_title, plain_name
from grader.scoring import late

GRADESCOPE_KEYS = ("score", "execution_time", "output", "output_format", "visibility",
                   "stdout_visibility", "tests", "leaderboard")

def _settings(root: Path) -> tuple:
    config = json.loads((root / "source" / "config.json").read_text())
    rubric = load_rubric(str(root / "source" / config["rubric"]))
    data_dir = os.environ.get("GRADER_DATA_DIR") or config.get("data_dir")
    return rubric, Path(data_dir) if data_dir else None, bool(config.get("allow_unconfined"))


def prepare(root: Path) -> None:
    from grader.grading import ensure_baselines
    rubric, data_dir, _ = _settings(root)
    ensure_baselines(rubric=rubric, data_dir=data_dir)


def run(root: Path) -> int:
    """Grade /autograder/submission; always leave a results.json Gradescope can show. It
    is written here, last, by the grader's own process: by then every child, and whatever
    a child left running, has been killed (grader.sandbox.launch), and no child could
    write under /autograder/results while it lived (bubblewrap or Landlock)."""
    from grader.grading import grade_submission
    from grader.report.markdown import render_markdown
    from grader.files import write_json
    from grader import i18n
    results_path = root / "results" / "results.json"
    try:
        # first: even a bundle that breaks below tells the student in their language
        i18n.use(json.loads((root / "source" / "config.json").read_text()).get("lang") or "en")
        rubric, data_dir, allow_unconfined = _settings(root)
        meta = read_metadata(root / "submission_metadata.json")
        kept = over_limit(rubric.release, meta)
        if kept is not None:  # not graded: no new look at the test set
            write_json(results_path, kept)
            return 0
        submission = _the_submission(root / "submission")
        results = grade_submission(submission=submission, rubric=rubric, data_dir=data_dir,
                                   mode="official", allow_unconfined=allow_unconfined)
        if rubric.late is not None and meta is not None and meta.due_date is not None:
            results = late.apply(results, late.decide(
                rubric.late, submitted=meta.created_at, due=meta.due_date,
                late_due=meta.late_due_date, score=late.base_score(results)))
        form = release_form(gradescope_form(results), results, rubric.release,
                            report=render_markdown(results),
                            shown=test_results_shown(rubric.release, meta),
                            count_line=_count_line(rubric.release, meta))
    except Exception as e:  # noqa: BLE001 - the student must still see a result, and why
        form = {"score": 0, "output": i18n._("The autograder could not run: {error}. Please tell "
                                             "the course staff.").format(
            error=f"{type(e).__name__}: {e}"), "tests": []}
    write_json(results_path, form)
    return 0


# --- submission_metadata.json --------------------------------------------------------------

@dataclass(frozen=True)
class Previous:
    """One earlier submission, as Gradescope lists it."""
    submission_time: datetime.datetime
    score: float
    results: dict | None  # the results.json it left (our form), when Gradescope kept it


@dataclass(frozen=True)
class Metadata:
    """What the grader reads of submission_metadata.json. The file is Gradescope's and
    grows fields over time, so the rest of it is left unread rather than refused; a field
    read here that is missing or malformed stops the run with a message."""
    created_at: datetime.datetime
    due_date: datetime.datetime | None       # the student's own where extended, else the assignment's
    late_due_date: datetime.datetime | None
    previous: tuple[Previous, ...]           # by submission time


def read_metadata(path: Path) -> Metadata | None:
    """None where there is no metadata (a bundle run by hand)."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    assignment = data.get("assignment") or {}
    # an extension is the student's own `assignment` dates; in a group the latest counts
    own = [u.get("assignment") or {} for u in data.get("users") or [] if isinstance(u, dict)]
    dues = [_time(a["due_date"]) for a in own if a.get("due_date")]
    late_dues = [_time(a["late_due_date"]) for a in own if a.get("late_due_date")]
    previous = sorted((Previous(submission_time=_time(p["submission_time"]),
                                score=float(p.get("score") or 0),
                                results=p["results"] if isinstance(p.get("results"), dict) else None)
                       for p in data.get("previous_submissions") or []),
                      key=lambda p: p.submission_time)
    return Metadata(created_at=_time(data["created_at"]),
                    due_date=max(dues) if dues else _time(assignment.get("due_date")),
                    late_due_date=(max(late_dues) if late_dues else
                                   _time(assignment.get("late_due_date"))),
                    previous=tuple(previous))


def _time(text) -> datetime.datetime | None:
    return None if text is None else parse_time(str(text))


def test_results_shown(release: Release, meta: Metadata | None) -> bool:
    """Whether the student may see the test results now: "visible", or "after_due_date"
    with this submission made after the (student's) due date, or after the late due date
    where there is one (Gradescope shows an after_due_date test only once the late due date
    has passed, when late submissions are allowed)."""
    if release.test_results == "visible":
        return True
    if release.test_results != "after_due_date" or meta is None:
        return False
    until = meta.late_due_date or meta.due_date
    return until is not None and meta.created_at > until


def over_limit(release: Release, meta: Metadata | None) -> dict | None:
    """Past the rubric's max_submissions: the kept earlier result (the best or the last of
    the graded ones, the first max_submissions by submission time), with a line saying so
    at the top; None when this submission is to be graded."""
    limit = release.max_submissions
    if not limit or meta is None or len(meta.previous) < limit:
        return None
    graded = meta.previous[:limit]
    kept = max(graded, key=lambda p: p.score) if release.keep == "best" else graded[-1]
    form = copy.deepcopy(kept.results) if kept.results else {"score": kept.score, "tests": []}
    form["score"] = kept.score
    values = dict(number=len(meta.previous) + 1, limit=limit, score=f"{kept.score:g}",
                  time=kept.submission_time.isoformat())
    line = (_("Submission {number} was not graded: this assignment grades {limit} submissions "
              "per student. Your best graded one stands: {score} points (submitted {time}).")
            if release.keep == "best" else
            _("Submission {number} was not graded: this assignment grades {limit} submissions "
              "per student. Your last graded one stands: {score} points (submitted {time}).")
            ).format(**values)
    form["output"] = line + "\n\n" + (form.get("output") or "")
    form.setdefault("extra_data", {})["submission_limit"] = {
        "graded": False, "number": values["number"], "limit": limit, "keep": release.keep,
        "kept_submission_time": values["time"], "kept_score": kept.score}
    return form


def _count_line(release: Release, meta: Metadata | None) -> str:
    if not release.max_submissions:
        return ""
    return _("Graded submission {number} of {limit}.").format(
        number=len(meta.previous) + 1 if meta else 1, limit=release.max_submissions)


def gradescope_form(results: Results) -> dict:
    """Gradescope's keys at the top, everything else of ours under extra_data."""
    record = results.dump()
    form = {k: record[k] for k in GRADESCOPE_KEYS if k in record}
    form["tests"] = [_gradescope_test(t) for t in results.tests]
    form["extra_data"] = {k: v for k, v in record.items() if k not in GRADESCOPE_KEYS}
    return form


WHEN = {"hidden": N_("shown to the course staff only"),
        "after_due_date": N_("shown after the due date"),
        "after_published": N_("shown when the grades are published")}


def release_form(form: dict, results: Results, release: Release, *, report: str, shown: bool,
                 count_line: str = "") -> dict:
    """Gradescope's form with the rubric's `release:` visibility on every test, and a late
    penalty as a test of its own (so the tests still add up to the score). While the test
    results are not shown, the top-level output, which Gradescope shows at once, carries
    only what is visible at once (checks, validation accuracy, lateness without points),
    the leaderboard (test accuracy) is left out, and the full report waits in a 0-point
    test of the test results' visibility."""
    test_vis = "visible" if shown else release.test_results
    points_vis = "after_published" if test_vis == "hidden" else test_vis
    checks = {c["id"] for c in results.provenance.rubric["checks"]}
    form["visibility"] = release.checks
    form["stdout_visibility"] = "hidden"  # the log shows the test accuracy
    for test, item in zip(form["tests"], results.tests):
        on_test_set = (item.id or "") not in checks and not item.pending
        test["visibility"] = points_vis if on_test_set else release.checks
    lateness = results.late
    if lateness and lateness.score_before != lateness.score_after:
        form["tests"].append({
            "name": _("Late penalty"), "max_score": 0.0, "status": "failed",
            "score": round(lateness.score_after - lateness.score_before, 4),
            "output": lateness.line, "visibility": points_vis})
    head = [count_line] if count_line else []
    if test_vis == "visible":
        form["output"] = "\n\n".join([*head, report])
        form["output_format"] = "md"
        return form
    form.pop("leaderboard", None)
    validation, trained = validation_text(results)
    form["tests"].append({"name": _("Validation accuracy"), "score": 0.0, "max_score": 0.0,
                          "status": "passed" if trained else "failed",
                          "output": validation, "visibility": release.checks})
    form["tests"].append({"name": _("Test accuracy, gain and the full report"), "score": 0.0,
                          "max_score": 0.0, "status": "passed", "output": report,
                          "output_format": "md", "visibility": test_vis})
    lines = [md(results.notice)] if results.notice else []
    if results.failure:
        lines.append(md(describe(results.failure)))
    if lateness and lateness.line:
        lines.append(md(late.describe(lateness, with_points=False)))
    lines += [*head, validation,
              _("The test accuracy, the gain, their points and the full report are {when}; "
                "they are measured now, on the test set.").format(when=_(WHEN[test_vis]))]
    form["output"] = "\n\n".join(lines)
    form["output_format"] = "md"
    return form


def validation_text(results: Results) -> tuple[str, bool]:
    """The validation accuracy at each run's last epoch (held out from the training set,
    never the test set), and whether there was one."""
    last = [h[-1].val_accuracy for h in results.history.student if h]
    if not last:
        return _("No validation accuracy: training did not finish an epoch."), False
    return _("Validation accuracy at the last epoch: {accuracy} (held out from the training "
             "set; the grade is measured on the test set).").format(
                 accuracy=f"{sum(last) / len(last):.2%}"), True


def _gradescope_test(t: Item) -> dict:
    """A written answer shows with its text, 0 of 0 points and "failed": without a status
    Gradescope would mark a full 0-of-0 as passed, and a pending answer is never passed.
    Gradescope takes the score from `score`; the points come from a manually graded
    question beside the autograder (README: "Written answers")."""
    if t.pending:
        return {"name": plain_name(pending_title(t)), "score": 0.0, "max_score": 0.0,
                "status": "failed", "output": t.output}
    return {"name": plain_name(t.name), "score": t.score, "max_score": t.max_score,
            "output": t.output, "status": t.status}


def _the_submission(folder: Path) -> Path:
    """Gradescope puts the uploaded files in a folder: grade a lone notebook, .py or zip
    as itself, anything else as a package folder."""
    files = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(files) == 1 and files[0].suffix.lower() in (".ipynb", ".py", ".zip") \
            and files[0].name not in ("model.py", "transforms.py", "improvements.py"):
        return files[0]
    return folder


def main(argv: list[str]) -> int:
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    if argv[:1] == ["prepare"]:
        prepare(root)
        return 0
    return run(root)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
