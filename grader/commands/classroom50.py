"""`grade classroom50 [PATH]`: what Classroom 50's autograder.py runs in a student's checkout.

Classroom 50 (foundation50/classroom50, the open-source successor to GitHub Classroom)
grades each submission in the student's repository: its runner (`runner.py`) runs the
course's `autograder.py` with the working directory at the student's checkout and its
identity in the environment, then reads `./result.json` in its `classroom50/result/v1`
contract (the wiki's Advanced-Autograding page, "The result.json contract"; its schema
`schemas/result-v1.schema.json`; `runner.py::validate_result`, mirrored by
`collect_scores.py::validate_result`). This front end grades PATH like `grade ci` and
writes, in the working folder:

- `result.json`: score and max-score, one test per rubric item, the identity fields from
  the runner's environment (CLASSROOM, ASSIGNMENT, OWNER/USERNAME, ASSIGNMENT_TYPE,
  SUBMISSION_TAG, COMMIT_URL, RELEASE_URL, REVIEW_URL, GITHUB_ACTOR[_ID]);
- `release-body.md`: the Markdown report (student text escaped by grader.report.escape),
  its pictures linked where the course attaches them as release assets (`release_assets`,
  which the runner passes on as RELEASE_ASSETS);
- `--out` (default `grade-report/`): results.json, report.md/html and the pictures, the
  paths `release_assets` names;
- `status=` and `summary=` in $GITHUB_OUTPUT: success when graded (and at or above
  --fail-under when given), else failure.

Exit 0 whenever it ran end to end, an ungradable submission included: the runner reads a
non-zero exit as an infrastructure error and throws the grade away.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

from rich.console import Console

from grader.failures import EXIT_USAGE
from grader.files import write_atomic, write_json
from grader.grading import grade_submission
from grader.i18n import _, choose, use
from grader.report.escape import markup
from grader.report.folder import write_reports
from grader.report.markdown import render_markdown
from grader.report.record import Item, Results
from grader.report.results import score_line
from grader.report.rows import PICTURES
from grader.rubric import load_rubric

SCHEMA = "classroom50/result/v1"
RESULT, BODY = "result.json", "release-body.md"
# The runner's identity variables (Advanced-Autograding, "Contract"; runner.py
# run_entrypoint sets USERNAME/OWNER, ASSIGNMENT_TYPE and the three URLs).
REQUIRED_ENV = ("CLASSROOM", "ASSIGNMENT", "SUBMISSION_TAG", "COMMIT_URL", "RELEASE_URL")
ASSIGNMENT_TYPES = ("individual", "group", "team")  # runner.py assignment_type_for_mode
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
# GitHub refuses a release body over 125,000 characters; leave room for the runner's own
# note on files removed by allowed_files, which it appends.
MAX_BODY = 120_000
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class MissingEnvironment(Exception):
    pass


def main(*, path: Path = Path("."), rubric: str = "cifar10", out: Path = Path("grade-report"),
         data_dir: Path | None = None, quick: bool = False, device: str = "auto",
         fail_under: float | None = None, lang: str | None = None,
         console: Console | None = None, env: dict | None = None,
         workdir: Path | None = None) -> int:
    console = console or Console(stderr=True)
    env = dict(os.environ if env is None else env)
    workdir = Path.cwd() if workdir is None else Path(workdir)
    spec = load_rubric(rubric)
    use(choose(lang, spec.language))
    missing = [name for name in REQUIRED_ENV if not env.get(name, "").strip()]
    if not (env.get("OWNER") or env.get("USERNAME") or "").strip():
        missing.append("OWNER")
    if missing:
        console.print(markup(_("Classroom 50's runner sets {names}, and they are not set here: "
                               "run this under its autograde workflow, or set them to try it "
                               "by hand.").format(names=", ".join(missing))))
        return EXIT_USAGE
    data_dir = data_dir or (Path(env["GRADER_DATA_DIR"]) if env.get("GRADER_DATA_DIR") else None)
    out = workdir / out if not Path(out).is_absolute() else Path(out)
    if workdir.resolve().is_relative_to(out.resolve()):  # it is emptied first
        console.print(markup(_("--out {out} holds the checkout itself: name a folder inside it, "
                               "such as grade-report.").format(out=out)))
        return EXIT_USAGE
    _clear(out)  # the checkout is the student's: nothing in it may pass for our report
    for name in (RESULT, BODY):
        _clear(workdir / name)
    console.print(markup(_("Grading {path} with rubric {rubric}").format(path=path, rubric=spec.name)))
    results = grade_submission(submission=Path(path), rubric=spec, data_dir=data_dir, quick=quick,
                               device=device, mode="official", artifacts=out)
    files = write_reports(results, out)
    assets = release_assets(env.get("RELEASE_ASSETS"))
    result = classroom50_result(results, env, submitted_at=commit_time(workdir))
    write_json(workdir / RESULT, result)
    write_atomic(workdir / BODY, release_body(results, files, workdir, assets, env))
    status = "success" if passes(results, fail_under) else "failure"
    github_output(env.get("GITHUB_OUTPUT"), status, summary_line(results))
    console.print(markup(_("Reports: {files}").format(
        files=", ".join(str(p) for p in [workdir / RESULT, workdir / BODY, *files.values()]))))
    return 0


def _clear(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


# --- result.json --------------------------------------------------------------------

def whole(points: float) -> int:
    """The contract counts points in whole numbers (non-negative integers); a fraction of a
    point is never rounded up into one the submission did not earn."""
    return max(0, math.floor(points + 1e-9))


def classroom50_result(results: Results, env: dict, submitted_at: _dt.datetime | None = None,
                       now: _dt.datetime | None = None) -> dict:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    tests = [_test(t) for t in results.tests]
    kind = (env.get("ASSIGNMENT_TYPE") or "").strip().lower()
    result = {
        "schema": SCHEMA,
        "classroom": env["CLASSROOM"].strip(),
        "assignment": env["ASSIGNMENT"].strip(),
        "assignment_type": kind if kind in ASSIGNMENT_TYPES else "individual",
        "owner": (env.get("OWNER") or env.get("USERNAME")).strip(),
        "submission": env["SUBMISSION_TAG"].strip(),
        "commit": env["COMMIT_URL"].strip(),
        "release": env["RELEASE_URL"].strip(),
        "review": (env.get("REVIEW_URL") or env["COMMIT_URL"]).strip(),
        # the runner stamps both again (its own clock, the commit's date); these hold when
        # the file is read without it
        "datetime": (submitted_at or now).astimezone(_dt.timezone.utc).strftime(TIMESTAMP),
        "graded_at": now.astimezone(_dt.timezone.utc).strftime(TIMESTAMP),
        "score": sum(t["score"] for t in tests),
        "max-score": sum(t["max-score"] for t in tests),
        "tests": tests,
    }
    actor = (env.get("GITHUB_ACTOR") or "").strip()
    if actor:
        actor_id = (env.get("GITHUB_ACTOR_ID") or "").strip()
        result["submitted_by"] = {"username": actor,
                                  "id": int(actor_id) if actor_id.isdigit() else None}
    return result


def _test(item: Item) -> dict:
    top = whole(item.max_score)
    score = min(whole(item.score), top)
    test = {"test-name": CONTROL.sub(" ", str(item.name)).strip() or "-",
            "passed": item.status == "passed" and not item.pending,
            "score": score, "max-score": top,
            # extra fields on a test are kept verbatim by the runner and the collector
            "points": item.score, "max-points": item.max_score}
    if item.pending:
        test["pending"] = True
    if item.output:
        test["output"] = item.output
    return test


def commit_time(workdir: Path) -> _dt.datetime | None:
    """The graded commit's committer date, as the runner takes it; None without git."""
    try:
        run = subprocess.run(["git", "-c", "safe.directory=*", "show", "-s", "--format=%cI", "HEAD"],
                             cwd=workdir, capture_output=True, text=True, timeout=30)
        return _dt.datetime.fromisoformat(run.stdout.strip()) if run.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def passes(results: Results, fail_under: float | None) -> bool:
    if results.failure:
        return False
    return fail_under is None or results.score >= fail_under


def summary_line(results: Results) -> str:
    return CONTROL.sub(" ", "tinycnn-grader: " + score_line(results))


def github_output(path: str | None, status: str, summary: str) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"status={status}\nsummary={summary}\n")


# --- release-body.md and its pictures -----------------------------------------------

ASSET_NAME = re.compile(r"^[A-Za-z0-9_-](?:[A-Za-z0-9._-]{0,253}[A-Za-z0-9_-])?$")


def release_assets(raw: str | None) -> list[str]:
    """RELEASE_ASSETS: the course's `release_assets`, a JSON array of checkout-relative
    paths the runner uploads under their base names after grading."""
    try:
        value = json.loads(raw) if raw and raw.strip() else []
    except ValueError:
        return []
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


def asset_url(env: dict, name: str) -> str:
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    tag = urllib.parse.quote(env["SUBMISSION_TAG"].strip(), safe="")
    return f"{server}/{env.get('GITHUB_REPOSITORY', '')}/releases/download/{tag}/{name}"


def release_body(results: Results, files: dict, workdir: Path, assets: list[str], env: dict) -> str:
    body = render_markdown(results).rstrip("\n")
    attached = {}
    for key, path in files.items():
        rel = _relative(path, workdir)
        if key in PICTURES and rel in assets and ASSET_NAME.fullmatch(Path(rel).name):
            attached[key] = asset_url(env, Path(rel).name)
    if attached:
        lines = ["", "## " + _("Pictures"), ""]
        for key, (_file, caption) in PICTURES.items():
            if key in attached:
                caption = _(caption)
                lines += [f"![{caption}]({attached[key]})", "", f"*{caption}.*", ""]
        body += "\n" + "\n".join(lines)
    if len(body) > MAX_BODY:
        note = _("The report was cut here to fit a release; the whole of it is in {file}.").format(
            file=_relative(files["markdown"], workdir))
        body = body[:MAX_BODY].rsplit("\n", 1)[0] + "\n\n> " + note
    return body + "\n"


def _relative(path: Path, workdir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()
