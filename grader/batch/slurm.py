"""What `grade batch --executor slurm` asks of Slurm, checked before the calibration, and how
it follows its array tasks without trusting sacct.

submitit reads a job's state through sacct; a cluster without accounting (no slurmdbd) makes
it print "Bypassing sacct error" and poll for ever after a task is cancelled. Here a task is
followed by its result file (submitit writes it on the shared folder) and squeue: a task that
is neither queued nor done for `lost_after_s` is a grader error for its student, never a hang.
sacct, where accounting works, only says why.

The tasks of a run are recorded in OUT/slurm/tasks.json as they are queued, so a rerun after
the driver was killed adopts them (their results, or their place in the queue) or cancels the
ones whose submission changed, instead of queuing the same students a second time.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# the grader's own process beside the training child: torch, the data set, the reports
HEADROOM_MB = 2048
LOST_AFTER_S = float(os.environ.get("GRADER_SLURM_LOST_S", "120"))
RECORD = "tasks.json"


class Refused(Exception):
    """The cluster cannot run the batch as asked; said before anything trains."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Request:
    mem_mb: int
    cpus: int
    partition: str | None = None
    gpus: int = 0
    mem_from: str = ""   # where mem_mb came from, for the refusal


def parse_mem(text: str) -> int:
    """'8G', '8000M', '8000' (MiB, as sbatch --mem reads a bare number) -> MiB."""
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)[bB]?\s*", str(text))
    if not m:
        raise Refused(f"--slurm-mem {text!r}: give MiB (8000) or a unit (8000M, 8G)")
    n, unit = int(m.group(1)), m.group(2).upper()
    return {"K": max(1, n // 1024), "": n, "M": n, "G": n * 1024, "T": n * 1024 * 1024}[unit]


def request(rubric, mem: str | None, cpus: int | None, partition: str | None,
            gpus: int = 0) -> Request:
    if mem:
        mem_mb, why = parse_mem(mem), f"--slurm-mem {mem}"
    else:
        mem_mb = rubric.budget.memory_mb + HEADROOM_MB
        why = f"the rubric's budget.memory_mb {rubric.budget.memory_mb} + {HEADROOM_MB} MiB headroom"
    return Request(mem_mb=mem_mb, cpus=max(1, int(cpus or 1)), partition=partition, gpus=gpus,
                   mem_from=why)


def _run(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def accounting() -> bool:
    """Whether sacct answers: without slurmdbd it fails ("Slurm accounting storage is
    disabled") and job states come from squeue alone."""
    try:
        return _run(["sacct", "-n", "-X", "-j", "1", "-o", "JobID"]).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def nodes(partition: str | None) -> list[tuple[int, int]]:
    """(memory MiB, CPUs) of each node group of the partition (the default one without)."""
    try:
        out = _run(["sinfo", "-h", "-o", "%m %c %P"] + (["-p", partition] if partition else []))
    except FileNotFoundError:
        raise Refused("--executor slurm: sinfo is not on PATH; run the batch on a Slurm "
                      "login node") from None
    except subprocess.TimeoutExpired:
        raise Refused("--executor slurm: sinfo did not answer in 30 s (is slurmctld up?)",
                      code=4) from None
    if out.returncode != 0:
        raise Refused(f"--executor slurm: sinfo failed: {out.stderr.strip() or out.stdout.strip()}",
                      code=4)
    found = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        if partition is None and not parts[2].endswith("*"):  # the default partition's mark
            continue
        try:
            found.append((int(parts[0].rstrip("+")), int(parts[1].rstrip("+"))))
        except ValueError:
            continue
    return found


def check(req: Request, offered: list[tuple[int, int]]) -> None:
    """Refuse a task no node of the partition can hold: sbatch would only say so after the
    baseline's calibration (minutes), as 'Memory specification can not be satisfied'."""
    where = f"partition {req.partition}" if req.partition else "the default partition"
    if not offered:
        raise Refused(f"--executor slurm: {where} has no nodes (sinfo lists none; "
                      "--slurm-partition picks another)")
    if any(mem >= req.mem_mb and cpus >= req.cpus for mem, cpus in offered):
        return
    most_mem, most_cpus = max(m for m, _ in offered), max(c for _, c in offered)
    raise Refused(f"--executor slurm: each task asks for {req.mem_mb} MiB ({req.mem_from}) and "
                  f"{req.cpus} CPU(s), but the nodes of {where} offer at most {most_mem} MiB and "
                  f"{most_cpus} CPU(s); lower --slurm-mem or --cpus-per-task (or the rubric's "
                  "budget.memory_mb), or choose another --slurm-partition")


# --- following the tasks -------------------------------------------------------------

def queued() -> dict[str, str] | None:
    """job id ('123_4') -> state of this user's queued and running tasks; None when squeue
    itself failed (the controller unreachable: nothing can be concluded)."""
    try:
        out = _run(["squeue", "-h", "-r", "--me", "-o", "%i %T"])
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return dict(line.split(None, 1) for line in out.stdout.splitlines() if len(line.split()) == 2)


def why_gone(job_id: str, with_accounting: bool) -> str:
    if with_accounting:
        try:
            out = _run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State,ExitCode"])
            state = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
            if state:
                return f"sacct says {state.replace('|', ', exit code ')}"
        except (OSError, subprocess.TimeoutExpired, IndexError):
            pass
        return "sacct knows nothing of it"
    return "cancelled, killed or its node lost; without accounting Slurm keeps no reason"


def cancel(job_ids: list[str]) -> None:
    if job_ids:
        try:
            _run(["scancel", *job_ids])
        except (OSError, subprocess.TimeoutExpired):
            pass


def result_file(folder: Path, job_id: str) -> Path:
    from submitit.core.utils import JobPaths
    return JobPaths(folder, job_id=job_id, task_id=0).result_pickle


def read_result(path: Path) -> dict:
    """submitit's result pickle: ('success', value) or ('error', traceback)."""
    from submitit.core.utils import pickle_load
    outcome, value = pickle_load(path)
    if outcome == "success" and isinstance(value, dict):
        return value
    last = str(value).strip().splitlines()[-1:] or ["?"]
    return {"grader_error": f"array task failed: {last[0]}"}


def follow(tasks: dict[str, object], folder: Path, *, with_accounting: bool,
           lost_after_s: float = LOST_AFTER_S, poll_s: float = 2.0,
           clock=time.monotonic) -> Iterator[tuple[object, dict]]:
    """Yield (job, result) as each task's result file appears. `tasks`: job id -> Job."""
    pending = dict(tasks)
    missing_since: dict[str, float] = {}
    blind_since: float | None = None
    while pending:
        for job_id in [j for j in pending if result_file(folder, j).exists()]:
            job = pending.pop(job_id)
            try:
                yield job, read_result(result_file(folder, job_id))
            except Exception as e:  # noqa: BLE001 - a half-written or foreign pickle
                yield job, {"grader_error": f"array task {job_id}: unreadable result: "
                                            f"{type(e).__name__}: {e}"}
        if not pending:
            return
        states, now = queued(), clock()
        if states is None:  # squeue failed: give the controller the same grace as a task
            blind_since = blind_since if blind_since is not None else now
            if now - blind_since > lost_after_s:
                for job_id, job in list(pending.items()):
                    pending.pop(job_id)
                    yield job, {"grader_error": f"array task {job_id}: squeue failed for "
                                                f"{lost_after_s:.0f} s, its state is unknown"}
                return
        else:
            blind_since = None
            for job_id in list(pending):
                if job_id in states:
                    missing_since.pop(job_id, None)
                    continue
                # gone from the queue: its result may still be on its way over NFS
                first = missing_since.setdefault(job_id, now)
                if now - first > lost_after_s and not result_file(folder, job_id).exists():
                    job = pending.pop(job_id)
                    yield job, {"grader_error": f"array task {job_id} left the queue without a "
                                                f"result ({why_gone(job_id, with_accounting)}); "
                                                f"its log: {result_file(folder, job_id).parent}"}
        if pending:
            time.sleep(poll_s)


# --- the record of queued tasks, for a rerun ------------------------------------------

def load_record(folder: Path) -> dict[str, dict]:
    """student -> {"job_id", "key"} of the tasks an earlier run queued."""
    try:
        data = json.loads((folder / RECORD).read_text())
        return {s: t for s, t in data.get("tasks", {}).items()
                if isinstance(t, dict) and isinstance(t.get("job_id"), str)}
    except (OSError, ValueError, AttributeError):
        return {}


def save_record(folder: Path, tasks: dict[str, dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{RECORD}.{os.getpid()}"
    tmp.write_text(json.dumps({"tasks": tasks}, indent=1, sort_keys=True))
    os.replace(tmp, folder / RECORD)  # a driver killed mid-write leaves the old record whole
