"""The layers a process applies to itself: the fallback layers the child stacks before it
imports student code (`enter`), the limits set between fork and exec (`preexec`), and the
grader's own safety net (`guard_grader`)."""
from __future__ import annotations

import dataclasses
import os
import resource
import signal
import sys
from pathlib import Path

from grader.sandbox.confine.bwrap import SYSTEM_DIRS, interpreter_paths
from grader.sandbox.confine.planning import Limits
from grader.sandbox.landlock import PR_SET_NO_NEW_PRIVS
from grader.sandbox.landlock import libc as _libc


# Devices a training run uses (CUDA's come from /dev/nvidia*). /dev/shm is written like
# the job folder: DataLoader workers create, resize and unlink their shared tensors there.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


def child_rules(*, job_dir: Path, show: list[Path], inputs: list[Path], owner=None) -> dict:
    """What the fallback layers let the child touch, handed to it in its request: read the
    system folders, /proc and /sys, the interpreter, the grader package, `show` and its
    `inputs` (single files: not the folder beside them with the test labels); write only
    its job folder (and /dev/shm). In /proc, Landlock refuses a sandboxed process the
    environment, descriptors and folders of any process outside its domain, unless it
    holds CAP_SYS_PTRACE: hence `nocaps` under a root grader (measured on Linux 6.18)."""
    read = [Path("/") / d for d in SYSTEM_DIRS] + [Path("/proc"), Path("/sys")]
    read += interpreter_paths() + list(show) + list(inputs)
    devices = [Path(d) for d in DEVICES] + sorted(Path("/dev").glob("nvidia*"))
    uid = {"uid": owner.uid, "gid": owner.gid} if owner is not None else {}
    return {"read": [str(p) for p in read], "write": [str(job_dir), "/dev/shm"],
            "devices": [str(p) for p in devices], **uid}


PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
CAP_VERSION_3 = 0x20080522


def drop_bounding_set() -> None:
    """No capability after any exec: dropping them needs CAP_SETPCAP, so this comes
    before the uid changes (`become`)."""
    libc = _libc()
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def drop_capabilities() -> dict:
    """A child of a root grader keeps uid 0 but no capability, now or after any exec: it
    cannot read the grader's environment (the grader is not dumpable, and that takes
    CAP_SYS_PTRACE), override file permissions or signal other users' processes."""
    import ctypes
    libc = _libc()
    drop_bounding_set()
    header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2 words: all zero
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    return {"capabilities": "none"}


def enter(layers: list[str], rules: dict) -> dict:
    """In the child, before it imports any student code: stack the fallback layers it was
    given. A layer that fails raises: the run must not go on weaker than its record says."""
    from grader.sandbox import landlock, seccomp
    if "seccomp" in layers and not seccomp.available():  # loads libseccomp while it may
        raise OSError("seccomp was asked for, but pyseccomp or libseccomp does not load")
    _libc()  # found while the file system is still open
    done = {}
    if "landlock" in layers:
        done["landlock"] = landlock.restrict(read=[Path(p) for p in rules["read"]],
                                             write=[Path(p) for p in rules["write"]],
                                             devices=[Path(p) for p in rules["devices"]])
    if "seccomp" in layers:
        done["seccomp"] = seccomp.restrict()
    if "nocaps" in layers or "uid" in layers:
        drop_bounding_set()
    if "uid" in layers:
        done["uid"] = become(rules["uid"], rules["gid"])
    if "nocaps" in layers:
        done["nocaps"] = drop_capabilities()
    return done


def become(uid: int, gid: int) -> dict:
    """Drop to the run's own uid and gid, no supplementary groups: the kernel then clears
    every capability. A change of uid clears PR_SET_PDEATHSIG, so it is set again, and
    the child ends if the grader died in between."""
    parent = os.getppid()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _die_with(parent, _libc())
    return {"uid": uid, "gid": gid}


PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def preexec(limits: Limits, cpus: set[int] | None, no_new_privs: bool = True,
            cgroup_fds: list[int] = (), parent: int | None = None):
    """Runs in the child between fork and exec (or in a fork of the fork server, where
    `parent` is the server): limits it and everything it starts, and has the kernel kill
    it if its parent dies (kill -9 of a batch driver must not leave a child training past
    its limit). bubblewrap's --die-with-parent does the same.
    `cgroup_fds`: the run's cgroup.procs files (`cgroup.join_fds`), joined first; a
    failed join raises, so Popen fails instead of a child running outside its cgroup."""
    from grader.sandbox import cgroup
    libc = _libc() if sys.platform.startswith("linux") else None  # loaded before the fork
    parent = parent or os.getpid()

    def apply():
        cgroup.join(list(cgroup_fds))
        if libc is not None:
            _die_with(parent, libc)
            if no_new_privs:  # no set-uid programs; it marks all it starts (kill_leftovers)
                libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        def cap(which, value):
            resource.setrlimit(which, (value, value))
        if limits.memory_mb:
            cap(resource.RLIMIT_DATA, limits.memory_mb * 2**20)
        cap(resource.RLIMIT_FSIZE, limits.output_mb * 2**20)
        cap(resource.RLIMIT_NPROC, limits.processes)
        cap(resource.RLIMIT_CORE, 0)
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)
    return apply


def preexec_spec(limits: Limits, cpus: set[int] | None, no_new_privs: bool = True) -> dict:
    """`preexec`'s arguments as JSON, for the fork server to apply in its fork."""
    return {"limits": dataclasses.asdict(limits), "cpus": sorted(cpus or ()),
            "no_new_privs": no_new_privs}


def preexec_from(spec: dict, parent: int, cgroup_fds: list[int] = ()):
    fields = dict(spec["limits"], cpus=tuple(spec["limits"]["cpus"] or ()) or None)
    return preexec(Limits(**fields), set(spec["cpus"]) or None, spec["no_new_privs"],
                   cgroup_fds, parent)


def die_with_parent():
    """For the fork server itself: only the kernel's kill when the grader dies."""
    libc = _libc() if sys.platform.startswith("linux") else None
    parent = os.getpid()

    def apply():
        if libc is not None:
            _die_with(parent, libc)
    return apply


def _die_with(parent: int, libc) -> None:
    """Have the kernel kill this process when `parent` dies, and end it now if `parent`
    died before that was set (it was re-parented already). `libc` is loaded beforehand:
    this runs between fork and exec."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def guard_grader() -> None:
    """Make the grader's own process the fallback's safety net, once: not dumpable (its
    /proc/PID/environ, with the instructor's tokens, is then unreadable to a child of the
    same uid, and to a root child without CAP_SYS_PTRACE), and a child subreaper (what a
    child leaves running is re-parented to the grader instead of init, where
    `kill_leftovers` finds it whatever it did to its environment). Linux only."""
    libc = _libc() if sys.platform.startswith("linux") else None
    if libc is not None:
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
