"""What a run leaves behind, found and removed when it ends: processes that left its
process group (`kill_marked`, `kill_leftovers`) and entries in the machine's shared
writable folders (`remove_left_entries`). The one walk over /proc (`processes`)."""
from __future__ import annotations

import os
import shutil
import signal
import stat
from pathlib import Path
from typing import Iterator


def proc_status(pid: str) -> dict[str, str]:
    """/proc/PID/status as {field: value}."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def processes() -> Iterator[tuple[int, dict[str, str]]]:
    """(pid, its /proc status) of every process now, zombies included (a leftover that is
    our child must still be reaped); one that ends while it is read is skipped."""
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            yield int(entry.name), proc_status(entry.name)
        except (OSError, ValueError):
            continue


def kill_marked(token: str) -> int:
    """Kill every process whose environment carries the job's marker: what a child left
    behind after leaving its process group (setsid, double fork). Linux only."""
    killed = 0
    needle = f"GRADER_JOB={token}".encode()
    for pid, _ in processes():
        try:
            if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except OSError:
            continue
    return killed


def kill_leftovers(live: set[int]) -> int:
    """Kill what children left behind after leaving their process group, whatever became
    of their environment (a re-exec with none escapes `kill_marked`): with the grader a
    subreaper (`guard_grader`), each is now the grader's own child, and it carries the
    no_new_privs bit (and any seccomp filter) every child gets, which the grader lacks.
    `live`: the workers still running (other jobs of a batch), left alone. Reaps what it
    kills. Linux only."""
    me = str(os.getpid())
    try:
        mine = proc_status("self")
    except OSError:
        return 0
    killed: list[int] = []
    for _ in range(50):  # what a killed one had started is re-parented to us in turn
        found = _leftovers(me, mine, live)
        if not found:
            break
        killed += found
    return len(killed)


def _leftovers(me: str, mine: dict, live: set[int]) -> list[int]:
    killed = []
    for pid, st in processes():
        try:
            marked = (st.get("NoNewPrivs", "0").strip() != mine.get("NoNewPrivs", "0").strip()
                      or int(st.get("Seccomp_filters", 0)) > int(mine.get("Seccomp_filters", 0)))
            if st.get("PPid", "").strip() == me and marked and pid not in live:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        except (OSError, ValueError):
            continue
    for pid in killed:  # our children now: reap them, or they stay as zombies
        _reap(pid)
    return killed


def _reap(pid: int, wait_s: float = 5) -> None:
    import time
    deadline = time.monotonic() + wait_s  # a process stuck in the kernel must not hang us
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        time.sleep(0.01)


# Folders outside its job folder that a fallback run may write: torch's DataLoader workers
# hand batches over through POSIX shared memory, and Python's semaphores live there too.
# Under bubblewrap the run has a /dev/shm of its own; elsewhere it is the machine's, so
# what a run leaves there is removed when it ends (a later run must not load it).
SHARED_WRITABLE = (Path("/dev/shm"),)


def shared_entries() -> set[tuple[str, int]]:
    """What the shared writable folders hold now, as (path, inode)."""
    found = set()
    for folder in SHARED_WRITABLE:
        try:
            with os.scandir(folder) as entries:
                found |= {(e.path, e.inode()) for e in entries}
        except OSError:
            continue
    return found


def remove_left_entries(before: set[tuple[str, int]], uid: int) -> int:
    """Remove what appeared in the shared writable folders since `before` and belongs to
    `uid` (the run's own uid, or the grader's where the run shares it): links and files
    unlinked, folders removed whole without following links. Returns how many."""
    removed = 0
    for path, inode in shared_entries() - before:
        try:
            st = os.lstat(path)
            if st.st_uid != uid or st.st_ino != inode:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
            removed += 1
        except OSError:
            continue
    return removed
