"""How many cores this process may use, and who said so. os.cpu_count() is the machine's:
on a 64-core Slurm node a 1-CPU task sized its torch threads to 64, and two Ray tasks side
by side each took every core. What bounds a process is, in order: its affinity mask
(cgroups, taskset, Slurm's task/affinity), SLURM_CPUS_PER_TASK (a node without
task/affinity leaves the mask whole), and the CPUs Ray assigned the task (Ray never
narrows the mask)."""
from __future__ import annotations

import dataclasses
import os
import sys


def cpu_set(threads: int) -> set[int] | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    available = sorted(os.sched_getaffinity(0))
    return set(available[:max(1, threads)])


@dataclasses.dataclass(frozen=True)
class Cpus:
    count: int
    source: str     # "affinity" | "slurm" | "ray" | "worker share"
    detail: str     # one line for the results' provenance

    def record(self, cores: tuple[int, ...] | None = None) -> dict:
        return {"count": self.count, "source": self.source, "detail": self.detail,
                "cores": list(cores) if cores else None}


def affinity_cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _ray_cpus() -> float | None:
    """The CPUs Ray assigned to the running task; None outside a Ray worker. Ray is looked
    at only when it is already imported (a worker has it; importing it costs seconds)."""
    ray = sys.modules.get("ray")
    if ray is None or not getattr(ray, "is_initialized", lambda: False)():
        return None
    try:
        context = ray.get_runtime_context()
        if context.worker.mode != ray.WORKER_MODE:  # the driver itself: no task's share
            return None
        return context.get_assigned_resources().get("CPU")
    except Exception:  # noqa: BLE001 - an older or newer Ray: fall back to the mask
        return None


def usable_cpus() -> Cpus:
    mask = affinity_cores()
    best = Cpus(len(mask), "affinity", f"{len(mask)} core(s) in the process's affinity mask")
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and 0 < int(slurm) <= best.count:
        best = Cpus(int(slurm), "slurm", f"Slurm allocation: SLURM_CPUS_PER_TASK={slurm}")
    ray = _ray_cpus()
    if ray and int(ray) >= 1 and int(ray) <= best.count:
        best = Cpus(int(ray), "ray", f"Ray task's assigned resources: CPU={ray:g}")
    return best


def cpu_count() -> int:
    """The threads a run sizes itself to: what this process may use, not the machine."""
    return max(1, usable_cpus().count)
