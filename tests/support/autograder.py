"""Gradescope's /autograder tree, simulated: a bundle unpacked and run as its harness runs it."""
import json
import os
import subprocess
import sys
import zipfile


def unpack(bundle, root):
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    for name in ("setup.sh", "run_autograder"):
        assert modes[name] & 0o111, f"{name} must be executable"
        (root / "source" / name).chmod(0o755)


def run_autograder(root, fmnist_dir, cache, **extra_env):
    env = {**os.environ, **extra_env, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable,
           "PYTHONPATH": str(root / "source" / "grader-src"),  # the bundle's grader, not ours
           "GRADER_DATA_DIR": str(fmnist_dir), "GRADER_CACHE_DIR": str(cache)}
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())
