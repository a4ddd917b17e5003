"""Run one grading job in a child process and collect what it returns.

The parent never imports student code. The child runs confined (grader.sandbox.confine), in a
fresh working folder, with a trimmed environment and a wall-clock limit; when it ends,
everything it started is killed before its result is read. Its time is judged on the CPU it
used and on the wall clock less the time the machine kept it waiting (grader.sandbox.usage),
so a busy machine does not fail it. The result file is loaded
with `torch.load(weights_only=True)`, which accepts tensors and plain containers only.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from grader.failures import HINTS, failure_dict
from grader.i18n import ENV, _, current
from grader.sandbox import confine, forkserver, usage
from grader.sandbox.confine import Limits
from grader.sandbox.protocol import REQUEST, ChildResult, JobRequest

POLL_S = 0.1
SAMPLE_S = 1.0  # how often the usage of a run without a cgroup is sampled from /proc
# The child's own start-up (imports, CUDA context) before it touches the submission. It
# is not charged to the submission's time limit, but it is limited too.
STARTUP_S = 180
LOG_TAIL_CHARS = 4000
RESULT_BYTES = 256 * 2**20     # weights of a model within any budget, and test logits
EVENTS_BYTES = 64 * 2**20      # the child's progress events, in all
MAX_EVENT_BYTES = 2**20        # one event
# Variables the child may inherit; everything else (tokens, credentials) stays behind.
ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "CUDA_VISIBLE_DEVICES",
                   "VIRTUAL_ENV", "SYSTEMROOT")
# glibc gives each large tensor freed in a training step back to the kernel and faults it in
# again on the next step: on this 2-core VM, 1.1 million page faults in 150 TinyCNN steps
# (CIFAR-10, batch 128), a fifth of their time, and worse inside a memory cgroup and on VMs
# that hand freed pages back to their host. With blocks under 32 MiB (glibc's most) from the
# heap and freed memory kept there: 200 faults, 18% less time (bench/compute_floor.py), peak
# memory within 3% (three models). Both settings are needed; either alone does nothing or
# worse. Read by glibc at a process's start (the fork server's, for its forks); other C
# libraries ignore it.
ALLOCATOR_ENV = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:"
                                   "glibc.malloc.trim_threshold=4294967296"}
# OpenMP's threads spin a tenth as long as libgomp's default (300,000 turns) before they
# sleep while waiting for work. On a busy machine a spinning thread burns the CPU its
# descheduled peer needs; sleeping at once costs the quick hand-offs of a quiet one. 60
# TinyCNN steps, 2 threads, 2-core VM (median of 3, seconds wall / CPU): quiet, default
# 3.3 / 6.5, this 3.5 / 6.6, passive 3.9 / 6.4; beside two busy processes, default 19.2 /
# 13.3, this 13.8 / 7.9, passive 12.9 / 6.9. CPU time, on which the time limit is judged
# (grader.scoring.timelimit), so stays near what the work needs: with 2 threads on one
# core, 0.50 s where passive threads use 0.23 s and libgomp's default 1.45 s.
WAIT_ENV = {"GOMP_SPINCOUNT": "30000"}
# torch.compile as a no-op in the child, wherever the student calls it (a decorated
# function in forward, model.compile()): on a CPU inductor runs a C++ compiler before the
# first batch (17 s for a small CNN on one core here; under the sandbox g++ writing its
# precompiled header exceeds the file-size limit), and compiling changes the speed, not
# the results. The worker unwraps a compiled model and says so (worker._uncompiled).
NO_COMPILE_ENV = {"TORCH_COMPILE_DISABLE": "1"}


@dataclass
class _Workers:
    """The workers running now, in every thread of this grader (a batch runs several):
    the leftover sweep of one run must not take another run's worker for a leftover."""
    pids: set[int]
    lock: threading.Lock


RUNNING = _Workers(set(), threading.Lock())


@dataclass
class ChildOutcome:
    result: ChildResult     # the child's report, or a synthesised failure
    returncode: int | None
    wall_s: float
    log_tail: str
    isolation: dict         # the protections that were in force
    startup_s: float | None = None  # the child's start-up, not charged to the time limit
    used: usage.Usage | None = None  # CPU time and waiting for a CPU, after the start-up


def run_job(job_dir: Path, request: JobRequest, *, files: dict[str, Path], limits: Limits,
            show: list[Path], on_event: Callable[[dict], None] = lambda e: None,
            plan: confine.Plan | None = None) -> ChildOutcome:
    """Run `request` in a confined child. `files` are the inputs it may read, by name: each
    is shown at JOB/inputs/ (the request says where); `show` are the other paths it needs,
    read-only (the submission, the reference). `plan`: the grading's confinement (decided
    once per grading, grader.grading.context); by default this machine's."""
    # Absolute paths throughout: the child starts in its own working folder, and
    # bubblewrap binds a path at the same place inside the sandbox.
    job_dir = Path(job_dir).resolve()
    seen = {name: job_dir / "inputs" / f"{name}{Path(src).suffix}" for name, src in files.items()}
    inputs = {Path(files[name]).resolve(): path for name, path in seen.items()}  # file -> where it shows
    show = [Path(p).resolve() for p in show]
    request = replace(request, inputs={name: str(path) for name, path in seen.items()},
                      submission=str(Path(request.submission).resolve()),
                      reference=str(Path(request.reference).resolve()))
    device = request.device
    work = job_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    env = _child_env(HOME=str(work), TMPDIR=str(work), OMP_NUM_THREADS=str(limits.threads),
                     MKL_NUM_THREADS=str(limits.threads), GRADER_JOB=token)
    env[ENV] = current()  # the child writes its messages in the run's language
    plan = plan or confine.plan()
    sandboxed = plan.sandbox == "bwrap"
    plan, owner = confine.own_uid(plan, job_dir, show)  # a root grader's child: a uid of its own
    group = proc = None
    ended = False
    try:  # whatever goes wrong here, the run's cgroup and uid are given back
        if not sandboxed:
            confine.guard_grader()
            shared_before = confine.shared_entries()
            request = replace(request, layers=list(plan.layers), rules=confine.child_rules(
                job_dir=job_dir, show=show, inputs=list(inputs), owner=owner))
        request.write(job_dir)
        command = [sys.executable, "-m", "grader.sandbox.worker", str(job_dir)]
        for src, dst in inputs.items():
            dst.parent.mkdir(parents=True, exist_ok=True)
            if sandboxed:
                dst.touch()  # the mount point; bubblewrap shows the real file there
            else:
                confine.show_input(src, dst, owner)
        if sandboxed:
            command = confine.wrap(command, job_dir=job_dir, inputs=inputs,
                                   show=confine.interpreter_paths() + show)
        log_path = job_dir / "output.log"
        events_path = job_dir / "events.jsonl"
        events_path.touch()
        if owner is not None:
            confine.hand_over(job_dir, owner, [events_path, job_dir / REQUEST])
        server = None if sandboxed else _fork_server()  # its one-off start-up is not this run's
        start = time.monotonic()
        ready_at: list[float] = []  # when the child finished its start-up; the clock starts then
        partial = ChildResult()  # facts the child shared before it ended, however it ended

        def relay(event):
            if event.get("event") == "ready":
                ready_at[:] = ready_at or [time.monotonic()]
            elif event.get("event") == "state":
                try:
                    partial.update(event.get("data"))
                except ValueError:  # not the worker's: student code wrote to the events file
                    pass
            else:
                on_event(event)

        def out_of_time() -> str | None:
            """Which limit the run is past: "startup", "wall" (the wall clock since it was
            ready, less its waiting for a CPU), "cpu" (its CPU time), or None."""
            if not ready_at:
                return "startup" if time.monotonic() - start > STARTUP_S else None
            used = meter.since_ready()
            # waiting is credited, but never below the CPU it used spread over its cores: a
            # run that keeps more of its own processes busy than it has cores waits on
            # itself, and is charged for every second it kept them busy
            elapsed = time.monotonic() - ready_at[0]
            if max(elapsed - used.waited_s, used.cpu_s / limits.threads) > limits.time_s:
                return "wall"
            return "cpu" if limits.cpu_s is not None and used.cpu_s > limits.cpu_s else None

        cpus = set(limits.cpus or ()) or confine.cpu_set(limits.threads)
        # The parent holds the log and the events open from before the child starts and reads
        # them through these descriptors only: whatever the child later puts at those paths
        # (a link to the grader's own files, a FIFO, /dev/zero) is never opened by the parent.
        with open(log_path, "w+b") as log, open(events_path, "rb") as events_file:
            events = _Lines(events_file)
            group = confine.start_cgroup(plan, limits)
            proc = _start(command, cwd=work, env=env, log=log, limits=limits, cpus=cpus,
                          sandboxed=sandboxed, group=group, server=server, job_dir=job_dir)
            meter = usage.Meter(group.dirs if group is not None else [], proc.pid, SAMPLE_S)
            timed_out = None
            while proc.poll() is None:
                _relay(events, relay)
                if ready_at and not meter.started:
                    meter.start()
                timed_out = out_of_time()
                if timed_out:
                    break
                time.sleep(POLL_S)
            _kill_group(proc)
            used = meter.since_ready(final=True) if meter.started else None
            oom = confine.out_of_memory(group)  # read before end_run removes the cgroup
            ended = True
            confine.end_run(group, owner)  # everything in its cgroup and of its uid
            with RUNNING.lock:
                RUNNING.pids.discard(proc.pid)
            confine.kill_marked(token)
            if not sandboxed:  # bubblewrap's PID namespace ends them all by itself
                with RUNNING.lock:  # no worker starts while the sweep looks
                    confine.kill_leftovers(RUNNING.pids)
                confine.remove_left_entries(shared_before, owner.uid if owner else os.geteuid())
            _relay(events, relay)
            tail = _tail(log)
    finally:
        if not ended:
            if proc is not None:
                _kill_group(proc)
                with RUNNING.lock:
                    RUNNING.pids.discard(proc.pid)
            confine.end_run(group, owner)
    wall = time.monotonic() - start
    result, unreadable = _load_result(job_dir / "result.pt")
    startup = (ready_at[0] - start) if ready_at else None
    result = _verdict(result, partial, unreadable, timed_out=timed_out, oom=oom, limits=limits,
                      returncode=proc.returncode, tail=tail)
    isolation = confine.describe(limits, plan, device, group, owner)
    isolation["child"] = ("forked from the pre-imported fork server"
                          if isinstance(proc, forkserver.Forked) else "a fresh Python")
    return ChildOutcome(result, proc.returncode, wall, tail, isolation, startup, used)


def _verdict(result: ChildResult | None, partial: ChildResult, unreadable: str | None, *,
             timed_out: str | None, oom: bool, limits: Limits, returncode: int | None,
             tail: str) -> ChildResult:
    """What the run ended as: the child's own result, unless a limit stopped it, the kernel
    killed it for memory, its result was not the worker's, or it died without one; the
    facts it shared before (`partial`) are kept with the failure."""
    if timed_out == "startup":  # the grader's side: say so, charge nothing to the student
        result = ChildResult(failure=failure_dict(
            "grader_error", f"the grader's child process did not start within {STARTUP_S} s "
            "(the machine may be overloaded)"))
    elif timed_out == "wall":
        result = _keep_facts(result or partial, failure_dict(
            "timeout", _("the run was stopped after {seconds} s").format(seconds=f"{limits.time_s:.0f}"),
            expected={"wall_s": round(limits.time_s, 1)}, hint=HINTS["timeout"]))
    elif timed_out == "cpu":
        result = _keep_facts(result or partial, failure_dict(
            "timeout", _("the run was stopped after {seconds} s of CPU time").format(
                seconds=f"{limits.cpu_s:.0f}"),
            expected={"cpu_s": round(limits.cpu_s, 1)}, hint=HINTS["timeout"]))
    elif oom and (result is None or result.status == "failed"):
        # the kernel killed the child, or a process it needed, at its cgroup's memory limit
        result = _keep_facts(result or partial, failure_dict(
            "out_of_memory", _("the process went over the memory limit of {mb} MiB and was "
                               "killed").format(mb=limits.memory_mb), hint=HINTS["out_of_memory"]))
    elif unreadable:
        result = _keep_facts(partial, failure_dict(
            "tampered_result", _("the run's result is not what the grader's child writes "
                                 "({why}): the run is not graded").format(why=unreadable),
            hint=_("Leave the grader's files alone: its job folder holds only what the grader "
                   "itself writes there.")))
    elif result is None:
        result = _keep_facts(partial, _death_reason(returncode, tail))
    return result


def _start(command, *, cwd, env, log, limits, cpus, sandboxed, group, server, job_dir):
    """Start the child in the run's cgroup `group` (None where there is none): forked from
    `server` where there is one, else a fresh process registered as running."""
    from grader.sandbox import cgroup
    fds = cgroup.join_fds(group) if group is not None else []
    try:
        if server is not None:  # not the grader's child: no sweep takes it for a leftover
            try:
                return server.fork(job_dir=job_dir, cwd=cwd, env=env, fds=[log.fileno(), *fds],
                                   preexec=confine.preexec_spec(limits, cpus))
            except forkserver.ServerGone:  # this run execs; the next starts a new server
                pass
        with RUNNING.lock:  # registered before the sweep of another run can see it
            proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=confine.preexec(limits, cpus, not sandboxed, fds))
            RUNNING.pids.add(proc.pid)
        return proc
    finally:
        cgroup.close(fds)


class _Lines:
    """Whole lines from a file the child appends to, read through the parent's descriptor,
    at most EVENTS_BYTES in all (the rest is ignored: progress, not results)."""
    def __init__(self, f):
        self.f, self.pending, self.read = f, b"", 0

    def __iter__(self):
        chunk = self.f.read(max(0, EVENTS_BYTES - self.read)) or b""
        self.read += len(chunk)
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        if len(self.pending) > MAX_EVENT_BYTES:  # no event is that long: drop it
            self.pending = b""
        return iter(lines)


def _relay(events: _Lines, on_event):
    for line in events:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            on_event(event)


def _kill_group(proc):
    """End the child and anything it started, before any result is read."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.kill()  # a fork killed before its setsid has no group yet
    proc.wait()


def _fork_server() -> forkserver.Server | None:
    """This thread's fork server where runs may be forked from one (not under bubblewrap,
    which needs an exec); None, and an exec per run, where it cannot start."""
    global _FORK_FAILED
    if _FORK_FAILED or not forkserver.enabled():
        return None
    # No thread pools in the server: a fork keeps only the thread that forked. Each
    # child sets its own thread count (worker.run).
    env = _child_env(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    try:
        return forkserver.server(env, STARTUP_S)
    except forkserver.ServerGone as e:
        _FORK_FAILED = True
        print(f"note: each run starts its own Python ({e})", file=sys.stderr)
        return None


_FORK_FAILED = False


def _child_env(**settings: str) -> dict[str, str]:
    """What a child's environment starts from, exec'd or the fork server alike: the
    variables it may inherit, the interpreter's and the allocator's settings, `settings`."""
    env = {k: os.environ[k] for k in ENV_PASSTHROUGH if k in os.environ}
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", **ALLOCATOR_ENV, **WAIT_ENV,
               **NO_COMPILE_ENV, **settings)
    return env


def _load_result(path: Path) -> tuple[ChildResult | None, str | None]:
    """The child's result.pt, never trusted by path: opened without following a link and
    without blocking on a FIFO, a regular file only, at most RESULT_BYTES, then loaded
    with weights_only (tensors and plain containers) and parsed (ChildResult.parse).
    Returns (the result, None); (None, None) where there is none to read (the child died
    first); (None, why) where what is there is not a ChildResult."""
    import io

    import torch
    data = read_regular(path, RESULT_BYTES)
    if data is None:
        return None, None
    try:
        return ChildResult.parse(torch.load(io.BytesIO(data), weights_only=True,
                                            map_location="cpu")), None
    except ValueError as e:
        return None, str(e)
    except Exception:
        return None, None


def read_regular(path: Path, limit: int) -> bytes | None:
    """A file the child could have written: its bytes if it is a regular file of at most
    `limit` bytes, else None. O_NOFOLLOW refuses a link, O_NONBLOCK keeps a FIFO from
    hanging the open, fstat then checks what was actually opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        data = f.read(limit + 1)
    return data if len(data) <= limit else None


def _keep_facts(result: ChildResult, failure: dict) -> ChildResult:
    """A failure that arrives after inspection keeps the inspection (partial credit)."""
    return replace(result, status="failed", failure=failure, test_logits=None)


def _death_reason(returncode: int | None, tail: str) -> dict:
    if returncode is not None and returncode < 0:
        sig = signal.Signals(-returncode).name
        if sig == "SIGXFSZ":
            return failure_dict("output_limit", _("the submission wrote more than the output "
                                                  "limit allows and was stopped"),
                                hint=HINTS["output_limit"])
        if sig == "SIGKILL":  # nobody else sends it: the kernel's out-of-memory killer
            return failure_dict("killed", _("the process was killed (SIGKILL); this is usually "
                                            "the system running out of memory"),
                                hint=HINTS["out_of_memory"])
        return failure_dict("killed", _("the process was killed by {signal}").format(signal=sig))
    return failure_dict("killed", _("the process exited with status {status} before returning a "
                                    "result").format(status=returncode), got=tail[-800:] or None,
                        hint=HINTS["exit"])


def _tail(log) -> str:
    """The end of the child's output, from the parent's own descriptor."""
    log.flush()
    size = os.fstat(log.fileno()).st_size
    log.seek(max(0, size - LOG_TAIL_CHARS))
    return log.read(LOG_TAIL_CHARS).decode(errors="replace")
