"""Which confinement a run gets (`plan`), refused where it cannot be had, and the limits
every run has (`Limits`)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import grader.sandbox.confine.bwrap as bwrap  # a module: tests replace bwrap_works there


@dataclass(frozen=True)
class Limits:
    time_s: float                   # wall clock after start-up, less waiting for a CPU (usage.py)
    memory_mb: int | None           # RLIMIT_DATA (the rubric's budget.memory_mb); None with CUDA
                                    # (a GPU memory fraction instead)
    output_mb: int = 64             # RLIMIT_FSIZE: the largest file the child may write
    processes: int = 256            # RLIMIT_NPROC
    threads: int = 1                # CPU cores it may run on (affinity) and torch threads
    cpus: tuple[int, ...] | None = None  # which cores (a batch worker's share); default the first
    cpu_s: float | None = None      # CPU time after start-up, all processes and threads


class SandboxUnavailable(Exception):
    pass


MODES = ("auto", "bwrap", "landlock", "none")
FALLBACK_LAYERS = ("landlock", "seccomp", "nocaps", "uid", "cgroup")
ROOT_ONLY = ("nocaps", "uid")  # a grader that is not root has no capability or uid to give up


@dataclass(frozen=True)
class Plan:
    """The confinement a run gets: `sandbox` names what confines its file system (bwrap,
    landlock or none), `layers` the fallback layers stacked in the child, `missing` those
    of them this machine cannot give (the terminal and the batch warn about them), and
    `why` says why, one line each."""
    sandbox: str
    layers: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    why: tuple[tuple[str, str], ...] = ()

    @property
    def confined(self) -> bool:
        return self.sandbox != "none"


def fallback_available() -> dict[str, bool]:
    from grader.sandbox import landlock, seccomp
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    linux = sys.platform.startswith("linux")
    return {"landlock": landlock.abi() >= 1, "seccomp": seccomp.available(),
            "nocaps": root and linux, "uid": root and linux and uid_missing() is None,
            "cgroup": linux and cgroup_missing() is None}


def uid_missing() -> str | None:
    """Why a root grader's child cannot have a uid of its own here, or None. Another
    user must be able to start the grader's interpreter and import its packages."""
    from grader.sandbox import uids
    exe = Path(sys.executable).resolve()
    for path in [exe, *bwrap.interpreter_paths()]:
        blocked = uids.unreachable(path)
        if blocked is not None:
            return (f"other users cannot reach the grader's Python ({blocked} is "
                    f"{oct(_mode(blocked))[-3:]}): install the grader with a system-wide "
                    "Python, as Docker's python images and Gradescope have")
    try:
        if not uids.candidates():
            return f"no free uid in GRADER_UID_RANGE ({uids.uid_range()})"
    except ValueError as e:
        return str(e)
    return None


def _mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return 0


def cgroup_missing() -> str | None:
    from grader.sandbox import cgroup
    return cgroup.missing_reason()


def _why(name: str) -> str:
    """One line: why this machine lacks the fallback layer `name`."""
    if name == "uid":
        return uid_missing() or "uid"
    if name == "cgroup":
        return cgroup_missing() or "cgroup"
    return {"landlock": "this kernel has no Landlock (Linux 5.13 or newer, landlock in lsm=)",
            "seccomp": "pyseccomp or libseccomp does not load (pip install pyseccomp; "
                       "apt install libseccomp2)"}.get(name, name)


def plan() -> Plan:
    """The confinement GRADER_SANDBOX asks for, refused (SandboxUnavailable) where it cannot
    be had, so that a run never ends up weaker than asked without saying so."""
    mode = os.environ.get("GRADER_SANDBOX", "auto") or "auto"
    if mode not in MODES:
        raise SandboxUnavailable(f"GRADER_SANDBOX={mode!r} is not a sandbox mode (choose from "
                                 f"{', '.join(MODES)})")
    if mode == "none":
        return Plan("none")
    if mode == "bwrap" and not bwrap.bwrap_works():
        raise SandboxUnavailable("GRADER_SANDBOX=bwrap, but bubblewrap is missing or cannot "
                                 "create user namespaces here (Debian/Ubuntu: apt install "
                                 "bubblewrap; Ubuntu 24.04 also needs sysctl "
                                 "kernel.apparmor_restrict_unprivileged_userns=0; Docker: "
                                 "--security-opt seccomp=unconfined --security-opt "
                                 "apparmor=unconfined); GRADER_SANDBOX=landlock needs neither")
    if mode != "landlock" and bwrap.bwrap_works():  # the whole sandbox joins the run's cgroup
        return Plan("bwrap", ("cgroup",) if cgroup_missing() is None else ())
    have = fallback_available()
    if mode == "landlock" and not have["landlock"]:
        raise SandboxUnavailable("GRADER_SANDBOX=landlock, but this kernel has no Landlock "
                                 "(Linux 5.13 or newer with landlock in its lsm= list)")
    layers = tuple(name for name in FALLBACK_LAYERS if have[name])
    root = os.geteuid() == 0
    missing = tuple(name for name in FALLBACK_LAYERS if not have[name]
                    and (root or name not in ROOT_ONLY) and name != "nocaps")
    return Plan("landlock" if have["landlock"] else "none", layers, missing,
                tuple((name, _why(name)) for name in missing))
