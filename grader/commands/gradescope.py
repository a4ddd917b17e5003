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
"""
from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

from grader import paths
from grader.files import write_atomic
from grader.rubric import load_rubric, resolve_rubric_path
from grader.load.answers import is_pending
from grader.report.rows import pending_title, plain_name

GRADESCOPE_KEYS = ("score", "execution_time", "output", "output_format", "visibility",
                   "stdout_visibility", "tests", "leaderboard")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Ubuntu 22.04 or 24.04).
# The grader needs Python 3.11 or newer: 24.04's own python3 is 3.12, while 22.04's is 3.10
# and its python3.11 package a release candidate (24.04 has none), so there uv, from PyPI,
# installs a managed CPython 3.11 (python-build-standalone).
set -euo pipefail
VENV=/autograder/venv
export UV_PYTHON_INSTALL_DIR=/opt/uv-python  # kept in the image, outside any home folder

# "system" when the image's python3 is 3.11 or newer, else "uv".
python_source() {
    local version
    version=$(python3 --version 2>&1) || version=""
    if [[ $version =~ ^Python\\ ([0-9]+)\\.([0-9]+) ]] &&
            (( BASH_REMATCH[1] > 3 || (BASH_REMATCH[1] == 3 && BASH_REMATCH[2] >= 11) )); then
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
        /opt/uv/bin/uv python install 3.11
        /opt/uv/bin/uv venv --seed --python 3.11 "$VENV"
    fi
}

main() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # bubblewrap where the container allows it; else the Landlock fallback, with libseccomp
    apt-get install -y python3 python3-venv bubblewrap libseccomp2
    make_venv
    "$VENV/bin/pip" install --upgrade pip
    "$VENV/bin/pip" install torch torchvision --index-url https://download.pytorch.org/whl/cpu
    "$VENV/bin/pip" install /autograder/source/grader-src
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


def build_bundle(*, rubric: str = "cifar10", out: Path = Path("autograder.zip"),
                 data_dir: str | None = None, allow_unconfined: bool = False,
                 lang: str | None = None) -> Path:
    """The zip to upload as the assignment's autograder. Where Gradescope's container keeps
    bubblewrap from running (most do), the Landlock fallback confines student code and the
    grades are official. `allow_unconfined`: official even where neither can run (a kernel
    without Landlock); otherwise they say they are not. `lang`: the language students read
    (else the rubric's `language:`, else English)."""
    spec = load_rubric(rubric)  # refuse an invalid rubric now, not in Gradescope
    if not (paths.ROOT / "pyproject.toml").is_file():
        raise FileNotFoundError("build the bundle from a clone of the grader's repository "
                                "(an installed wheel lacks pyproject.toml)")
    rubric_path = resolve_rubric_path(rubric)
    config = {"rubric": "rubric.yaml", "data_dir": data_dir, "rubric_name": spec.name,
              "allow_unconfined": allow_unconfined, "lang": lang or spec.language}
    buf = io.BytesIO()  # a few hundred KiB of source: built in memory, written atomically
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        _add_script(z, "setup.sh", SETUP_SH)
        _add_script(z, "run_autograder", RUN_AUTOGRADER)
        z.writestr("rubric.yaml", rubric_path.read_text())
        z.writestr("config.json", json.dumps(config, indent=2))
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
        submission = _the_submission(root / "submission")
        results = grade_submission(submission=submission, rubric=rubric, data_dir=data_dir,
                                   mode="official", allow_unconfined=allow_unconfined)
        form = gradescope_form(results)
        form["output"] = render_markdown(results)
        form["output_format"] = "md"
    except Exception as e:  # noqa: BLE001 - the student must still see a result, and why
        form = {"score": 0, "output": i18n._("The autograder could not run: {error}. Please tell "
                                             "the course staff.").format(
            error=f"{type(e).__name__}: {e}"), "tests": []}
    write_json(results_path, form)
    return 0


def gradescope_form(results: dict) -> dict:
    """Gradescope's keys at the top, everything else of ours under extra_data."""
    form = {k: results[k] for k in GRADESCOPE_KEYS if k in results}
    form["tests"] = [_gradescope_test(t) for t in results["tests"]]
    form["extra_data"] = {k: v for k, v in results.items() if k not in GRADESCOPE_KEYS}
    return form


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
