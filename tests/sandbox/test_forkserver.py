"""The fork server: where the child confines itself (Landlock, or no confinement), each run
is a fork of a process that has imported torch once. It must start fast, and nothing of
one run may reach the next. The hostile submissions of test_isolation.py run against
forked children too (its landlock, bwrap_fails and none modes)."""
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, SUBMISSIONS, grade
from grader.sandbox import forkserver, landlock
from grader.sandbox.launch import ALLOCATOR_ENV


@pytest.fixture
def forked(monkeypatch):
    """Landlock where the kernel has it (the fork server's confined mode), else none."""
    monkeypatch.setenv("GRADER_SANDBOX", "landlock" if landlock.abi() >= 1 else "none")
    monkeypatch.delenv("GRADER_FORKSERVER", raising=False)
    if not forkserver.enabled():
        pytest.skip("no pidfd_open or send_fds here")


def test_a_forked_run_starts_in_well_under_a_second(forked, fmnist_dir, session_cache, tiny_rubric):
    grade(REPO / "student_template", tiny_rubric, fmnist_dir, session_cache)  # the server is up
    r = grade(REPO / "student_template", tiny_rubric, fmnist_dir, session_cache)
    isolation = r["provenance"]["isolation"]
    assert isolation["child"] == "forked from the pre-imported fork server"
    startups = [s["startup_s"] for s in r["metrics"]["per_seed"]]
    assert startups and max(startups) < 1.0, startups


def test_without_the_fork_server_each_run_starts_its_own_python(
        forked, monkeypatch, fmnist_dir, session_cache, tiny_rubric):
    monkeypatch.setenv("GRADER_FORKSERVER", "0")
    r = grade(SUBMISSIONS / "fails_output_shape.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["provenance"]["isolation"]["child"] == "a fresh Python"


def test_nothing_of_one_run_reaches_the_next(forked, monkeypatch, fmnist_dir, session_cache,
                                             tiny_rubric):
    """A submission that patches torch to look perfect, then the honest baseline from the
    same server: the baseline trains exactly as in a fresh Python."""
    baseline = REPO / "reference" / "baseline.py"
    patched = grade(SUBMISSIONS / "hostile_patches_torch_to_look_perfect.py", tiny_rubric,
                    fmnist_dir, session_cache)
    after = grade(baseline, tiny_rubric, fmnist_dir, session_cache)
    monkeypatch.setenv("GRADER_FORKSERVER", "0")
    fresh = grade(baseline, tiny_rubric, fmnist_dir, session_cache)
    assert patched["provenance"]["isolation"]["child"].startswith("forked")
    assert after["provenance"]["isolation"]["child"].startswith("forked")
    assert fresh["provenance"]["isolation"]["child"] == "a fresh Python"
    assert after["metrics"]["accuracy"] == fresh["metrics"]["accuracy"] < 0.99


def test_the_server_holds_one_thread_and_a_trimmed_environment(forked, monkeypatch, fmnist_dir,
                                                              session_cache, tiny_rubric):
    """A fork keeps only the thread that forked, so the server must have no other; and
    what it forks must not see the grader's secrets."""
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2-do-not-leak")
    grade(SUBMISSIONS / "fails_output_shape.py", tiny_rubric, fmnist_dir, session_cache)
    server = forkserver._LOCAL.server
    assert server.alive()
    assert len(os.listdir(f"/proc/{server.pid}/task")) == 1
    environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
    assert not any(b"hunter2" in line for line in environ)
    # glibc reads it at the server's start, so its forks inherit the allocator so set up
    # (and rewrites the variable as it parses it: only its start is still there to see)
    tunables = ALLOCATOR_ENV["GLIBC_TUNABLES"].split(":")[0]
    assert any(line.startswith(f"GLIBC_TUNABLES={tunables}".encode()) for line in environ)
    assert b"GOMP_SPINCOUNT=30000" in environ  # libgomp reads it at its start, too


def test_a_server_that_dies_mid_run_fails_the_run_not_the_grader(
        forked, fmnist_dir, session_cache, tiny_rubric):
    """The run in flight ends as a failure within seconds (no hang), and the next run gets
    a new server."""
    grade(SUBMISSIONS / "fails_output_shape.py", tiny_rubric, fmnist_dir, session_cache)
    server = forkserver._LOCAL.server
    result = {}
    runner = threading.Thread(target=lambda: result.update(
        grade(SUBMISSIONS / "times_out_in_forward.py", tiny_rubric, fmnist_dir, session_cache)))
    # the run happens in another thread, with its own server: kill that one once it forks
    before = {p.name for p in Path("/proc").glob("[0-9]*")}
    runner.start()
    deadline = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < deadline:
        for proc in Path("/proc").glob("[0-9]*"):
            if proc.name in before or int(proc.name) == server.pid:
                continue
            try:
                argv = (proc / "cmdline").read_bytes()
                children = (proc / "task" / proc.name / "children").read_text().split()
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            # a child that is a forked run: its argv, and a session of its own (a run's first
            # step is setsid). Not a helper its start-up runs (ctypes' find_library starts
            # ldconfig, which has the server's argv and session until it execs), or the kill
            # fails the start and the run execs, to run into its time limit.
            if b"grader.sandbox.forkserver" in argv and ppid == os.getpid() and any(
                    _argv(child) == argv and _leads_its_session(child) for child in children):
                victim = int(proc.name)
        time.sleep(0.2)
    assert victim, "no forked run appeared"
    os.kill(victim, signal.SIGKILL)
    runner.join(60)
    assert not runner.is_alive(), "the grading hung after its fork server died"
    assert result["status"] == "failed"
    r = grade(SUBMISSIONS / "fails_output_shape.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["failure"]["code"] == "output_shape"


def _leads_its_session(pid: str) -> bool:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3]) == int(pid)
    except (OSError, ValueError, IndexError):
        return False


def _argv(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.gpu
def test_a_forked_child_trains_on_cuda(forked, fmnist_dir, session_cache, tiny_rubric):
    """The server never initialises CUDA, so each fork can."""
    import torch
    if not torch.cuda.is_available():
        pytest.skip("no CUDA here")
    r = grade(REPO / "student_template", tiny_rubric, fmnist_dir, session_cache, device="cuda")
    assert r["status"] == "graded", r.get("failure")
    assert r["provenance"]["isolation"]["child"].startswith("forked")
