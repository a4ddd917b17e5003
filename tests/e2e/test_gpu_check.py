"""The prepared GPU check (bench/gpu_check.sh): here, without CUDA, it says so in one line at
once; its dry run goes through every step on the CPU and writes its JSON and table."""
import json
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is here: the check would run")
def test_without_cuda_it_says_so_in_one_line_at_once():
    started = time.monotonic()
    done = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout.strip().splitlines() == [
        "gpu_check: no CUDA device here (torch.cuda.is_available() is false): nothing to check"]
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_the_dry_run_goes_through_every_step_on_the_cpu(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py"), "--dry-run",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    steps = json.loads((tmp_path / "gpu_check.json").read_text())
    assert list(steps) == ["environment", "gpu_tests", "template", "strong", "notebook_vs_grader",
                           "batch"]
    assert done.returncode == 0, {k: (v["status"], v.get("output_tail", "")[-500:]) for k, v in steps.items()}
    assert steps["template"]["gain_pp"] == 0 and steps["template"]["result"] == "graded"
    assert steps["batch"]["rows"] == 6 and steps["batch"]["duplicates"] == 0
    assert "| template | ok |" in (tmp_path / "gpu_check.md").read_text()
