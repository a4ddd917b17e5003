"""`grade batch --executor slurm|ray` against running engines (issue #33): a single-node Slurm
(munged, slurmctld, slurmd, no accounting) and a Ray head on loopback with token auth, each
started here and stopped after (tests/engines.py); skipped where they cannot start.
Marked `cluster`: the default suite leaves them out, `.ci/run` runs them as their own step."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engines
from conftest import REPO, SUBMISSIONS
from grader.batch import gradebook

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

CLASS = {"u_ada": REPO / "student_template", "u_cy": SUBMISSIONS / "fails_syntax_error.py"}
WANT = {"u_ada": "graded", "u_cy": "syntax_error"}
CLI = "import sys; from grader.cli import main; sys.exit(main(sys.argv[1:]))"


def hand_in(folder: Path) -> Path:
    import shutil
    folder.mkdir(parents=True)
    for student, source in CLASS.items():
        if source.is_dir():
            shutil.copytree(source, folder / student, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, folder / f"{student}{source.suffix}")
    return folder


def batch(root: Path, rubric, data, cache, *extra, env=None, wait=True):
    cmd = ["nice", "-n", "10", sys.executable, "-c", CLI, "batch", str(root / "subs"), "--rubric",
           str(rubric), "--out", str(root / "out"), "--quick", "--data-dir", str(data), *extra]
    full = {**os.environ, "GRADER_CACHE_DIR": str(cache), **(env or {})}
    if not wait:
        return subprocess.Popen(cmd, env=full, stdout=open(root / "driver.log", "ab"),
                                stderr=subprocess.STDOUT)
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=800)


def outcomes(out: Path) -> dict:
    db = sqlite3.connect(out / gradebook.FILE)
    rows = db.execute("SELECT student, status, failure_code FROM grades").fetchall()
    db.close()
    return {s: (code or status) for s, status, code in rows}


def results_of(out: Path, student: str) -> dict:
    return json.loads((out / "feedback" / student / "results.json").read_text())


def wait_for(path: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    why = engines.missing_slurm()
    if why:
        pytest.skip(why)
    pytest.importorskip("submitit")
    try:
        with engines.Slurm(tmp_path_factory.mktemp("slurm"), real_memory_mb=6000) as cluster:
            saved = os.environ.get("SLURM_CONF")
            os.environ.update(cluster.env)
            yield cluster
    except RuntimeError as e:
        pytest.skip(f"the test Slurm could not start here: {e}")
    finally:
        if "saved" in locals():
            os.environ.pop("SLURM_CONF") if saved is None else os.environ.update(SLURM_CONF=saved)


@pytest.fixture(scope="module")
def cluster_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cluster-cache")


def test_a_batch_on_slurm_grades_the_class_each_task_on_its_allocations_cores(
        slurm_cluster, tmp_path, tiny_rubric, fmnist_dir, cluster_cache):
    hand_in(tmp_path / "subs")
    started = time.monotonic()
    run = batch(tmp_path, tiny_rubric, fmnist_dir, cluster_cache, "--executor", "slurm",
                "--workers", "2", "--cpus-per-task", "1", "--slurm-mem", "2500")
    print(f"slurm batch of {len(CLASS)}: {time.monotonic() - started:.0f} s")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Slurm accounting is off" in run.stderr
    assert outcomes(tmp_path / "out") == WANT
    graded = results_of(tmp_path / "out", "u_ada")
    cpus = graded["provenance"]["cpus"]
    assert cpus["count"] == 1 and cpus["source"] == "slurm", cpus  # SLURM_CPUS_PER_TASK=1
    assert graded["provenance"]["isolation"]["cpu"] == "1 core(s)"
    assert json.loads((tmp_path / "out" / "slurm" / "tasks.json").read_text())["tasks"] == {}


def test_memory_the_partition_cannot_give_is_refused_before_the_calibration(
        slurm_cluster, tmp_path, tiny_rubric, fmnist_dir):
    hand_in(tmp_path / "subs")
    cache = tmp_path / "cache"
    started = time.monotonic()
    # the rubric's budget.memory_mb (6144) + headroom is more than the node's 6000 MiB
    run = batch(tmp_path, tiny_rubric, fmnist_dir, cache, "--executor", "slurm")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "refused" in run.stderr and "at most 6000 MiB" in run.stderr
    assert time.monotonic() - started < 60
    assert not (cache / "baselines").exists() or not any((cache / "baselines").iterdir())
    assert not (tmp_path / "out" / "slurm" / "tasks.json").exists()  # nothing was queued


def test_a_cancelled_task_is_a_grader_error_within_the_bound(
        slurm_cluster, tmp_path, tiny_rubric, fmnist_dir, cluster_cache):
    hand_in(tmp_path / "subs")
    # 2 CPUs a task on a 2-CPU node: one task at a time, the second waits in the queue
    driver = batch(tmp_path, tiny_rubric, fmnist_dir, cluster_cache, "--executor", "slurm",
                   "--workers", "2", "--cpus-per-task", "2", "--slurm-mem", "2500",
                   env={"GRADER_SLURM_LOST_S": "5"}, wait=False)
    record = tmp_path / "out" / "slurm" / "tasks.json"
    wait_for(record)
    tasks = json.loads(record.read_text())["tasks"]
    cancelled_at = time.monotonic()
    subprocess.run(["scancel", tasks["u_cy"]["job_id"]], check=True)
    code = driver.wait(timeout=600)
    log = (tmp_path / "driver.log").read_text()
    assert code == 4, log
    assert "left the queue without a result" in log
    assert outcomes(tmp_path / "out") == {"u_ada": "graded"}  # u_cy is retried by a rerun
    assert time.monotonic() - cancelled_at < 300


def test_a_rerun_after_kill_9_adopts_the_array_and_cancels_what_changed(
        slurm_cluster, tmp_path, tiny_rubric, fmnist_dir, cluster_cache):
    subs = hand_in(tmp_path / "subs")
    driver = batch(tmp_path, tiny_rubric, fmnist_dir, cluster_cache, "--executor", "slurm",
                   "--workers", "2", "--cpus-per-task", "2", "--slurm-mem", "2500", wait=False)
    record = tmp_path / "out" / "slurm" / "tasks.json"
    wait_for(record)
    first = json.loads(record.read_text())["tasks"]
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    # u_cy hands in a fix meanwhile: its orphan (queued behind u_ada's) must not be adopted
    (subs / "u_cy.py").write_text((SUBMISSIONS / "passes_only_optimizer_changed.py").read_text())
    run = batch(tmp_path, tiny_rubric, fmnist_dir, cluster_cache, "--executor", "slurm",
                "--workers", "2", "--cpus-per-task", "2", "--slurm-mem", "2500")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "adopting 1 task(s)" in run.stderr and first["u_ada"]["job_id"] in run.stderr
    assert "cancelling 1 task(s)" in run.stderr and first["u_cy"]["job_id"] in run.stderr
    assert outcomes(tmp_path / "out") == {"u_ada": "graded", "u_cy": "graded"}
    folder = tmp_path / "out" / "slurm"
    results = sorted(p.name for p in folder.glob("*_result.pkl"))
    # u_ada graded once, by the orphan; u_cy once, by the rerun's new task; nothing else ran
    assert f"{first['u_ada']['job_id']}_0_result.pkl" in results and len(results) == 2, results
    db = sqlite3.connect(tmp_path / "out" / gradebook.FILE)
    assert db.execute("SELECT COUNT(*) FROM grades").fetchone()[0] == 2
    assert (tmp_path / "out" / ".locks" / "u_ada.lock").exists()


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    pytest.importorskip("ray")
    token = "f" * 32
    try:
        with engines.RayHead(tmp_path_factory.mktemp("ray"), token=token, cpus=2) as head:
            yield head, token
    except RuntimeError as e:
        pytest.skip(f"a Ray head could not start here: {e}")


def test_a_batch_on_an_outside_ray_cluster_with_its_token(ray_head, tmp_path, tiny_rubric,
                                                           fmnist_dir, cluster_cache):
    head, token = ray_head
    hand_in(tmp_path / "subs")
    started = time.monotonic()
    run = batch(tmp_path, tiny_rubric, fmnist_dir, cluster_cache, "--executor", "ray",
                "--cpus-per-task", "1",
                env={"RAY_ADDRESS": head.address, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    print(f"ray batch of {len(CLASS)}: {time.monotonic() - started:.0f} s")
    assert run.returncode == 0, run.stdout + run.stderr
    assert outcomes(tmp_path / "out") == WANT
    cpus = results_of(tmp_path / "out", "u_ada")["provenance"]["cpus"]
    assert cpus["count"] == 1 and cpus["source"] == "ray", cpus


@pytest.mark.parametrize("auth", [{}, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 32}],
                         ids=["no-token", "wrong-token"])
def test_a_ray_cluster_refusing_the_token_is_one_line_before_the_calibration(
        ray_head, tmp_path, tiny_rubric, fmnist_dir, auth):
    head, _ = ray_head
    hand_in(tmp_path / "subs")
    cache = tmp_path / "cache"
    env = {"RAY_ADDRESS": head.address, **auth}
    if not auth:
        env.update(RAY_AUTH_MODE="disabled", RAY_AUTH_TOKEN="")
    run = batch(tmp_path, tiny_rubric, fmnist_dir, cache, "--executor", "ray", env=env)
    assert run.returncode == 4, run.stdout + run.stderr
    line = next(ln for ln in run.stderr.splitlines() if "refused" in ln)
    assert "refused this driver's token" in line and "RAY_AUTH_TOKEN" in line
    assert "InvalidAuthToken" not in run.stderr  # Ray's retry log stays off the screen
    assert not (cache / "baselines").exists() or not any((cache / "baselines").iterdir())
