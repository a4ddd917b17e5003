"""The layers a root grader adds where it can: a cgroup per run (limits that forking
cannot escape, everything in it killed at the end) and a uid of its own per run. Each
test skips, saying why, where this machine cannot give the layer."""
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import REPO, SUBMISSIONS, grade, processes_with, write_rubric
from grader.sandbox import cgroup, confine, landlock, uids
from grader.report.terminal import weaknesses

CGROUP_MISSING = confine.cgroup_missing()
needs_cgroup = pytest.mark.skipif(CGROUP_MISSING is not None, reason=f"no cgroup: {CGROUP_MISSING}")
needs_landlock = pytest.mark.skipif(landlock.abi() < 1, reason="no Landlock in this kernel")


def our_cgroups() -> list[Path]:
    """Run cgroups this process made that still exist."""
    return [d for place in cgroup.places().values() for d in place.glob(f"grader-{os.getpid()}-*")]


@pytest.fixture(params=["landlock", "bwrap"])
def cgroup_mode(request, monkeypatch):
    if CGROUP_MISSING is not None:
        pytest.skip(f"no cgroup: {CGROUP_MISSING}")
    if request.param == "bwrap" and not confine.bwrap_works():
        pytest.skip("bubblewrap unavailable here")
    if request.param == "landlock" and landlock.abi() < 1:
        pytest.skip("no Landlock in this kernel")
    monkeypatch.setenv("GRADER_SANDBOX", request.param)
    assert "cgroup" in confine.plan().layers
    return request.param


def test_a_fork_bomb_stays_under_pids_max_and_the_cgroup_is_removed(
        cgroup_mode, fmnist_dir, session_cache, tiny_rubric):
    r = grade(SUBMISSIONS / "hostile_forks_many_processes.py", tiny_rubric, fmnist_dir, session_cache)
    iso = r["provenance"]["isolation"]
    assert "cgroup" in iso["layers"] and iso["cgroup"]["processes"] == 256, iso
    started = int(r["submission"]["output_tail"].split("started ")[1].split()[0])
    assert started < 256  # the worker's own threads count too; 400 were asked for
    assert our_cgroups() == []


def test_memory_beyond_the_cgroups_limit_is_out_of_memory(cgroup_mode, tmp_path, fmnist_dir,
                                                          session_cache, tiny_rubric):
    """4 GiB of shared memory, which RLIMIT_DATA does not count, under a 1 GiB budget."""
    text = tiny_rubric.read_text().replace("  time_limit_s:", "  memory_mb: 1024\n  time_limit_s:")
    r = grade(SUBMISSIONS / "hostile_fills_shared_memory.py", write_rubric(tmp_path, text=text),
              fmnist_dir, session_cache)
    assert r["provenance"]["isolation"]["cgroup"]["memory_mb"] == 1024
    assert r["failure"]["code"] == "out_of_memory", r["failure"]
    assert "FILLED" not in r["submission"]["output_tail"]
    assert our_cgroups() == []


@needs_cgroup
@needs_landlock
def test_the_cgroup_alone_kills_a_detached_process_at_the_end(monkeypatch, fmnist_dir, session_cache,
                                                               tiny_rubric):
    """With the other sweeps switched off, cgroup.kill (or the SIGKILL loop over
    cgroup.procs) still ends a process that detached and dropped its environment."""
    monkeypatch.setenv("GRADER_SANDBOX", "landlock")
    monkeypatch.setattr(confine, "kill_marked", lambda token: 0)
    monkeypatch.setattr(confine, "kill_leftovers", lambda live: 0)
    r = grade(SUBMISSIONS / "hostile_detaches_with_an_empty_environment.py", tiny_rubric, fmnist_dir,
              session_cache)
    left = processes_with(b"hostile-empty-env-writer")
    for pid in left:
        os.kill(pid, 9)
    assert r["status"] == "graded", r["failure"]
    assert left == []
    assert our_cgroups() == []


@needs_cgroup
def test_a_cgroup_the_child_cannot_join_fails_the_start_not_the_confinement(tmp_path):
    group = cgroup.create(16, None)
    fds = cgroup.join_fds(group)
    cgroup.close(fds[:1])  # as if the write failed: the child must not run outside it
    try:
        with pytest.raises(subprocess.SubprocessError):
            subprocess.Popen(["true"], preexec_fn=confine.preexec(confine.Limits(time_s=5, memory_mb=2048), None,
                                                                  cgroup_fds=fds))
    finally:
        cgroup.close(fds[1:])
        cgroup.kill(group)
        assert cgroup.remove(group)


@needs_cgroup
def test_the_cgroups_of_a_grader_that_was_killed_are_swept(tmp_path):
    """kill -9 of a grader runs no clean-up: the next grader removes its cgroups, and
    kills what was still in them."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    where = cgroup.places()
    made = [place / f"grader-{dead}-0badc0de" for place in where.values()]
    for folder in made:
        folder.mkdir()
    sleeper = subprocess.Popen(["sleep", "300"])
    (made[0] / "cgroup.procs").write_text(str(sleeper.pid))
    group = cgroup.create(16, None)
    try:
        assert [f for f in made if f.exists()] == []
        assert sleeper.wait(timeout=10) == -9
    finally:
        cgroup.kill(group)
        cgroup.remove(group)


def test_a_machine_without_cgroups_says_so(monkeypatch):
    monkeypatch.setattr(cgroup, "places", lambda: {})
    monkeypatch.setenv("GRADER_SANDBOX", "landlock")
    if landlock.abi() < 1:
        pytest.skip("no Landlock in this kernel")
    plan = confine.plan()
    assert "cgroup" not in plan.layers and "cgroup" in plan.missing
    iso = confine.describe(confine.Limits(time_s=5, memory_mb=2048), plan, "cpu")
    assert "cgroup" in iso["why"]
    assert "cgroup" in iso["lacks"]
    assert any(line.startswith("cgroup unavailable here") for line in weaknesses(iso))


@pytest.mark.parametrize("plan, abi, lacks", [
    (confine.Plan("bwrap", ("cgroup",)), 6, None),
    (confine.Plan("landlock", ("landlock", "seccomp", "nocaps")), 6, []),
    (confine.Plan("landlock", ("landlock", "nocaps"), ("seccomp",), (("seccomp", "no libseccomp"),)), 4,
     ["seccomp", "signals"]),
    (confine.Plan("landlock", ("landlock",), ("seccomp",)), 3, ["seccomp", "network", "signals"]),
    (confine.Plan("none", ("seccomp",)), 0, ["filesystem", "signals"]),
])
def test_what_a_confinement_lacked_is_recorded_as_codes_and_said_from_them(monkeypatch, plan, abi, lacks):
    """The sandbox records codes beside its words; the reports turn the codes into sentences
    and never read the words back (a bubblewrap run lacks nothing and records no codes)."""
    monkeypatch.setattr(landlock, "abi", lambda: abi)
    iso = confine.describe(confine.Limits(time_s=5, memory_mb=2048), plan, "cpu")
    assert iso.get("lacks") == lacks
    said = weaknesses(iso)
    assert len(said) == (0 if not lacks else 1 if "filesystem" in lacks else len(lacks))
    if lacks and "network" in lacks:
        assert any("network was not isolated" in line for line in said)
    # the words alone say nothing: only the codes do
    assert weaknesses({k: v for k, v in iso.items() if k != "lacks"}) == []


# uid allocation: plain files and flock, no root needed

@pytest.fixture
def uid_pool(tmp_path, monkeypatch):
    folder = tmp_path / "locks"
    monkeypatch.setattr(uids, "LOCK_DIR", folder)
    monkeypatch.setattr(uids, "_uids_running", lambda: set())
    monkeypatch.setenv("GRADER_UID_RANGE", "59990-59992")
    return folder


def test_two_reservations_never_share_a_uid(uid_pool):
    held = [uids.reserve() for _ in range(3)]
    assert len({r.uid for r in held}) == 3 and all(59990 <= r.uid <= 59992 for r in held)
    with pytest.raises(OSError, match="every uid"):
        uids.reserve()
    os.close(held[0].fd)  # released (as uids.release does once it has killed the uid's processes)
    assert uids.reserve().uid == held[0].uid


def test_threads_reserving_at_once_get_different_uids(uid_pool, monkeypatch):
    monkeypatch.setenv("GRADER_UID_RANGE", "59900-59999")
    got, lock = [], threading.Lock()

    def take():
        r = uids.reserve()
        with lock:
            got.append(r.uid)
    threads = [threading.Thread(target=take) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 20


def test_a_grader_that_exits_lets_go_of_its_uid(uid_pool, monkeypatch):
    monkeypatch.setenv("GRADER_UID_RANGE", "59990-59990")
    code = ("import sys; from pathlib import Path; from grader.sandbox import uids; "
            "uids.LOCK_DIR = Path(sys.argv[1]); uids._uids_running = lambda: set(); "
            "print(uids.reserve().uid, flush=True); sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", code, str(uid_pool)], cwd=REPO, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert other.stdout.readline().strip() == "59990"
    with pytest.raises(OSError):
        uids.reserve()  # held by the other grader
    other.communicate("")  # it exits
    assert uids.reserve().uid == 59990


def test_uids_are_taken_from_the_range_without_named_ones(monkeypatch):
    monkeypatch.setenv("GRADER_UID_RANGE", "0-2")
    assert uids.candidates() == [] or 0 not in uids.candidates()
    monkeypatch.setattr(uids, "_taken", lambda path: {59001})
    monkeypatch.setenv("GRADER_UID_RANGE", "59000-59002")
    assert uids.candidates() == [59000, 59002]
    monkeypatch.setenv("GRADER_UID_RANGE", "lots")
    with pytest.raises(ValueError, match="GRADER_UID_RANGE"):
        uids.candidates()


def test_a_uid_is_offered_only_where_other_users_can_run_the_graders_python():
    blocked = [uids.unreachable(p) for p in [Path(sys.executable).resolve(), *confine.interpreter_paths()]]
    blocked = [b for b in blocked if b is not None]
    reason = confine.uid_missing()
    if blocked:  # as here under /root (0700): the layer is missing, and the reason says where
        assert reason and str(blocked[0]) in reason and "system-wide Python" in reason
        assert "uid" not in confine.fallback_available() or not confine.fallback_available()["uid"]
    else:
        assert reason is None or "GRADER_UID_RANGE" in reason


# the uid layer end to end, with an interpreter other users can run

def _open_interpreter() -> Path | None:
    """A Python of this version that other users can start: a venv made from the
    system's, whose .pth adds this environment's packages (they must be readable too)."""
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    site = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    if not system.exists() or uids.unreachable(system) or any(uids.unreachable(p) for p in site):
        return None
    return system


UID_HOSTILE = '''
import os, sys
print("UID", os.getuid(), flush=True)
print([line.strip() for line in open("/proc/self/status") if line.startswith(("CapEff", "CapBnd"))])
for name, act in (("read secret", lambda: open({secret!r}).read()),
                  ("write outside", lambda: open({outside!r}, "w").write("x"))):
    try:
        act()
        print(name, "OK", flush=True)
    except OSError as e:
        print(name, "refused", e.errno, flush=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve("/bin/sleep", ["/bin/sleep", "987.654"], {{}})
    os._exit(0)
os.wait()


def build_model(info):
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))


EPOCHS = 1
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="a uid of its own is for a root grader's child")
@needs_landlock
def test_a_root_graders_child_runs_as_a_uid_of_its_own(tmp_path, fmnist_dir, session_cache, tiny_rubric):
    system = _open_interpreter()
    if system is None:
        pytest.skip("no Python other users can run here, or this environment's packages "
                    "are closed to them")
    open_dir = Path(tempfile.mkdtemp(prefix="uid-test-", dir="/tmp"))
    try:
        open_dir.chmod(0o755)
        venv = open_dir / "venv"
        subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next(venv.glob("lib/python*/site-packages"))
        adds = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
        (site / "project.pth").write_text(
            "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in adds) + "\n")
        secret = venv / "secret.txt"  # inside a folder its Landlock rules let it read
        secret.write_text("root only")
        secret.chmod(0o600)
        outside = open_dir / "forged.txt"
        sub = open_dir / "sub.py"
        sub.write_text(UID_HOSTILE.format(secret=str(secret), outside=str(outside)))
        scratch = open_dir / "tmp"
        scratch.mkdir(mode=0o755)
        code = ("import json, sys; from grader.grading import grade_submission; from grader.rubric "
                "import load_rubric; r = grade_submission(submission=sys.argv[1], rubric=load_rubric("
                "sys.argv[2]), data_dir=sys.argv[3], cache_dir=sys.argv[4], quick=True); "
                "print(json.dumps(r.dump(), default=str))")
        env = {**os.environ, "GRADER_SANDBOX": "landlock", "TMPDIR": str(scratch)}
        done = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(sub), str(tiny_rubric),
                               str(fmnist_dir), str(session_cache)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        import json
        r = json.loads(done.stdout.strip().splitlines()[-1])
        left = processes_with(b"987.654")
        for pid in left:
            os.kill(pid, 9)
        iso = r["provenance"]["isolation"]
        assert "uid" in iso["layers"], iso
        tail = r["submission"]["output_tail"]
        uid = int(tail.split("UID ")[1].split()[0])
        assert uid != 0 and str(uid) in iso["user"]
        assert "CapEff:\\t0000000000000000" in tail and "CapBnd:\\t0000000000000000" in tail, tail
        assert "read secret refused 13" in tail and "write outside refused" in tail, tail
        assert not outside.exists()
        assert r["status"] == "graded", r["failure"]
        assert left == []
        assert uid not in uids._uids_running()
    finally:
        import shutil
        shutil.rmtree(open_dir, ignore_errors=True)


@needs_cgroup
@needs_landlock
def test_a_grader_error_mid_run_still_gives_the_cgroup_back(monkeypatch, fmnist_dir, session_cache,
                                                            tiny_rubric):
    """The grader itself failing after the run's cgroup exists (here: starting the child)
    removes the cgroup and lets go of the uid, instead of leaving them to a later sweep."""
    from grader.sandbox import launch
    monkeypatch.setenv("GRADER_SANDBOX", "landlock")
    ended = []
    real_end = confine.end_run
    monkeypatch.setattr(confine, "end_run", lambda group, owner: (ended.append(group),
                                                                  real_end(group, owner)))

    def fail(*args, **kw):
        raise RuntimeError("the grader broke while starting the child")
    monkeypatch.setattr(launch, "_start", fail)
    with pytest.raises(RuntimeError, match="the grader broke"):  # the CLI reports it
        grade(SUBMISSIONS / "fails_output_shape.py", tiny_rubric, fmnist_dir, session_cache)
    assert ended and all(g is not None for g in ended)
    assert our_cgroups() == []
