"""The Gradescope bundle, run on a simulated /autograder tree with the bundle's own grader."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO, SUBMISSIONS, TINY_RUBRIC
from grader.cli import main as cli
from grader.commands import gradescope
from grader.commands import gradescope_bundle as bundle
from grader.report.record import Item
from grader.sandbox.confine import plan as confinement
from support.autograder import unpack, run_autograder
from support.results import golden


def test_bundle_grades_a_submission_into_gradescope_results(tmp_path, fmnist_dir, session_cache):
    rubric = tmp_path / "lab.yaml"
    rubric.write_text(TINY_RUBRIC.format(time_limit=120).replace("max_epochs: 5", "max_epochs: 1"))
    assert cli(["gradescope", "--rubric", str(rubric), "--out", str(tmp_path / "ag.zip")]) == 0
    root = tmp_path / "autograder"
    unpack(tmp_path / "ag.zip", root)
    assert subprocess.run(["bash", "-n", str(root / "source" / "setup.sh")]).returncode == 0
    (root / "submission").mkdir(parents=True)
    shutil.copyfile(SUBMISSIONS / "passes_only_optimizer_changed.py", root / "submission" / "lab.py")
    r = run_autograder(root, fmnist_dir, session_cache)
    assert set(r) <= {"score", "execution_time", "output", "output_format", "visibility",
                      "stdout_visibility", "tests", "leaderboard", "extra_data"}
    assert r["output_format"] == "md" and "## Rubric" in r["output"]
    assert r["score"] == sum(t["score"] for t in r["tests"]) and r["score"] > 0
    # official only where student code was confined (no --allow-unconfined here)
    assert r["extra_data"]["official"] is confinement().confined and r["extra_data"]["mode"] == "official"
    assert r["extra_data"]["provenance"]["rubric"]["name"] == "tiny"

    # a package upload (the template's three files) and a broken one
    shutil.rmtree(root / "submission")
    shutil.copytree(REPO / "student_template", root / "submission")
    assert run_autograder(root, fmnist_dir, session_cache)["extra_data"]["status"] == "graded"
    shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    shutil.copyfile(SUBMISSIONS / "fails_syntax_error.py", root / "submission" / "lab.py")
    broken = run_autograder(root, fmnist_dir, session_cache)
    assert broken["extra_data"]["failure"]["code"] == "syntax_error" and "line 5" in broken["output"]


@pytest.mark.parametrize("sandbox", ["auto", "none"])
def test_the_results_file_is_the_graders_last_word(sandbox, tmp_path, fmnist_dir, session_cache):
    """A writer left behind to forge results.json dies with its run, before the grader
    writes the file: in every mode (in `none` too, where nothing else stops its writes)."""
    import time
    rubric = tmp_path / "lab.yaml"
    rubric.write_text(TINY_RUBRIC.format(time_limit=120).replace("max_epochs: 5", "max_epochs: 1"))
    assert cli(["gradescope", "--rubric", str(rubric), "--out", str(tmp_path / "ag.zip")]) == 0
    root = tmp_path / "autograder"
    unpack(tmp_path / "ag.zip", root)
    (root / "submission").mkdir(parents=True)
    shutil.copyfile(SUBMISSIONS / "hostile_forges_the_gradescope_results.py", root / "submission" / "lab.py")
    r = run_autograder(root, fmnist_dir, session_cache, GRADER_SANDBOX=sandbox)
    # the forger writes every 50 ms while it lives: it must be gone (the kernel may take a
    # moment to end what the run's cgroup held), and the file the grader's own
    deadline = time.monotonic() + 10
    while (alive := [p for p in os.listdir("/proc") if p.isdigit()
                     and _cmdline_has(p, b"hostile-gradescope-forger")]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in alive:
        os.kill(int(pid), 9)
    assert alive == []
    assert json.loads((root / "results" / "results.json").read_text()) == r
    assert r["score"] != 1000 and r["extra_data"]["status"] == "graded"


def _cmdline_has(pid, tag):
    try:
        return tag in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False


def test_an_invalid_rubric_is_refused_before_a_bundle_is_built(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert cli(["gradescope", "--rubric", str(bad), "--out", str(tmp_path / "ag.zip")]) == 2
    assert not (tmp_path / "ag.zip").exists()


@pytest.mark.parametrize("reported, chosen", [
    ("Python 3.11.9", "system"),
    ("Python 3.11.0rc1", "system"),
    ("Python 3.12.3", "uv"),       # Ubuntu 24.04: newer, but not what the lock was resolved for
    ("Python 3.1.4", "uv"),
    ("Python 3.110.0", "uv"),
    ("Python 3.10.12", "uv"),      # Ubuntu 22.04
    ("Python 2.7.18", "uv"),
    ("garbage", "uv"),
    (None, "uv"),                  # no python3 at all
])
def test_setup_sh_picks_the_images_python_only_when_it_is_the_locks(tmp_path, reported, chosen):
    """setup.sh's choice, run for real with a stub python3 on PATH: sourcing the script only
    defines its functions (nothing else is on PATH, so apt-get would fail)."""
    script = tmp_path / "setup.sh"
    script.write_text(bundle.setup_sh("3.11"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if reported:
        stub = bin_dir / "python3"
        stub.write_text(f"#!/bin/sh\necho '{reported}'\n")
        stub.chmod(0o755)
    done = subprocess.run([shutil.which("bash"), "-c", 'source "$1" && python_source', "_", str(script)],
                          env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout) == (0, chosen + "\n"), done.stderr


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck not installed")
@pytest.mark.parametrize("name", ["SETUP_SH", "RUN_AUTOGRADER"])
def test_the_bundles_scripts_pass_shellcheck(tmp_path, name):
    script = tmp_path / "script.sh"
    script.write_text(bundle.setup_sh("3.11") if name == "SETUP_SH" else getattr(bundle, name))
    done = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_gradescope_tests_use_its_statuses_and_plain_names():
    """Gradescope's specification: status "passed" or "failed" only, and without one a
    0-of-0 test shows as passed; names are text, so Markdown backticks would show."""
    checked = Item(name="Output shape of `conv1`", score=5.0, max_score=5.0, status="passed",
                   output="`conv1` outputs [32, 16, 16]", tags=["c"])
    answer = Item(name="Why `padding=1`?", score=0.0, max_score=10.0, status="failed",
                  output="Pending manual grading (10 points).", tags=["q", "manual", "pending"])
    results = golden()
    results.score, results.tests = 5.0, [checked, answer]
    form = gradescope.gradescope_form(results)
    assert [t["name"] for t in form["tests"]] == [
        "Output shape of conv1", "Why padding=1? (pending manual grading, 10 points)"]
    assert [t["status"] for t in form["tests"]] == ["passed", "failed"]
    assert form["tests"][1]["score"] == form["tests"][1]["max_score"] == 0
    assert checked.name == "Output shape of `conv1`"  # the results object is not changed
