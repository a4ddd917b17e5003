"""A uid of its own for each run of a root grader (Docker, Gradescope): the child drops
to it (`confine.become`), owns only its job folder, and every process of that uid is
killed when the run ends, whatever it did to its session, environment or parent.

Uids come from a range that /proc/self/uid_map maps and /etc/passwd (and /etc/group)
does not use, GRADER_UID_RANGE=FIRST-LAST to choose another. A run holds its uid with
flock on a lock file of its own (LOCK_DIR/UID.lock): two runs never share one, across
the threads of a batch and the graders on a machine, and a grader that dies lets go of
it (the kernel drops the lock). A uid some process still runs under is skipped.
"""
from __future__ import annotations

import fcntl
import os
import random
import signal
import stat
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_RANGE = (59000, 59999)  # below 60000 (nobody, systemd's dynamic users above)
LOCK_DIR = Path("/tmp/tinycnn-grader-uids")


@dataclass
class Reservation:
    uid: int
    gid: int
    fd: int   # the flock'd lock file; closing it lets go of the uid


def uid_range() -> range:
    text = os.environ.get("GRADER_UID_RANGE", "")
    if text:
        first, _, last = text.partition("-")
        try:
            return range(int(first), int(last or first) + 1)
        except ValueError:
            raise ValueError(f"GRADER_UID_RANGE={text!r}: expected FIRST-LAST, e.g. 59000-59999")
    return range(DEFAULT_RANGE[0], DEFAULT_RANGE[1] + 1)


def _mapped(path: str) -> list[range]:
    """The ids this user namespace maps (all of them outside any)."""
    try:
        rows = [line.split() for line in Path(path).read_text().splitlines()]
    except OSError:
        return [range(0, 2**32 - 1)]
    return [range(int(inside), int(inside) + int(count)) for inside, _, count in rows]


def _taken(path: str) -> set[int]:
    """The ids /etc/passwd or /etc/group gives a name to."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return set()
    return {int(f[2]) for f in (line.split(":") for line in lines) if len(f) > 2 and f[2].isdigit()}


def candidates() -> list[int]:
    uids, gids = _mapped("/proc/self/uid_map"), _mapped("/proc/self/gid_map")
    taken = _taken("/etc/passwd") | _taken("/etc/group")
    return [n for n in uid_range() if n not in taken and n != 0
            and any(n in r for r in uids) and any(n in r for r in gids)]


def _lock_dir() -> Path:
    """Root's own folder of lock files: a folder someone else made (or a link) is refused."""
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(LOCK_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise OSError(f"{LOCK_DIR} is not a folder of this user's own; remove it")
    return LOCK_DIR


def reserve() -> Reservation:
    """A uid no other run holds and no process runs under, held until `release`."""
    folder = _lock_dir()
    pool = candidates()
    if not pool:
        raise OSError(f"no free uid in {uid_range()} (GRADER_UID_RANGE)")
    start = random.randrange(len(pool))  # concurrent graders rarely try the same one first
    running = _uids_running()
    for n in pool[start:] + pool[:start]:
        if n in running:
            continue
        fd = os.open(folder / f"{n}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if n in _uids_running():  # a process started under it before we locked it
            os.close(fd)
            continue
        return Reservation(uid=n, gid=n, fd=fd)
    raise OSError(f"every uid in {uid_range()} is in use (GRADER_UID_RANGE for more)")


def release(r: Reservation) -> int:
    """Kill every process of the run's uid, then let go of it. Returns how many it killed."""
    try:
        return kill_all(r.uid)
    finally:
        os.close(r.fd)


def _uids_running() -> set[int]:
    return {uid for _, uid in _processes()}


def _processes():
    """(pid, real uid) of every live process (a zombie runs nothing)."""
    from grader.sandbox.confine.leftovers import processes
    for pid, status in processes():
        try:
            if not status.get("State", "").strip().startswith("Z"):
                yield pid, int(status["Uid"].split()[0])
        except (ValueError, KeyError, IndexError):
            continue


def kill_all(uid: int, wait_s: float = 10) -> int:
    """SIGKILL every process of `uid` until none is left: a process killed this way
    forks no more, and RLIMIT_NPROC bounds how many a non-root uid can have."""
    killed: set[int] = set()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = []
        for pid, owner in _processes():
            if owner == uid:
                try:
                    os.kill(pid, signal.SIGKILL)
                    found.append(pid)
                except OSError:
                    continue
        if not found:
            break
        killed.update(found)
        time.sleep(0.01)
    return len(killed)


def unreachable(path: Path) -> Path | None:
    """The first folder on the way to `path` (or `path` itself) another user cannot
    pass (no x for others) or read (no r): None where every step is open to them."""
    path = Path(path).resolve()
    for step in [*reversed(path.parents), path]:
        try:
            mode = os.stat(step).st_mode
        except OSError:
            return step
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return step
        if step == path and not mode & stat.S_IROTH:
            return step
    return None
