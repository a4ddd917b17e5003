"""The Slurm and Ray fixes of issue #33 without an engine: fake sinfo/squeue/sacct/scancel on
PATH, submitit's own result files, a refused Ray connection. tests/batch/test_cluster.py runs the
same cases against a real Slurm and a real Ray head (marked `cluster`)."""
import contextlib
import os
import subprocess
import sys
import time

import pytest

from grader.sandbox import confine
from grader.batch import driver, executors, slurm
from grader.batch.executors import Job, Refused


def fake(bin_dir, name, body):
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return bin_dir


def test_threads_follow_slurm_and_the_affinity_mask_not_the_machine(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    got = confine.usable_cpus()
    assert got.count == 1 and got.source == "slurm" and "SLURM_CPUS_PER_TASK=1" in got.detail
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    assert confine.usable_cpus().count == len(os.sched_getaffinity(0))
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "999")  # never more than the mask
    assert confine.usable_cpus().count == len(os.sched_getaffinity(0))


def test_memory_comes_from_the_rubric_or_the_flag_and_a_small_partition_is_refused(fakes):
    from grader.rubric import load_rubric
    rubric = load_rubric("cifar10")
    req = slurm.request(rubric, None, 2, None)
    assert req.mem_mb == rubric.budget.memory_mb + slurm.HEADROOM_MB
    assert slurm.parse_mem("8G") == 8192 and slurm.parse_mem("3000") == 3000
    with pytest.raises(Refused):
        slurm.parse_mem("lots")
    fake(fakes, "sinfo", 'echo "4000 2 debug*"; echo "64000 32 big"')
    assert slurm.nodes(None) == [(4000, 2)] and slurm.nodes("big") == [(4000, 2), (64000, 32)]
    with pytest.raises(Refused) as refused:
        slurm.check(req, slurm.nodes(None))
    assert "at most 4000 MiB and 2 CPU(s)" in str(refused.value) and "--slurm-mem" in str(refused.value)
    slurm.check(slurm.request(rubric, "3G", 2, None), [(4000, 2)])  # fits: no exception


def test_accounting_is_detected_from_sacct(fakes):
    fake(fakes, "sacct", 'echo "Slurm accounting storage is disabled" >&2; exit 1')
    assert slurm.accounting() is False
    fake(fakes, "sacct", "exit 0")
    assert slurm.accounting() is True


def _job(tmp_path, student, h="h1"):
    from grader.rubric import load_rubric
    return Job(student=student, path=tmp_path / f"{student}.py", content_hash=h,
               rubric=load_rubric("cifar10"), data_dir=None, cache_dir=tmp_path, quick=True,
               artifacts=tmp_path / "out" / "feedback" / student)


def _result(folder, job_id, value):
    from submitit.core.utils import cloudpickle_dump
    folder.mkdir(parents=True, exist_ok=True)
    cloudpickle_dump(("success", value), slurm.result_file(folder, job_id))


def test_a_task_gone_from_squeue_without_a_result_is_a_grader_error_within_the_bound(
        tmp_path, fakes):
    pytest.importorskip("submitit")
    queue = tmp_path / "queue"
    queue.write_text("7_0 RUNNING\n7_1 PENDING\n")
    fake(fakes, "squeue", f'cat "{queue}"')
    folder = tmp_path / "slurm"
    a, b = _job(tmp_path, "ann"), _job(tmp_path, "ben")
    stream = slurm.follow({"7_0": a, "7_1": b}, folder, with_accounting=False,
                          lost_after_s=0.5, poll_s=0.05)
    _result(folder, "7_0", {"status": "graded"})
    job, result = next(stream)
    assert job is a and result == {"status": "graded"}
    queue.write_text("")  # scancel'led: neither queued nor done
    started = time.monotonic()
    job, result = next(stream)
    assert job is b and "left the queue without a result" in result["grader_error"]
    assert time.monotonic() - started < 5
    assert list(stream) == []


def test_a_failing_squeue_is_bounded_too(tmp_path, fakes):
    pytest.importorskip("submitit")
    fake(fakes, "squeue", "exit 1")
    out = list(slurm.follow({"9_0": _job(tmp_path, "cy")}, tmp_path / "s", with_accounting=False,
                            lost_after_s=0.3, poll_s=0.05))
    assert len(out) == 1 and "squeue failed" in out[0][1]["grader_error"]


def test_a_rerun_adopts_unchanged_tasks_and_cancels_the_rest(tmp_path, fakes):
    pytest.importorskip("submitit")
    folder, cancelled = tmp_path / "slurm", tmp_path / "cancelled"
    fake(fakes, "squeue", 'echo "5_1 RUNNING"; echo "5_2 PENDING"; echo "5_3 PENDING"')
    fake(fakes, "scancel", f'echo "$@" >> "{cancelled}"')
    ann, ben, cy, di = (_job(tmp_path, s) for s in ("ann", "ben", "cy", "di"))
    cy_changed = _job(tmp_path, "cy", h="h2")
    slurm.save_record(folder, {
        "ann": {"job_id": "5_0", "key": executors._key(ann)},   # done: its result is adopted
        "ben": {"job_id": "5_1", "key": executors._key(ben)},   # running: followed
        "cy": {"job_id": "5_2", "key": executors._key(cy)},     # changed since: cancelled
        "zed": {"job_id": "5_3", "key": "gone"},                # graded already: cancelled
        "di": {"job_id": "5_4", "key": executors._key(di)},     # lost: queued again
    })
    _result(folder, "5_0", {"status": "graded"})
    notes = []
    record, adopted, todo = executors._adopt([ann, ben, cy_changed, di], folder, notes.append)
    assert adopted == {"5_0": ann, "5_1": ben}
    assert [j.student for j in todo] == ["cy", "di"]
    assert cancelled.read_text().split() == ["5_2", "5_3"]
    assert sorted(record) == ["ann", "ben"] and any("adopting 2" in n for n in notes)


def test_a_grader_error_result_is_not_adopted(tmp_path, fakes):
    pytest.importorskip("submitit")
    fake(fakes, "squeue", "true")
    folder, ann = tmp_path / "slurm", _job(tmp_path, "ann")
    slurm.save_record(folder, {"ann": {"job_id": "6_0", "key": executors._key(ann)}})
    _result(folder, "6_0", {"grader_error": "node lost"})
    _, adopted, todo = executors._adopt([ann], folder, lambda m: None)
    assert adopted == {} and todo == [ann]


def test_one_students_feedback_has_one_writer_at_a_time(tmp_path):
    artifacts = tmp_path / "out" / "feedback" / "ann"
    probe = ("import fcntl, sys; f = open(sys.argv[1], 'a+')\n"
             "try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
             "except OSError: print('held')")
    lock = tmp_path / "out" / ".locks" / "ann.lock"
    with executors.student_lock(artifacts):
        held = subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True, text=True)
    free = subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True, text=True)
    assert held.stdout.strip() == "held" and free.stdout.strip() == "free"


def test_tasks_side_by_side_claim_disjoint_cores(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core")
    with contextlib.ExitStack() as one, contextlib.ExitStack() as two:
        a = executors.claim_cores(1, one, tmp_path)
        b = executors.claim_cores(1, two, tmp_path)
        assert len(a) == len(b) == 1 and a != b
    with contextlib.ExitStack() as again:  # released with the first grading's end
        assert executors.claim_cores(1, again, tmp_path) == a


def test_a_batch_too_big_for_the_partition_is_refused_before_the_calibration(
        tmp_path, fakes, monkeypatch, tiny_rubric):
    fake(fakes, "sinfo", 'echo "1000 2 debug*"')
    fake(fakes, "sacct", "exit 1")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "ann.py").write_text("EPOCHS = 1\n")

    def no_calibration(**kwargs):
        raise AssertionError("the calibration started")
    monkeypatch.setattr(driver, "ensure_baselines", no_calibration)
    from rich.console import Console
    console = Console(record=True, width=300)
    code = driver.main(folder=tmp_path / "subs", out=tmp_path / "out", rubric=str(tiny_rubric),
                       executor="slurm", quick=True, console=console)
    said = console.export_text()
    assert code == 2 and "refused" in said and "at most 1000 MiB" in said


def test_a_ray_cluster_refusing_the_token_is_one_line_and_exit_4(monkeypatch):
    ray = pytest.importorskip("ray")

    def refused(**kwargs):
        os.write(2, b"gcs_client.cc:210: Unauthenticated: RPC error: InvalidAuthToken\n")
        raise ConnectionError("Failed to connect to Ray cluster at 127.0.0.1:1")
    monkeypatch.setattr(ray, "init", refused)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with pytest.raises(Refused) as e:
        executors.connect_ray("127.0.0.1:1")
    message = str(e.value)
    assert e.value.code == 4 and "\n" not in message
    assert "RAY_AUTH_MODE unset" in message and "RAY_AUTH_TOKEN" in message
