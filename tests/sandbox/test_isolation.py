"""Hostile submissions: each must get the grade an honest grader gives, the right reason,
and leave nothing outside its own folder changed. Tests that need the bubblewrap layer
skip where it is unavailable (macOS, containers without user namespaces)."""
import functools
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, SUBMISSIONS, grade, processes_with, write_rubric
from grader.sandbox import confine as isolation
from grader.grading import grade_submission
from grader.report.markdown import render_markdown
from grader.report.record import Results
from grader.rubric import load_rubric
from grader.sandbox import landlock, seccomp

# The modes a test can force: bubblewrap; bubblewrap present but failing, so `auto` falls
# back to the layers; the fallback layers (all of them, Landlock alone, seccomp alone);
# none. A mode the machine cannot give is skipped.
CONFINED = ["bubblewrap", "bwrap_fails", "landlock"]
EVERY = [*CONFINED, "none"]


def force_mode(mode, monkeypatch, tmp_path_factory):
    """Set GRADER_SANDBOX (and what the machine seems to have) for `mode`."""
    if mode == "bubblewrap":
        if not isolation.bwrap_works():
            pytest.skip("bubblewrap unavailable here")
        monkeypatch.setenv("GRADER_SANDBOX", "bwrap")
        return
    if mode == "none":
        monkeypatch.setenv("GRADER_SANDBOX", "none")
        return
    if mode in ("bwrap_fails", "seccomp_only"):
        # a bwrap that exits 1, as where AppArmor blocks it (in a folder named after no test)
        fake = tmp_path_factory.mktemp("fake-bin")
        (fake / "bwrap").write_text("#!/bin/sh\nexit 1\n")
        (fake / "bwrap").chmod(0o755)
        monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
        monkeypatch.setattr(isolation.bwrap, "bwrap_works", functools.cache(isolation.bwrap_works.__wrapped__))
        monkeypatch.setenv("GRADER_SANDBOX", "auto")
    else:
        monkeypatch.setenv("GRADER_SANDBOX", "landlock")
    if mode == "seccomp_only":
        monkeypatch.setattr(landlock, "abi", lambda: 0)
    if mode == "landlock_only":
        monkeypatch.setattr(seccomp, "available", lambda: False)
    if mode != "seccomp_only" and landlock.abi() < 1:
        pytest.skip("no Landlock in this kernel")
    if mode == "seccomp_only" and not seccomp.available():
        pytest.skip("pyseccomp or libseccomp unavailable")


@pytest.fixture(params=CONFINED)
def confined_mode(request, monkeypatch, tmp_path_factory):
    force_mode(request.param, monkeypatch, tmp_path_factory)
    return request.param


def snapshot(*folders):
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for f in folders for p in sorted(f.rglob("*"))
            if p.is_file()}


def _descendants() -> set[str]:
    """This test process's descendants, and orphans re-parented to init: with the grader
    a subreaper, whatever its runs left behind is among the first (anything that escaped
    it, among the second), and what other test processes are still killing is not."""
    parent = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            parent[proc.name] = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
    me = str(os.getpid())
    found = {pid for pid, up in parent.items() if up == "1"}
    for pid in parent:
        seen, up = set(), parent.get(pid)
        while up and up not in seen and up != "0":
            if up == me:
                found.add(pid)
                break
            seen.add(up)
            up = parent.get(up)
    return found


def workers_left():
    """Worker processes (exec'd, or forked from the fork server) whose job folder is gone:
    leftovers of a grading that finished (other gradings running on the machine at the
    same time still have theirs)."""
    left = []
    ours = _descendants()
    for proc in Path("/proc").glob("[0-9]*"):
        if proc.name not in ours:
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"grader.sandbox.worker" in argv:  # exec'd: its job folder is in its argv
            if not Path(argv[argv.index(b"grader.sandbox.worker") + 1].decode()).exists():
                left.append(proc.name)
        elif b"grader.sandbox.forkserver" in argv and cwd.endswith(" (deleted)"):
            left.append(proc.name)  # a fork (the server itself stays where the grader is)
    return left


def workers_left_after(seconds: float) -> list[str]:
    """workers_left() once they are gone, or after `seconds`: the kernel ends a PID
    namespace's processes, and a cgroup's, asynchronously."""
    deadline = time.monotonic() + seconds
    while (left := workers_left()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_the_report_says_which_protections_were_in_force(fmnist_dir, session_cache, tiny_rubric):
    r = grade(REPO / "reference" / "baseline.py", tiny_rubric, fmnist_dir, session_cache)
    iso = r["provenance"]["isolation"]
    assert {"sandbox", "filesystem", "network", "processes", "memory", "output", "time"} <= set(iso)
    plan = isolation.plan()
    assert iso["sandbox"] == {"bwrap": "bubblewrap", "landlock": "landlock"}.get(
        plan.sandbox, "none (bubblewrap unavailable or GRADER_SANDBOX=none)")
    assert "Isolation of the submission's code" in render_markdown(Results.load(r))


def test_hunting_for_test_labels_finds_nothing(confined_mode, tmp_path, fmnist_dir, session_cache,
                                              tiny_rubric):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{}")
    r = grade("hostile_hunts_for_test_labels.py", tiny_rubric, fmnist_dir, session_cache)
    tail = r["submission"]["output_tail"]
    assert "HUNT DONE" in tail and "FOUND" not in tail, tail
    assert r["status"] == "graded"


def test_results_cannot_be_overwritten_now_or_later(confined_mode, tmp_path, fmnist_dir, session_cache,
                                                   tiny_rubric):
    out = tmp_path / "out"
    (out / "student").mkdir(parents=True)
    (out / "student" / "results.json").write_text('{"score": 1}')
    (out / "results.json").write_text('{"score": 2}')
    before = snapshot(out, session_cache, fmnist_dir)
    r = grade("hostile_overwrites_results_now_and_later.py", tiny_rubric, fmnist_dir, session_cache)
    # the detached writer would strike 3 s after its run: the grading ended it (the kernel
    # may take a moment), so none is left to strike, and nothing changed meanwhile
    assert not workers_left_after(10)
    after = snapshot(out, session_cache, fmnist_dir)
    assert {p: after.get(p) for p in before} == before  # every file there was is untouched
    assert {p for p in after if p.is_relative_to(out)} == {p for p in before if p.is_relative_to(out)}
    assert "wrote 0" in r["submission"]["output_tail"]  # (the grader's caches may have grown)


def test_hundreds_of_processes_are_all_ended(fmnist_dir, session_cache, tiny_rubric):
    r = grade("hostile_forks_many_processes.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] in ("graded", "failed")  # either way it returns, with a reason
    assert not workers_left_after(10)


def test_tens_of_gigabytes_hit_the_memory_limit(fmnist_dir, session_cache, tiny_rubric):
    started = time.time()
    r = grade("hostile_allocates_tens_of_gigabytes.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["failure"]["code"] == "out_of_memory", r["failure"]
    assert "memory" in r["failure"]["hint"]
    assert time.time() - started < 60


def test_printing_without_end_hits_the_output_limit(fmnist_dir, session_cache, tiny_rubric):
    r = grade("hostile_prints_without_end.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["failure"]["code"] == "output_limit", r["failure"]
    assert len(r["submission"]["output_tail"]) <= 4000


def test_patching_torch_in_the_child_changes_nothing(fmnist_dir, session_cache, tiny_rubric):
    honest = grade(REPO / "reference" / "baseline.py", tiny_rubric, fmnist_dir, session_cache)
    patched = grade("hostile_patches_torch_to_look_perfect.py", tiny_rubric, fmnist_dir, session_cache)
    assert patched["status"] == "graded", patched["failure"]
    assert patched["metrics"]["accuracy"] == honest["metrics"]["accuracy"] < 0.99


@pytest.mark.parametrize("mode", ["bubblewrap", "landlock", "landlock_only", "seccomp_only"])
def test_no_network(mode, monkeypatch, tmp_path_factory, fmnist_dir, session_cache, tiny_rubric):
    """A connection to a server the test runs on 127.0.0.1 never arrives: bubblewrap has
    no network, Landlock refuses TCP connect (ABI 4), seccomp any socket but AF_UNIX."""
    force_mode(mode, monkeypatch, tmp_path_factory)
    if mode == "landlock_only" and landlock.abi() < 4:
        pytest.skip("Landlock ABI < 4 has no network rules")
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 47123))
    server.listen()
    server.settimeout(0.2)
    received = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100))
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        r = grade("hostile_calls_the_network.py", tiny_rubric, fmnist_dir, session_cache)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert received == []
    assert "CONNECTED" not in r["submission"]["output_tail"]
    assert "NO NETWORK 127.0.0.1" in r["submission"]["output_tail"]


def test_an_implausible_accuracy_is_flagged(tmp_path, fmnist_dir, session_cache, tiny_rubric):
    text = tiny_rubric.read_text().replace("scoring:\n", "scoring:\n  max_plausible_accuracy: 0.01\n")
    r = grade(REPO / "reference" / "baseline.py", write_rubric(tmp_path, text=text), fmnist_dir,
              session_cache)
    assert r["anomaly"] and "flagged for an instructor's review" in r["anomaly"]
    assert "FLAGGED FOR REVIEW" in r["output"]


def test_other_submissions_are_unaffected_by_a_hostile_one(fmnist_dir, session_cache, tiny_rubric):
    before = grade(REPO / "reference" / "baseline.py", tiny_rubric, fmnist_dir, session_cache)
    grade("hostile_forks_many_processes.py", tiny_rubric, fmnist_dir, session_cache)
    grade("hostile_patches_torch_to_look_perfect.py", tiny_rubric, fmnist_dir, session_cache)
    after = grade(REPO / "reference" / "baseline.py", tiny_rubric, fmnist_dir, session_cache)
    assert after["metrics"]["accuracy"] == before["metrics"]["accuracy"]
    assert after["score"] == before["score"]


def test_a_child_that_cannot_start_is_the_graders_fault_not_the_students(tmp_path, monkeypatch):
    """The start-up (imports) has its own limit; a child stuck there is a grader_error,
    never a student's timeout."""
    from grader.sandbox import launch
    from grader.sandbox.protocol import JobRequest
    monkeypatch.setattr(launch, "STARTUP_S", 0.3)  # far less than importing torch takes
    from grader.load.datasets import FASHION_MNIST
    from grader.rubric import Training
    request = JobRequest(mode="train", submission=str(tmp_path), reference=str(tmp_path),
                         model_hook="build_model", info=FASHION_MNIST, device="cpu", threads=1,
                         training=Training())
    out = launch.run_job(tmp_path, request, files={}, limits=isolation.Limits(time_s=600, memory_mb=6144), show=[])
    assert out.result.failure["code"] == "grader_error"
    assert "did not start" in out.result.failure["message"]
    assert out.startup_s is None and out.wall_s < 30


@pytest.fixture(params=EVERY)
def sandbox_mode(request, monkeypatch, tmp_path_factory):
    """Each of these attacks runs in every mode the machine allows, none included."""
    force_mode(request.param, monkeypatch, tmp_path_factory)
    return request.param


def test_a_log_swapped_for_a_link_leaks_nothing_of_the_grader(
        sandbox_mode, monkeypatch, fmnist_dir, session_cache, tiny_rubric):
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2-do-not-leak")
    r = grade("hostile_links_its_log_to_the_graders_files.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", r["failure"]
    assert "hunter2-do-not-leak" not in json.dumps(r, default=str)


@pytest.mark.parametrize("name", ["hostile_swaps_its_result_for_a_fifo.py",
                                  "hostile_links_its_result_to_dev_zero.py"])
def test_a_result_swapped_after_saving_is_refused_without_hanging(
        name, sandbox_mode, fmnist_dir, session_cache, tiny_rubric):
    started = time.monotonic()
    r = grade(name, tiny_rubric, fmnist_dir, session_cache)
    assert time.monotonic() - started < 120
    assert r["status"] == "failed" and r["failure"]["code"] == "killed"
    assert "before returning a result" in r["failure"]["message"]


def test_a_result_forged_after_saving_is_refused_by_its_unknown_field(
        sandbox_mode, fmnist_dir, session_cache, tiny_rubric):
    r = grade("hostile_swaps_its_result_for_a_forged_one.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "failed" and r["failure"]["code"] == "tampered_result", r["failure"]
    # its forger races the parent's kill of the run's group: where it swaps the training
    # child's result in time, the unknown field refuses it; where only the re-measuring
    # child's (build_model runs there too), the re-measurement does
    message = r["failure"]["message"]
    assert "unknown field 'accuracy'" in message or "(fresh_run)" in message, message
    assert r["metrics"]["accuracy"] is None


def test_an_official_grade_needs_confinement_or_the_instructors_word(
        monkeypatch, fmnist_dir, session_cache, tiny_rubric):
    monkeypatch.setenv("GRADER_SANDBOX", "none")  # as in a container without user namespaces
    rubric = load_rubric(str(tiny_rubric))

    def official(**kw):
        return grade_submission(submission=SUBMISSIONS / "fails_syntax_error.py", rubric=rubric,
                                data_dir=fmnist_dir, cache_dir=session_cache, mode="official", **kw)
    r = official()
    assert r.official is False and r.notice.startswith("NOT OFFICIAL")
    assert r.provenance.confined is False
    accepted = official(allow_unconfined=True)
    assert accepted.official is True and accepted.provenance.allow_unconfined is True


def test_killing_the_grader_kills_the_child_it_was_running(
        sandbox_mode, tmp_path, fmnist_dir, session_cache, tiny_rubric):
    """kill -9 of a driver: the kernel ends its child too (PR_SET_PDEATHSIG without
    bubblewrap, --die-with-parent with it), instead of a forward pass running for ever."""
    import os
    import signal
    import subprocess
    import sys
    code = ("import sys; from grader.grading import grade_submission; from grader.rubric import "
            "load_rubric; grade_submission(submission=sys.argv[1], rubric=load_rubric(sys.argv[2]), "
            "data_dir=sys.argv[3], cache_dir=sys.argv[4], quick=True)")
    driver = subprocess.Popen([sys.executable, "-c", code, str(SUBMISSIONS / "times_out_in_forward.py"),
                               str(tiny_rubric), str(fmnist_dir), str(session_cache)], cwd=REPO,
                              env={**os.environ, "TMPDIR": str(tmp_path)})  # its job folders

    def children():  # exec'd or forked from the fork server: working in one of its job folders
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if Path(os.readlink(proc / "cwd")).is_relative_to(tmp_path):
                    found.append(int(proc.name))
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 120
    while not children() and time.monotonic() < deadline:
        time.sleep(0.5)
    running = children()
    assert running, "the child never started"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() and b"Z" not in
              Path(f"/proc/{pid}/stat").read_bytes().split(b")")[-1][:3] for pid in running
              if Path(f"/proc/{pid}").exists()) and time.monotonic() < deadline:
        time.sleep(0.5)
    alive = [pid for pid in running if Path(f"/proc/{pid}").exists()
             and b" Z " not in Path(f"/proc/{pid}/stat").read_bytes()]
    for pid in alive:  # a failing run must not leave its loop behind
        os.kill(pid, signal.SIGKILL)
    assert alive == []


def test_a_failing_bubblewrap_falls_back_to_landlock_and_says_so(monkeypatch, tmp_path_factory,
                                                                 fmnist_dir, session_cache, tiny_rubric):
    force_mode("bwrap_fails", monkeypatch, tmp_path_factory)
    r = grade_submission(submission=SUBMISSIONS / "fails_syntax_error.py", rubric=load_rubric(str(tiny_rubric)),
                         data_dir=fmnist_dir, cache_dir=session_cache, mode="official")
    assert r.provenance.isolation["sandbox"] == "landlock"
    assert r.provenance.confined is True and r.official is True  # Landlock counts
    monkeypatch.setenv("GRADER_SANDBOX", "bwrap")  # required, and not there: refused up front
    with pytest.raises(isolation.SandboxUnavailable, match="GRADER_SANDBOX=bwrap"):
        isolation.plan()
    monkeypatch.setenv("GRADER_SANDBOX", "landlock")
    monkeypatch.setattr(landlock, "abi", lambda: 0)
    with pytest.raises(isolation.SandboxUnavailable, match="no Landlock"):
        isolation.plan()


def test_a_missing_layer_is_recorded_and_shown(monkeypatch, tmp_path_factory, fmnist_dir,
                                               session_cache, tiny_rubric):
    from grader.report.terminal import render_tables
    from rich.console import Console
    force_mode("landlock_only", monkeypatch, tmp_path_factory)
    r = grade(REPO / "reference" / "baseline.py", tiny_rubric, fmnist_dir, session_cache)
    iso = r["provenance"]["isolation"]
    assert iso["sandbox"] == "landlock" and "seccomp" in iso["missing"]
    assert "seccomp" not in iso["layers"] and "landlock" in iso["layers"]
    console = Console(record=True, width=200)
    console.print(render_tables(Results.load(r)))
    assert "Confinement: seccomp unavailable here" in console.export_text()


def test_a_detached_process_with_an_empty_environment_dies_with_its_run(
        sandbox_mode, fmnist_dir, session_cache, tiny_rubric):
    """Double fork, setsid, exec with no environment: no marker to find it by. It must be
    gone the moment the grading returns, in every mode."""
    tag = b"hostile-empty-env-writer"
    r = grade("hostile_detaches_with_an_empty_environment.py", tiny_rubric, fmnist_dir, session_cache)
    left = processes_with(tag)
    for pid in left:  # a failing run must not leave it writing
        os.kill(pid, 9)
    assert r["status"] == "graded", r["failure"]
    assert left == []


@pytest.mark.parametrize("mode", CONFINED)  # with none it wrecks the gradebook: the issue
def test_a_hostile_submission_in_a_batch_changes_nothing_but_its_own_job(
        mode, monkeypatch, tmp_path, tmp_path_factory, fmnist_dir, session_cache, tiny_rubric):
    """It looks for the batch through its parent's command line and environment and the
    links in its job folder, then rewrites every gradebook, results.json and cached file
    it finds. The honest student's feedback, the gradebook's rows and the cache must be
    unchanged, and nothing of the grader's environment may reach its output."""
    import sqlite3
    import subprocess
    import sys
    force_mode(mode, monkeypatch, tmp_path_factory)
    subs, out, cache = tmp_path / "subs", tmp_path / "out", tmp_path / "cache"
    subs.mkdir()
    (subs / "u_honest.py").write_text((REPO / "reference" / "baseline.py").read_text())
    env = {**os.environ, "GRADER_CACHE_DIR": str(cache), "GRADER_TEST_SECRET": "hunter2-do-not-leak"}
    command = [sys.executable, "-m", "grader.cli", "batch", str(subs), "--rubric", str(tiny_rubric),
               "--out", str(out), "--quick", "--data-dir", str(fmnist_dir)]
    first = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(out / "feedback", cache)
    rows = sqlite3.connect(out / "gradebook.sqlite").execute("SELECT * FROM grades").fetchall()
    (subs / "u_hostile.py").write_text((SUBMISSIONS / "hostile_rewrites_the_batch_it_finds.py").read_text())
    second = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    said = {"bubblewrap": "bwrap"}.get(mode, "landlock")  # the batch says what confines its runs
    assert f"Confinement of student code: {said}" in second.stderr
    after = snapshot(out / "feedback", cache)
    assert {p: after.get(p) for p in before} == before
    db = sqlite3.connect(out / "gradebook.sqlite")
    assert set(rows) <= set(db.execute("SELECT * FROM grades").fetchall())
    hostile = json.loads((out / "feedback" / "u_hostile" / "results.json").read_text())
    tail = hostile["submission"]["output_tail"]
    assert "REWROTE 0" in tail, tail
    # (under bubblewrap its parent is the sandbox's own init, with the child's trimmed environment)
    assert "hunter2-do-not-leak" not in json.dumps(hostile) and "GRADER_TEST_SECRET" not in tail


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="loader workers need two cores")
def test_loader_workers_train_in_every_mode(sandbox_mode, fmnist_dir, session_cache, tiny_rubric):
    r = grade("passes_with_a_transform_for_loader_workers.py", tiny_rubric, fmnist_dir, session_cache,
              cpus=tuple(sorted(os.sched_getaffinity(0))[:2]))
    assert r["status"] == "graded", (r["failure"], r["submission"]["output_tail"][-1500:])


def _in_child(code: str, *args) -> str:
    """Run `code` in a fresh interpreter (the layers hold for good) and return its output."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(landlock.abi() < 1, reason="no Landlock in this kernel")
def test_landlock_binding_reads_writes_and_connects_only_what_it_allows(tmp_path):
    allowed, private, job = tmp_path / "input.npy", tmp_path / "labels.npy", tmp_path / "job"
    allowed.write_text("images")
    private.write_text("labels")
    job.mkdir()
    code = """
import os, socket, sys
from pathlib import Path
from grader.sandbox import landlock
from grader.sandbox.confine import interpreter_paths
allowed, private, job = map(Path, sys.argv[1:4])
landlock.restrict(read=[Path("/usr"), *interpreter_paths(), allowed], write=[job])
def attempt(name, action):
    try:
        action()
        print(name, "ok")
    except OSError as e:
        print(name, "refused", e.errno)
attempt("read input", allowed.read_text)
attempt("read labels", private.read_text)
attempt("list folder", lambda: os.listdir(allowed.parent))
attempt("write job", lambda: (job / "result.pt").write_text("x"))
attempt("rename in job", lambda: os.replace(job / "result.pt", job / "r2"))
attempt("write outside", lambda: (allowed.parent / "forged").write_text("x"))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
attempt("signal grader", lambda: os.kill(os.getppid(), 0))
"""
    out = _in_child(code, allowed, private, job)
    for line in ("read input ok", "write job ok", "rename in job ok", "read labels refused 13",
                 "list folder refused 13", "write outside refused 13"):
        assert line in out, out
    assert not (tmp_path / "forged").exists()
    if landlock.abi() >= 4:
        assert "connect refused 13" in out, out
    if landlock.abi() >= 6:
        assert "signal grader refused 1" in out, out


@pytest.mark.skipif(not seccomp.available(), reason="pyseccomp or libseccomp unavailable")
def test_seccomp_keeps_unix_sockets_threads_and_forks_and_nothing_else():
    code = """
import os, socket, threading
from grader.sandbox import seccomp
seccomp.restrict()
for family in (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK):
    try:
        socket.socket(family, socket.SOCK_DGRAM if family == socket.AF_NETLINK else socket.SOCK_STREAM)
        print(family.name, "ok")
    except OSError as e:
        print(family.name, "refused", e.errno)
a, b = socket.socketpair()
t = threading.Thread(target=print, args=("thread ok",))
t.start(); t.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
import ctypes
print("ptrace", ctypes.CDLL(None, use_errno=True).ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())
"""
    out = _in_child(code)
    assert "AF_INET refused 97" in out and "AF_INET6 refused 97" in out and "AF_NETLINK refused 97" in out
    assert "thread ok" in out and "fork 7" in out
    assert "ptrace -1 1" in out  # PTRACE_ATTACH to the grader: EPERM


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader's child has capabilities to drop")
def test_a_root_childs_capabilities_are_all_dropped():
    code = """
from grader.sandbox.confine import drop_capabilities
drop_capabilities()
print([line for line in open("/proc/self/status") if line.startswith("Cap")])
"""
    out = _in_child(code)
    for field in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
        assert f"{field}:\\t0000000000000000" in out, out


def test_nothing_one_run_leaves_reaches_the_next(sandbox_mode, fmnist_dir, session_cache, tiny_rubric):
    """Two students in a row, as a batch worker grades them: the first leaves a file in
    every place it can write, the second looks for them. Under bubblewrap and Landlock it
    finds none (the shared memory folder's leftovers are removed at the end of each
    fallback run; the rest was never writable); with no confinement, only the shared
    memory folder is cleaned: the report says the run was not isolated."""
    marks = [Path(f) / n for f in ("/dev/shm", "/tmp", "/var/tmp")
             for n in ("tinycnn_left_weights", ".tinycnn_left_weights", "tinycnn_left_weights.d")]
    try:
        left = grade("hostile_leaves_weights_everywhere.py", tiny_rubric, fmnist_dir, session_cache)
        assert left["status"] == "graded", left["failure"]
        assert not any(m.exists() for m in marks[:3])  # /dev/shm: removed in every mode
        found = grade("hostile_loads_what_it_finds.py", tiny_rubric, fmnist_dir, session_cache)
        if sandbox_mode == "none":
            message = (found["failure"] or {}).get("message", "")
            assert "/dev/shm" not in message
        else:
            assert found["status"] == "graded", found["failure"]
    finally:
        for m in marks:
            if m.is_dir():
                shutil.rmtree(m, ignore_errors=True)
            elif m.exists():
                m.unlink()


def test_an_exit_handler_cannot_rewrite_the_result(sandbox_mode, fmnist_dir, session_cache, tiny_rubric):
    """The result is the child's last act: the atexit handler and finaliser a submission
    registered never run, so the parameter count reported is the model's own."""
    r = grade("hostile_rewrites_its_result_at_exit.py", tiny_rubric, fmnist_dir, session_cache)
    honest = grade(REPO / "reference" / "baseline.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", r["failure"]
    assert r["metrics"]["parameters"] == honest["metrics"]["parameters"] > 1
