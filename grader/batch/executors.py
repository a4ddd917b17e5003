"""Where a batch's submissions are graded: one small interface, three engines.

Each executor takes the jobs and yields (job, results) as gradings finish, in any order;
the driver (grader.batch.driver) alone writes the gradebook. A job is graded by `grade_job`, a
plain top-level function, so a Slurm array task or a Ray worker can unpickle and run it.

- local: a pool of N workers on this machine; each gets its own share of the CPU cores,
  or a GPU (several workers per GPU when models are small).
- slurm: a Slurm job array through submitit, one array task per submission, under
  Slurm's own memory and GPU limits (submitit's local executor runs it without Slurm).
- ray: a Ray task per submission asking for a GPU or a fraction of one
  (`pip install ray`; RAY_ADDRESS picks a cluster, else a local instance starts).

`prepare` checks what the engine can do (Slurm's partition and accounting, Ray's connection
and its auth token) before the baseline's calibration, which takes minutes; a grading
sizes its threads by what its task was allotted (confine.usable_cpus), and takes its
student's lock so two gradings of one student (an orphaned array task and a rerun) never
write the same feedback folder at once.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

from grader.sandbox import confine
from grader.batch import slurm
from grader.batch.slurm import Refused

EXECUTORS = ("local", "slurm", "ray")


@dataclass(frozen=True)
class Job:
    student: str
    path: Path
    content_hash: str
    rubric: object              # grader.rubric.Rubric (picklable, frozen)
    data_dir: Path | None
    cache_dir: Path
    quick: bool
    device: str = "auto"
    cpus: tuple[int, ...] | None = None
    gpu_share: float = 1.0      # of the GPU's memory, when several gradings share one GPU
    artifacts: Path | None = None  # the student's feedback folder: weights, predictions, gallery
    allow_unconfined: bool = False  # official grades without file-system confinement


def grade_job(job: Job) -> dict:
    """Grade one submission into results.json's form (what crosses to the driver, from a
    process, a Slurm task or a Ray worker); a grader failure (not the student's fault)
    comes back as {"grader_error": ...} so the batch goes on and a later run retries it."""
    from grader.grading import grade_submission
    try:
        with contextlib.ExitStack() as held:
            if job.artifacts is not None:
                held.enter_context(student_lock(job.artifacts))
            cpus, share = job.cpus, confine.Cpus(len(job.cpus or ()), "worker share",
                                                    "the batch worker's share of the cores")
            if cpus is None and job.device.startswith(("auto", "cpu")):
                # a Slurm or Ray task: as many cores as it was allotted, disjoint from the
                # other gradings on the node where the allotment did not narrow the mask
                share = confine.usable_cpus()
                cpus = claim_cores(share.count, held)
            results = grade_submission(submission=job.path, rubric=job.rubric, data_dir=job.data_dir,
                                       quick=job.quick, device=job.device, cache_dir=job.cache_dir,
                                       mode="official", cpus=cpus, gpu_share=job.gpu_share,
                                       artifacts=job.artifacts, allow_unconfined=job.allow_unconfined)
            if cpus:
                results.provenance.cpus = share.record(cpus)
            return results.dump()
    except Exception as e:  # noqa: BLE001 - reported per submission, never stops the batch
        return {"grader_error": f"{type(e).__name__}: {e}"}


@contextlib.contextmanager
def student_lock(artifacts: Path):
    """Held while one student's feedback folder is written: OUT/.locks/<student>.lock,
    flock()ed (released by the kernel when a holder dies, kill -9 included)."""
    folder = Path(artifacts).parent.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{Path(artifacts).name}.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def claim_cores(n: int, held: contextlib.ExitStack,
                folder: Path | None = None) -> tuple[int, ...]:
    """n cores of this process's mask, those no other grading on this node holds first
    (a lock file per core, kept open by `held`). Ray never narrows a task's mask, nor Slurm
    without task/affinity: without this, two tasks side by side pin to the same cores."""
    cores = confine.affinity_cores()
    folder = folder or Path(os.environ.get("TMPDIR", "/tmp")) / f"grader-cores-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    mine: list[int] = []
    for core in cores:
        if len(mine) == n:
            break
        f = held.enter_context(open(folder / f"{core}.lock", "a+"))
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            mine.append(core)
        except OSError:
            continue
    # all taken (more tasks than cores): share the first ones rather than wait
    mine += [c for c in cores if c not in mine][:max(0, n - len(mine))]
    return tuple(sorted(mine[:max(1, n)]))


def worker_slots(workers: int, device: str) -> list[dict]:
    """What each local worker gets: a GPU (round robin, its memory split between the
    workers on it) or a disjoint share of the cores."""
    import torch
    if device in ("auto", "cuda") and torch.cuda.is_available():
        gpus = torch.cuda.device_count()
        per_gpu = -(-workers // gpus)
        return [{"device": f"cuda:{k % gpus}", "cpus": None, "gpu_share": 1 / per_gpu}
                for k in range(workers)]
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cores:
        return [{"device": "cpu", "cpus": None, "gpu_share": 1.0} for _ in range(workers)]
    share = max(1, len(cores) // workers)
    return [{"device": "cpu", "cpus": tuple(cores[(k * share) % len(cores):][:share]),
             "gpu_share": 1.0} for k in range(workers)]


def run_local(jobs: list[Job], workers: int, device: str = "auto",
              on_start: Callable[[Job], None] = lambda job: None) -> Iterator[tuple[Job, dict]]:
    """N threads, each driving one sandboxed grading at a time in its own slot; the heavy
    work happens in the child processes the gradings start."""
    todo: queue.Queue = queue.Queue()
    for job in jobs:
        todo.put(job)
    done: queue.Queue = queue.Queue()

    def worker(slot: dict):
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            job = replace(job, device=slot["device"], cpus=slot["cpus"], gpu_share=slot["gpu_share"])
            on_start(job)
            done.put((job, grade_job(job)))

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True)
               for slot in worker_slots(max(1, min(workers, len(jobs))), device)]
    for t in threads:
        t.start()
    for _ in jobs:
        yield done.get()


def run_slurm(jobs: list[Job], folder: Path, *, local: bool = False, parallel: int = 4,
              partition: str | None = None, gpus_per_task: int = 0, mem_mb: int = 8192,
              cpus_per_task: int = 1, timeout_min: int = 120, poll_s: float = 2.0,
              accounting: bool = False, lost_after_s: float = slurm.LOST_AFTER_S,
              note: Callable[[str], None] = lambda message: None) -> Iterator[tuple[Job, dict]]:
    """A Slurm job array via submitit; `local` uses submitit's LocalExecutor (no Slurm).
    On Slurm the tasks an earlier, killed run queued (OUT/slurm/tasks.json) are adopted
    when their submission is unchanged, cancelled otherwise, and followed through squeue
    and their result files (grader.batch.slurm), sacct only saying why a task was lost."""
    import submitit
    if local:
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=timeout_min)
        yield from _follow_handles(list(zip(jobs, executor.map_array(grade_job, jobs))), poll_s)
        return
    record, adopted, todo = _adopt(jobs, folder, note)
    if todo:
        executor = submitit.AutoExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=timeout_min, slurm_mem=f"{mem_mb}M",
                                   cpus_per_task=cpus_per_task, gpus_per_node=gpus_per_task,
                                   tasks_per_node=1, slurm_array_parallelism=parallel,
                                   **({"slurm_partition": partition} if partition else {}))
        for job, handle in zip(todo, executor.map_array(grade_job, todo)):
            adopted[handle.job_id] = job
            record[job.student] = {"job_id": handle.job_id, "key": _key(job)}
        slurm.save_record(folder, record)  # at once: a driver killed from here on is resumable
        arrays = sorted({record[j.student]["job_id"].split("_")[0] for j in todo})
        note(f"queued {len(todo)} array task(s) in Slurm job {', '.join(arrays)}")
    for job, result in slurm.follow(adopted, folder, with_accounting=accounting,
                                    lost_after_s=lost_after_s, poll_s=poll_s):
        yield job, result
        # the driver has recorded it by now: a later run (--force included) must not adopt it
        record.pop(job.student, None)
        slurm.save_record(folder, record)


def _key(job: Job) -> str:
    return f"{job.content_hash}:{job.rubric.digest()}:{int(job.quick)}"


def _adopt(jobs: list[Job], folder: Path, note) -> tuple[dict, dict, list[Job]]:
    """Sort an earlier run's recorded tasks: those of an unchanged submission are adopted
    (finished: their result is read; queued or running: followed), the others still in the
    queue are cancelled, so no student is graded twice nor by two tasks at once.
    Returns (the new record, job id -> Job to follow, the jobs to queue)."""
    prior, by_student = slurm.load_record(folder), {j.student: j for j in jobs}
    if not prior:
        return {}, {}, list(jobs)
    states = slurm.queued() or {}
    record, adopted, stale = {}, {}, []
    for student, task in prior.items():
        job, job_id = by_student.get(student), task["job_id"]
        alive, done = job_id in states, slurm.result_file(folder, job_id).exists()
        if job is not None and task.get("key") == _key(job):
            usable = alive
            if done:
                try:
                    usable = "grader_error" not in slurm.read_result(slurm.result_file(folder, job_id))
                except Exception:  # noqa: BLE001 - unreadable: grade it again
                    usable = False
            if usable:
                adopted[job_id], record[student] = job, task
                continue
        if alive:
            stale.append(job_id)
    if stale:
        note(f"cancelling {len(stale)} task(s) an earlier run left queued for submissions that "
             f"changed or are graded already: {', '.join(sorted(stale))}")
        slurm.cancel(stale)
    if adopted:
        note(f"adopting {len(adopted)} task(s) an earlier run queued: {', '.join(sorted(adopted))}")
    taken = {j.student for j in adopted.values()}
    return record, adopted, [j for j in jobs if j.student not in taken]


def _follow_handles(submitted, poll_s: float) -> Iterator[tuple[Job, dict]]:
    while submitted:
        waiting = []
        for job, handle in submitted:
            if not handle.done():
                waiting.append((job, handle))
                continue
            try:
                yield job, handle.result()
            except Exception as e:  # noqa: BLE001 - the task died
                yield job, {"grader_error": f"array task failed: {type(e).__name__}: {e}"}
        submitted = waiting
        if submitted:
            time.sleep(poll_s)


RAY_AUTH_HELP = ("set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the cluster's token (`ray "
                 "get-auth-token` on its head prints it) before `grade batch`")


def connect_ray(address: str | None):
    """Connect to Ray before anything trains: a cluster that refuses this driver (token
    authentication, a wrong address, another Ray version) is said in one line, with the
    exit status of a grader error, instead of after the baseline's calibration."""
    try:
        import ray
    except ImportError:
        raise Refused("--executor ray needs Ray: pip install 'tinycnn-grader[ray]'") from None
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    import tempfile
    # Ray's core logs a refused token only on the process's stderr, once a second while it
    # retries (the exception says "Failed to connect"): read it there, keep it off the screen
    # (a local instance is started instead, its daemons inheriting our stderr: not there)
    with tempfile.TemporaryFile(mode="w+") as log:
        saved = os.dup(2)
        if address:
            os.dup2(log.fileno(), 2)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR")
            failure = None
        except Exception as e:  # noqa: BLE001 - whatever Ray raises, the batch cannot start
            failure = e
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        said = log.read()
    if failure is None:
        return ray
    text = " ".join(str(failure).split())
    if "InvalidAuthToken" in said or "Unauthenticated" in said or "auth" in \
            f"{type(failure).__name__} {text}".lower():
        mode = os.environ.get("RAY_AUTH_MODE", "unset")
        token = "set" if os.environ.get("RAY_AUTH_TOKEN") else "unset"
        raise Refused(f"--executor ray: the Ray cluster at {address} refused this driver's "
                      f"token (RAY_AUTH_MODE {mode}, RAY_AUTH_TOKEN {token}): "
                      f"{RAY_AUTH_HELP}", code=4) from None
    raise Refused(f"--executor ray: could not connect to Ray at {address or 'a new local instance'}"
                  f": {type(failure).__name__}: {text[:300]}", code=4) from None


def run_ray(jobs: list[Job], gpus_per_task: float = 0.0, cpus_per_task: float = 1.0,
            address: str | None = None) -> Iterator[tuple[Job, dict]]:
    """A Ray task per submission; Ray schedules them onto the cluster's GPUs and CPUs, and
    each grading sizes its threads by the CPUs Ray assigned it."""
    ray = connect_ray(address)
    task = ray.remote(num_gpus=gpus_per_task, num_cpus=cpus_per_task, max_retries=1)(grade_job)
    share = gpus_per_task if 0 < gpus_per_task < 1 else 1.0
    pending = {task.remote(replace(job, gpu_share=share)): job for job in jobs}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            job = pending.pop(ref)
            try:
                yield job, ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a worker lost or killed
                yield job, {"grader_error": f"Ray task failed: {type(e).__name__}: {e}"}


@dataclass(frozen=True)
class Plan:
    """What `prepare` found the engine can do, for the driver."""
    cpus_per_task: int
    slurm: slurm.Request | None = None
    accounting: bool = False
    notes: tuple[str, ...] = ()


def prepare(executor: str, *, rubric, cpus_per_task: int | None = None,
            slurm_mem: str | None = None, partition: str | None = None,
            gpus_per_task: float = 0) -> Plan:
    """Before the calibration: refuse (Refused) what the engine cannot run."""
    if executor == "slurm":
        offered = slurm.nodes(partition)
        cpus = cpus_per_task or min(4, max((c for _, c in offered), default=1))
        req = slurm.request(rubric, slurm_mem, cpus, partition, int(gpus_per_task))
        slurm.check(req, offered)
        acct = slurm.accounting()
        notes = [f"Slurm: each task asks for {req.mem_mb} MiB ({req.mem_from}) and {req.cpus} "
                 "CPU(s)"]
        if not acct:
            notes.append("Slurm accounting is off (sacct fails): task states come from squeue "
                         f"and the result files; a task gone from the queue without a result "
                         f"is a grader error after {slurm.LOST_AFTER_S:.0f} s")
        return Plan(cpus_per_task=req.cpus, slurm=req, accounting=acct, notes=tuple(notes))
    if executor == "ray":
        cpus = cpus_per_task
        if os.environ.get("RAY_ADDRESS"):  # an outside cluster: connect now, not after minutes
            ray = connect_ray(None)
            cpus = cpus or min(4, max((int(n.get("Resources", {}).get("CPU", 1))
                                       for n in ray.nodes() if n.get("Alive")), default=1))
        cpus = cpus or min(4, len(confine.affinity_cores()))
        return Plan(cpus_per_task=cpus, notes=(f"Ray: each task asks for {cpus} CPU(s)",))
    return Plan(cpus_per_task=cpus_per_task or 1)
