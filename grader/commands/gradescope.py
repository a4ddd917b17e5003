"""Gradescope: `grade gradescope --rubric R --out autograder.zip` builds the autograder
bundle; inside Gradescope's container `run_autograder` grades /autograder/submission into
/autograder/results/results.json. Grades made there are official: the student controls
neither the grader nor the data.

The bundle holds setup.sh (a Python 3.11 or newer, the CPU build of torch, bubblewrap and
libseccomp2, the grader; then the data set is downloaded and decoded and the baseline trained once, into
the image, so a submission trains only itself), run_autograder, the rubric, and the
grader's source. AUTOGRADER_ROOT and AUTOGRADER_PYTHON let a test run it on a simulated tree.

What Gradescope reads (its autograder specification, gradescope-autograders.readthedocs.io
/en/latest/specs/, docs/specs.md in gradescope/autograder_samples): only
/autograder/results/results.json, which run_autograder must leave; a test's `status` may be
"passed" or "failed" and nothing else, and without one a test passes when its score equals
its max_score (so a 0-of-0 pending answer would show as passed); test names and outputs
are plain text unless `name_format`/`output_format` say "html", "simple_format", "md" or
"ansi". Its base images are Ubuntu 22.04 (the default) and 24.04 (docs/base_images.md).

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
import io
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader import paths
from grader.files import write_atomic
from grader.failures import describe
from grader.i18n import N_, _
from grader.rubric import Release, Rubric, load_rubric, parse_time, resolve_rubric_path
from grader.load.answers import is_pending
from grader.report.escape import md
from grader.report.rows import pending_title, plain_name
from grader.scoring import late

GRADESCOPE_KEYS = ("score", "execution_time", "output", "output_format", "visibility",
                   "stdout_visibility", "tests", "leaderboard")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Ubuntu 22.04 or 24.04).
# constraints.txt was resolved for one Python (LOCK_PYTHON): another minor version can
# need other wheels or refuse a pin, so the image's python3 serves only when it is that
# one (24.04's is 3.12, 22.04's 3.10); else uv, from PyPI, installs a managed CPython of
# that version (python-build-standalone).
set -euo pipefail
VENV=/autograder/venv
LOCK_PYTHON=@LOCK_PYTHON@
export UV_PYTHON_INSTALL_DIR=/opt/uv-python  # kept in the image, outside any home folder

# "system" when the image's python3 is the lock's major.minor, else "uv".
python_source() {
    local version
    version=$(python3 --version 2>&1) || version=""
    if [[ $version =~ ^Python\\ ([0-9]+)\\.([0-9]+) ]] &&
            [ "${BASH_REMATCH[1]}.${BASH_REMATCH[2]}" = "$LOCK_PYTHON" ]; then
        echo system
    else
        echo uv
    fi
}

make_venv() {
    if [ "$(python_source)" = system ]; then
        python3 -m venv "$VENV"
    else  # uv in a venv of its own: nothing is pip-installed into the system's Python
        python3 -m venv /opt/uv
        /opt/uv/bin/pip install uv
        /opt/uv/bin/uv python install "$LOCK_PYTHON"
        /opt/uv/bin/uv venv --seed --python "$LOCK_PYTHON" "$VENV"
    fi
}

main() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # bubblewrap where the container allows it; else the Landlock fallback, with libseccomp
    apt-get install -y python3 python3-venv bubblewrap libseccomp2
    make_venv
    "$VENV/bin/pip" install --upgrade pip
    # exact versions (constraints.txt, bench/lock.py from pyproject.toml): torch and
    # torchvision as the baseline was calibrated, so a rebuilt image grades alike. The CPU
    # build (2.14.1+cpu, which ==2.14.1 admits and pip prefers to PyPI's 2.14.1); PyPI too,
    # for the pinned versions of torch's own requirements.
    local lock=/autograder/source/constraints.txt
    "$VENV/bin/pip" install -c "$lock" torch torchvision \\
        --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple
    "$VENV/bin/pip" install -c "$lock" /autograder/source/grader-src
    # Data and baseline into the image, so no submission waits for them.
    cd /autograder/source && "$VENV/bin/python" -m grader.commands.gradescope prepare
}

# Sourced (by a test of python_source), it only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-/autograder/venv/bin/python}"
cd "$ROOT/source" && exec "$PYTHON" -m grader.commands.gradescope run
"""

SOURCE_ITEMS = ("grader", "rubrics", "reference", "student_template", "student_template_ko",
                "pyproject.toml", "README.md")  # the templates: an unanswered answers.md is no answer


LOCK = paths.ROOT / "integrations" / "classroom50" / "constraints.txt"  # bench/lock.py's output
PINNED = ("torch", "torchvision")


class BundleRefused(ValueError):
    """The bundle would grade with other library versions than the rubric was calibrated
    with, or has no exact versions to install."""


LOCK_PYTHON = re.compile(r"^# for Python (\d+\.\d+) ", re.M)  # bench/lock.py's header


def lock_python(lock: Path) -> str:
    """The Python (major.minor) the lock was resolved for, from bench/lock.py's header."""
    found = LOCK_PYTHON.search(Path(lock).read_text())
    if found is None:
        raise BundleRefused(f"{lock} does not say which Python it was resolved for (its header "
                            "'# for Python X.Y on ...'): generate it with bench/lock.py")
    return found.group(1)


def setup_sh(python: str) -> str:
    """setup.sh for a lock resolved on `python` (major.minor)."""
    return SETUP_SH.replace("@LOCK_PYTHON@", python)


def lock_pins(lock: Path) -> dict[str, str]:
    """name -> version of a pip constraints file (`name==version` lines)."""
    pins = {}
    for line in Path(lock).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def measured_versions(spec: Rubric) -> dict[str, str]:
    """The versions the rubric's pinned distribution names in `measured_on` ("torch 2.14.1")."""
    pinned = spec.baseline.pinned
    if pinned is None:
        return {}
    found = {}
    for name in PINNED:
        m = re.search(rf"\b{name} (\d+(?:\.\d+)+)", pinned.measured_on)
        if m:
            found[name] = m.group(1)
    return found


def check_pins(spec: Rubric, pins: dict[str, str], recalibrate: bool) -> str:
    """What the build says about versions; BundleRefused where it must not go on."""
    missing = [n for n in PINNED if n not in pins]
    if missing:
        raise BundleRefused(f"the lock file pins no {', '.join(missing)}: generate it with "
                            f"`python bench/lock.py > {LOCK.relative_to(paths.ROOT)}`")
    measured = measured_versions(spec)
    other = {n: v for n, v in measured.items() if pins[n] != v}
    installs = ", ".join(f"{n} {pins[n]}" for n in PINNED)
    if other and not recalibrate:
        said = ", ".join(f"{n} {v}" for n, v in other.items())
        raise BundleRefused(
            f"rubric {spec.name}'s pinned baseline distribution was measured with {said} "
            f"(baseline.pinned.measured_on), but the bundle would install {installs} (the lock "
            f"file): measure it again with those versions (`grade calibrate --rubric "
            f"{spec.name} --json`), or lock the measured ones (bench/lock.py), or pass "
            f"--recalibrate to build anyway (the image calibrates the baseline with {installs} "
            f"when Gradescope builds it, and official grades use that calibration)")
    if other:
        return (f"versions: {installs}; the rubric's pin was measured with "
                + ", ".join(f"{n} {v}" for n, v in other.items())
                + ", so the image recalibrates the baseline with these versions (official "
                "grades use that calibration; students' own machines still see the rubric's pin)")
    if spec.baseline.pinned_accuracy is not None:
        return (f"versions: {installs}; the rubric pins the baseline's accuracy "
                "(baseline.pinned_accuracy) without saying what it was measured with: check it "
                "was these")
    if not measured:
        return (f"versions: {installs}; the rubric's pin names no torch version, so the image "
                "calibrates the baseline with these")
    return f"versions: {installs}, as the rubric's pinned baseline was measured"


def build_bundle(*, rubric: str = "cifar10", out: Path = Path("autograder.zip"),
                 data_dir: str | None = None, allow_unconfined: bool = False,
                 lang: str | None = None, lock: Path | None = None,
                 recalibrate: bool = False, say=lambda line: None) -> Path:
    """The zip to upload as the assignment's autograder. Where Gradescope's container keeps
    bubblewrap from running (most do), the Landlock fallback confines student code and the
    grades are official. `allow_unconfined`: official even where neither can run (a kernel
    without Landlock); otherwise they say they are not. `lang`: the language students read
    (else the rubric's `language:`, else English). `lock`: the exact versions setup.sh
    installs (default: the grading lock bench/lock.py writes, shared with Classroom 50);
    refused when its torch or torchvision differ from those the rubric's pinned baseline was
    measured with, unless `recalibrate`. `say` hears what the build decided."""
    spec = load_rubric(rubric)  # refuse an invalid rubric now, not in Gradescope
    if not (paths.ROOT / "pyproject.toml").is_file():
        raise FileNotFoundError("build the bundle from a clone of the grader's repository "
                                "(an installed wheel lacks pyproject.toml)")
    lock = Path(lock or LOCK)
    if not lock.is_file():
        raise FileNotFoundError(f"no lock file at {lock}: generate it with "
                                f"`python bench/lock.py > {lock}`")
    pins = lock_pins(lock)
    say(check_pins(spec, pins, recalibrate))
    python = lock_python(lock)
    say(f"Python {python}, the one the lock was resolved for (the image's own where it is "
        "that version, else uv installs it)")
    rubric_path = resolve_rubric_path(rubric)
    config = {"rubric": "rubric.yaml", "data_dir": data_dir, "rubric_name": spec.name,
              "allow_unconfined": allow_unconfined, "lang": lang or spec.language,
              "versions": {n: pins[n] for n in PINNED}, "recalibrate": recalibrate}
    buf = io.BytesIO()  # a few hundred KiB of source: built in memory, written atomically
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        _add_script(z, "setup.sh", setup_sh(python))
        _add_script(z, "run_autograder", RUN_AUTOGRADER)
        z.writestr("rubric.yaml", rubric_path.read_text())
        z.writestr("config.json", json.dumps(config, indent=2))
        z.writestr("constraints.txt", lock.read_text())
        for item in SOURCE_ITEMS:
            src = paths.ROOT / item
            for f in ([src] if src.is_file() else sorted(src.rglob("*"))):
                if f.is_file() and "__pycache__" not in f.parts:
                    z.write(f, f"grader-src/{f.relative_to(paths.ROOT)}")
    return write_atomic(Path(out), buf.getvalue())


def _add_script(z: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o755 << 16  # executable once unzipped
    z.writestr(info, text)


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


def gradescope_form(results: dict) -> dict:
    """Gradescope's keys at the top, everything else of ours under extra_data."""
    form = {k: results[k] for k in GRADESCOPE_KEYS if k in results}
    form["tests"] = [_gradescope_test(t) for t in results["tests"]]
    form["extra_data"] = {k: v for k, v in results.items() if k not in GRADESCOPE_KEYS}
    return form


WHEN = {"hidden": N_("shown to the course staff only"),
        "after_due_date": N_("shown after the due date"),
        "after_published": N_("shown when the grades are published")}


def release_form(form: dict, results: dict, release: Release, *, report: str, shown: bool,
                 count_line: str = "") -> dict:
    """Gradescope's form with the rubric's `release:` visibility on every test, and a late
    penalty as a test of its own (so the tests still add up to the score). While the test
    results are not shown, the top-level output, which Gradescope shows at once, carries
    only what is visible at once (checks, validation accuracy, lateness without points),
    the leaderboard (test accuracy) is left out, and the full report waits in a 0-point
    test of the test results' visibility."""
    test_vis = "visible" if shown else release.test_results
    points_vis = "after_published" if test_vis == "hidden" else test_vis
    checks = {c["id"] for c in results["provenance"]["rubric"]["checks"]}
    form["visibility"] = release.checks
    form["stdout_visibility"] = "hidden"  # the log shows the test accuracy
    for test, item in zip(form["tests"], results["tests"]):
        on_test_set = (item.get("tags") or [""])[0] not in checks and not is_pending(item)
        test["visibility"] = points_vis if on_test_set else release.checks
    lateness = results.get("late") or {}
    if lateness and lateness["score_before"] != lateness["score_after"]:
        form["tests"].append({
            "name": _("Late penalty"), "max_score": 0.0, "status": "failed",
            "score": round(lateness["score_after"] - lateness["score_before"], 4),
            "output": lateness["line"], "visibility": points_vis})
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
    lines = [md(results["notice"])] if results.get("notice") else []
    if results.get("failure"):
        lines.append(md(describe(results["failure"])))
    if lateness.get("line"):
        lines.append(md(late.describe(late.Lateness(**{k: v for k, v in lateness.items()
                                                       if k != "line"}), with_points=False)))
    lines += [*head, validation,
              _("The test accuracy, the gain, their points and the full report are {when}; "
                "they are measured now, on the test set.").format(when=_(WHEN[test_vis]))]
    form["output"] = "\n\n".join(lines)
    form["output_format"] = "md"
    return form


def validation_text(results: dict) -> tuple[str, bool]:
    """The validation accuracy at each run's last epoch (held out from the training set,
    never the test set), and whether there was one."""
    last = [h[-1]["val_accuracy"] for h in (results.get("history") or {}).get("student", [])
            if h and h[-1].get("val_accuracy") is not None]
    if not last:
        return _("No validation accuracy: training did not finish an epoch."), False
    return _("Validation accuracy at the last epoch: {accuracy} (held out from the training "
             "set; the grade is measured on the test set).").format(
                 accuracy=f"{sum(last) / len(last):.2%}"), True


def _gradescope_test(t: dict) -> dict:
    """A written answer shows with its text, 0 of 0 points and "failed": without a status
    Gradescope would mark a full 0-of-0 as passed, and a pending answer is never passed.
    Gradescope takes the score from `score`; the points come from a manually graded
    question beside the autograder (README: "Written answers")."""
    if is_pending(t):
        return {"name": plain_name(pending_title(t)), "score": 0.0, "max_score": 0.0,
                "status": "failed", "output": t["output"]}
    test = {k: t[k] for k in ("name", "score", "max_score", "output", "status") if k in t}
    return {**test, "name": plain_name(t["name"])}


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
