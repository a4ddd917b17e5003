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
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

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
    """Grade one submission; a grader failure (not the student's fault) comes back as
    {"grader_error": ...} so the batch goes on and a later run retries it."""
    from grader.grading import grade_submission
    try:
        return grade_submission(submission=job.path, rubric=job.rubric, data_dir=job.data_dir,
                                quick=job.quick, device=job.device, cache_dir=job.cache_dir,
                                mode="official", cpus=job.cpus, gpu_share=job.gpu_share,
                                artifacts=job.artifacts, allow_unconfined=job.allow_unconfined)
    except Exception as e:  # noqa: BLE001 - reported per submission, never stops the batch
        return {"grader_error": f"{type(e).__name__}: {e}"}


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
              partition: str | None = None, gpus_per_task: int = 0, mem_gb: int = 16,
              timeout_min: int = 120, poll_s: float = 2.0) -> Iterator[tuple[Job, dict]]:
    """A Slurm job array via submitit; `local` uses submitit's LocalExecutor (no Slurm)."""
    import submitit
    if local:
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=timeout_min)
    else:
        executor = submitit.AutoExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=timeout_min, mem_gb=mem_gb,
                                   gpus_per_node=gpus_per_task, tasks_per_node=1,
                                   slurm_array_parallelism=parallel,
                                   **({"slurm_partition": partition} if partition else {}))
    submitted = list(zip(jobs, executor.map_array(grade_job, jobs)))
    while submitted:
        waiting = []
        for job, handle in submitted:
            if not handle.done():
                waiting.append((job, handle))
                continue
            try:
                yield job, handle.result()
            except Exception as e:  # noqa: BLE001 - the task died (Slurm killed it, node lost)
                yield job, {"grader_error": f"array task failed: {type(e).__name__}: {e}"}
        submitted = waiting
        if submitted:
            time.sleep(poll_s)


def run_ray(jobs: list[Job], gpus_per_task: float = 0.0, cpus_per_task: float = 1.0,
            address: str | None = None) -> Iterator[tuple[Job, dict]]:
    """A Ray task per submission; Ray schedules them onto the cluster's GPUs and CPUs."""
    try:
        import ray
    except ImportError:
        raise SystemExit("--executor ray needs Ray: pip install 'tinycnn-grader[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False)
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
