"""A cgroup per run: process and memory limits that forking cannot escape, and a kill of
everything the run started, however it detached itself.

The grader creates one child cgroup per run beside itself (in its own cgroup), where the
cgroup file system lets it (root, or a delegated subtree; Docker's default read-only
cgroupfs does not), and the child joins it between fork and exec (`join_fds` opened by
the parent, written by `confine.preexec`), before any of its code runs. Two layouts:
- cgroup v2 (`0::/path` in /proc/self/cgroup): pids.max and memory.max where the parent
  cgroup can hand those controllers down, cgroup.kill at the end;
- hybrid (v1 `pids` and `memory` hierarchies beside a v2 mount without controllers): v2
  for cgroup.kill, v1 pids.max and memory.limit_in_bytes; without v2, the end of a run
  SIGKILLs what cgroup.procs lists until it is empty (pids.max keeps a fork bomb bounded).
The kernel's documentation: https://docs.kernel.org/admin-guide/cgroup-v2.html
"""
from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC_CGROUP, MOUNTINFO = Path("/proc/self/cgroup"), Path("/proc/self/mountinfo")


@dataclass
class Cgroup:
    """One run's cgroup: the folders made for it (v2 and/or v1 pids, memory), the
    limits that were set, and the file that kills them all (v2's cgroup.kill)."""
    dirs: list[Path]
    limits: dict = field(default_factory=dict)   # {"processes": n, "memory_mb": m}
    kill_file: Path | None = None

    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]


def _own() -> dict[str, str]:
    """This process's cgroup per hierarchy: "" for v2, "pids", "memory"... for v1."""
    own = {}
    for line in PROC_CGROUP.read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            own[name] = path
    return own


def _mounts() -> dict[str, tuple[Path, str]]:
    """Where each hierarchy is mounted, with the cgroup path at the mount's root (a mount
    of a sub-tree, as in a container, shows only that part)."""
    found = {}
    for line in MOUNTINFO.read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        parts, (fstype, _source, options) = fields.split(), tail.split()[:3]
        root, point = parts[3], Path(parts[4].replace("\\040", " "))
        if fstype == "cgroup2":
            found.setdefault("", (point, root))
        elif fstype == "cgroup":
            for name in ("pids", "memory"):
                if name in options.split(","):
                    found.setdefault(name, (point, root))
    return found


def places() -> dict[str, Path]:
    """The folders a run's cgroup can be made in, by hierarchy ("" for v2, "pids",
    "memory"): this process's own cgroup in each, where it is writable. Empty where
    there are none (not root, a read-only cgroupfs, no cgroupfs mounted)."""
    try:
        own, mounts = _own(), _mounts()
    except (OSError, ValueError):
        return {}
    found = {}
    for name, (point, root) in mounts.items():
        path = own.get(name)
        if path is None:
            continue
        rel = os.path.relpath(path, root) if path.startswith(root) else None
        if rel is None or rel.startswith(".."):
            continue  # our cgroup is outside what this mount shows
        folder = (point / rel).resolve()
        if folder.is_dir() and os.access(folder, os.W_OK) and os.access(folder / "cgroup.procs", os.W_OK):
            found[name] = folder
    if "" in found and not (found[""] / "cgroup.subtree_control").exists():
        del found[""]
    return found


def missing_reason() -> str | None:
    """Why this machine gives no cgroup, or None where it does."""
    where = places()
    if "" in where or "pids" in where:
        return None
    if not PROC_CGROUP.exists():
        return "no cgroups (not Linux)"
    return ("the cgroup file system is not writable here (a grader that is not root, or "
            "Docker's read-only cgroupfs: run the container with --cgroupns=private and a "
            "writable /sys/fs/cgroup)")


def create(processes: int, memory_mb: int | None) -> Cgroup:
    """A fresh cgroup for one run, with its limits set. Raises OSError where it cannot
    be made or limited as `places` promised (the caller refuses to run without it)."""
    where = places()
    if not ("" in where or "pids" in where):
        raise OSError(missing_reason())
    sweep(where)
    name = f"grader-{os.getpid()}-{secrets.token_hex(4)}"
    group = Cgroup(dirs=[])
    try:
        v2 = where.get("")
        if v2 is not None:
            _delegate(v2)
            group.dirs.append(_mkdir(v2 / name))
            group.kill_file = group.dirs[-1] / "cgroup.kill"
        for v1 in ("pids", "memory"):
            if v1 in where:
                group.dirs.append(_mkdir(where[v1] / name))
        _limit(group, "processes", processes, ["pids.max"])
        if memory_mb:
            _limit(group, "memory_mb", memory_mb, ["memory.max", "memory.limit_in_bytes"],
                   value=memory_mb * 2**20)
            _write_some(group, ["memory.swap.max", "memory.memsw.limit_in_bytes"], memory_mb * 2**20)
    except OSError:
        remove(group)
        raise
    return group


def sweep(where: dict[str, Path]) -> int:
    """Remove the cgroups of graders that are gone (a kill -9 runs no clean-up), killing
    what is still in them first: a grader's cgroups are named after its pid. Returns how
    many it removed."""
    removed = 0
    for place in where.values():
        for folder in place.glob("grader-*-*"):
            try:
                os.kill(int(folder.name.split("-")[1]), 0)
                continue  # its grader is alive
            except ProcessLookupError:
                pass
            except (ValueError, PermissionError):
                continue
            group = Cgroup(dirs=[folder], kill_file=folder / "cgroup.kill" if place == where.get("") else None)
            kill(group, wait_s=2)
            removed += remove(group, wait_s=1)
    return removed


def _delegate(v2: Path) -> None:
    """Hand memory and pids down from our cgroup to its children, where the kernel lets
    us (it refuses while our cgroup holds processes, unless it is the root)."""
    for controller in ("memory", "pids"):
        try:
            (v2 / "cgroup.subtree_control").write_text(f"+{controller}")
        except OSError:
            pass


def _mkdir(path: Path) -> Path:
    path.mkdir(mode=0o755)
    return path


def _limit(group: Cgroup, key: str, limit: int, files: list[str], value: int | None = None) -> None:
    """Set the limit in the first of our folders that has one of `files`."""
    if _write_some(group, files, limit if value is None else value):
        group.limits[key] = limit


def _write_some(group: Cgroup, files: list[str], value: int) -> bool:
    for folder in group.dirs:
        for name in files:
            if (folder / name).exists():
                try:
                    (folder / name).write_text(str(value))
                    return True
                except OSError:
                    continue
    return False


def join_fds(group: Cgroup) -> list[int]:
    """The cgroup.procs files, opened by the parent (close-on-exec) for the child to write
    "0" to between fork and exec (`join`); the parent closes them once it has started."""
    fds = []
    try:
        for path in group.procs_files():
            fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
    except OSError:
        close(fds)
        raise
    return fds


def join(fds: list[int]) -> None:
    """In the child: move this process into every one of the run's cgroups. Raises
    OSError if any write fails; the caller exits rather than run outside it."""
    for fd in fds:
        os.write(fd, b"0")


def close(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def oom_kills(group: Cgroup) -> int:
    """How many processes the kernel killed for going over the memory limit."""
    for folder in group.dirs:
        for name in ("memory.events", "memory.oom_control"):
            try:
                for line in (folder / name).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
            except (OSError, ValueError):
                continue
    return 0


def pids(group: Cgroup) -> set[int]:
    found = set()
    for path in group.procs_files():
        try:
            found |= {int(p) for p in path.read_text().split()}
        except (OSError, ValueError):
            continue
    return found


def kill(group: Cgroup, wait_s: float = 10) -> int:
    """Kill every process in the run's cgroup and wait until it is empty: cgroup.kill on
    v2 (the kernel gets forks in flight too), else SIGKILL what cgroup.procs lists,
    again until nothing is left. Returns how many were found."""
    found = pids(group)
    if group.kill_file is not None and group.kill_file.exists():
        try:
            group.kill_file.write_text("1")
        except OSError:
            pass
    deadline = time.monotonic() + wait_s
    left = found
    while left and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
        left = pids(group)
        found |= left
    return len(found)


def remove(group: Cgroup, wait_s: float = 5) -> bool:
    """Remove the run's folders (empty once `kill` is done; an exiting process can hold
    one for a moment). Returns whether all are gone."""
    deadline = time.monotonic() + wait_s
    for folder in reversed(group.dirs):
        while folder.exists():
            try:
                folder.rmdir()
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
    return True
