"""The Gradescope bundle, run on a simulated /autograder tree with the bundle's own grader."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

from conftest import REPO, SUBMISSIONS, TINY_RUBRIC
from grader.cli import main as cli


def unpack(bundle, root):
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    for name in ("setup.sh", "run_autograder"):
        assert modes[name] & 0o111, f"{name} must be executable"
        (root / "source" / name).chmod(0o755)


def run_autograder(root, fmnist_dir, cache):
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable,
           "PYTHONPATH": str(root / "source" / "grader-src"),  # the bundle's grader, not ours
           "GRADER_DATA_DIR": str(fmnist_dir), "GRADER_CACHE_DIR": str(cache)}
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


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
    assert r["extra_data"]["official"] is True and r["extra_data"]["mode"] == "official"
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


def test_an_invalid_rubric_is_refused_before_a_bundle_is_built(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert cli(["gradescope", "--rubric", str(bad), "--out", str(tmp_path / "ag.zip")]) == 2
    assert not (tmp_path / "ag.zip").exists()
