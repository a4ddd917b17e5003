"""How much CPU a run's processes used, and how long the machine kept them waiting for one.

Time limits are judged on these rather than on the wall clock alone, so that a busy machine
(other gradings, another class's batch, a test suite beside it) does not fail honest work:
- the limit relative to the baseline (budget.time_factor) is on CPU time, which load
  leaves about where it was (threads that spin while a peer is descheduled can add to it,
  at most the run's thread count times);
- the absolute limit (budget.time_limit_s) is on the wall clock less the time some of the
  run's processes were ready to run but had no CPU: a run that sleeps or hangs is charged
  in full, a run that waited behind other work is not charged for the waiting.

Read from the run's cgroup where it has a v2 folder (cpu.stat and cpu.pressure exist there
without any controller, and count processes that have already exited), else from /proc for
the live processes under the child, sampled (each process's slowest thread stands for its
waiting, which never credits more waiting than there was).
The kernel's files: https://docs.kernel.org/admin-guide/cgroup-v2.html (cpu.stat),
https://docs.kernel.org/accounting/psi.html (cpu.pressure), proc(5) (stat, schedstat).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    cpu_s: float = 0.0     # CPU time of the run's processes, every thread, user and system
    waited_s: float = 0.0  # wall time during which some of them were runnable without a CPU


def of_cgroup(folders: list[Path]) -> Usage | None:
    """The usage of everything that ever ran in the cgroup, from its v2 folder; None where
    it has none or the kernel keeps no pressure figures (PSI off)."""
    for folder in folders:
        try:
            cpu = _fields(folder / "cpu.stat")["usage_usec"]
            pressure = (folder / "cpu.pressure").read_text().splitlines()[0].split()
        except (OSError, KeyError, ValueError, IndexError):
            continue
        waited = int(dict(f.split("=") for f in pressure[1:])["total"])
        return Usage(cpu / 1e6, waited / 1e6)
    return None


def of_tree(root: int) -> Usage:
    """The usage of `root` and its live descendants, from /proc: their own CPU time and
    that of the children they have reaped; waiting, the longest of any one process."""
    parents, cpu = {}, {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ")"
        rest = stat[stat.rindex(")") + 2:].split()
        pid = int(entry.name)
        parents[pid] = int(rest[1])
        cpu[pid] = sum(int(v) for v in rest[11:15]) / TICK  # utime stime cutime cstime
    tree = {p for p in parents if _under(p, root, parents)}
    return Usage(sum(cpu[p] for p in tree), max((_waited(p) for p in tree), default=0.0))


def _under(pid: int, root: int, parents: dict[int, int]) -> bool:
    seen = 0
    while pid != root and pid > 1 and seen < 64:
        pid, seen = parents.get(pid, 0), seen + 1
    return pid == root


def _waited(pid: int) -> float:
    """The longest a thread of `pid` has waited on a run queue (schedstat's second field)."""
    most = 0
    for task in Path(f"/proc/{pid}/task").glob("[0-9]*"):
        try:
            most = max(most, int((task / "schedstat").read_text().split()[1]))
        except (OSError, ValueError, IndexError):
            continue
    return most / 1e9


def _fields(path: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in path.read_text().splitlines())}


class Meter:
    """One run's usage since `start()` (the end of its start-up): exact from its cgroup
    where it has a v2 folder, else sampled from the process tree under `root` at most
    every `every_s` seconds, keeping the largest figures seen (exited processes vanish
    from /proc)."""

    def __init__(self, folders: list[Path], root: int, every_s: float = 1.0):
        self.folders, self.root, self.every_s = folders, root, every_s
        self.exact = of_cgroup(folders) is not None
        self.zero = self.last = Usage()
        self.sampled_at = float("-inf")
        self.started = False

    def _read(self) -> Usage:
        now = (of_cgroup(self.folders) if self.exact else None) or of_tree(self.root)
        return Usage(max(now.cpu_s, self.last.cpu_s), max(now.waited_s, self.last.waited_s))

    def start(self) -> None:
        self.zero = self.last = self._read()
        self.started = True

    def since_ready(self, final: bool = False) -> Usage:
        """The usage since `start()`: read now where that is cheap (the cgroup) or `final`,
        else the latest sample, taken again when it is `every_s` old."""
        clock = time.monotonic()
        if self.exact or final or clock - self.sampled_at >= self.every_s:
            self.last, self.sampled_at = self._read(), clock
        return Usage(self.last.cpu_s - self.zero.cpu_s, self.last.waited_s - self.zero.waited_s)
