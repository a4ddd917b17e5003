"""`grade gradescope --rubric R --out autograder.zip`: the autograder bundle to upload to
Gradescope (commands/gradescope.py is what runs inside it).

The bundle holds setup.sh (the Python the lock was resolved for, the CPU build of torch,
bubblewrap and libseccomp2, the grader, at the lock's exact versions; then the data set is
downloaded and decoded and the baseline trained once, into the image, so a submission trains
only itself), run_autograder, the rubric, config.json and the grader's source. It refuses
to build where the lock's torch or torchvision differ from those the rubric's pinned
baseline was measured with, unless told to recalibrate. Gradescope's base images are Ubuntu
22.04 (the default) and 24.04 (docs/base_images.md in gradescope/autograder_samples).
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from grader import paths
from grader.files import write_atomic
from grader.rubric import Rubric, load_rubric, resolve_rubric_path

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
