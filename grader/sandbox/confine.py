"""How the child process is confined: what it may see, use and leave behind.

Two layers, and every result says which were in force (`describe`):
- always (POSIX): resource limits set before the child starts (memory, size of any file it
  writes, its log included, number of processes, no core dumps), CPU affinity, its own
  session, and a marker in its environment so that anything it leaves running is found
  and killed;
- where bubblewrap works (Linux with user namespaces; `apt install bubblewrap`): a root
  file system holding only the system folders, the interpreter, the grader package, the
  submission and the job folder (the data, caches, results and other students' work are
  not there at all), no network, its own PID namespace (the kernel ends every process in
  it when it ends), no capabilities, user `nobody`.
GRADER_SANDBOX=none turns the second layer off; GRADER_SANDBOX=bwrap makes it mandatory.
"""
from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    time_s: float
    memory_mb: int | None = 6144    # RLIMIT_DATA; None with CUDA (a GPU memory fraction instead)
    output_mb: int = 64             # RLIMIT_FSIZE: the largest file the child may write
    processes: int = 256            # RLIMIT_NPROC
    threads: int = 1                # CPU cores it may run on (affinity) and torch threads
    cpus: tuple[int, ...] | None = None  # which cores (a batch worker's share); default the first


class SandboxUnavailable(Exception):
    pass


@functools.cache
def bwrap_works() -> bool:
    """Whether bubblewrap can build the sandbox here (needs unprivileged user namespaces)."""
    exe = shutil.which("bwrap")
    if not exe:
        return False
    probe = [exe, "--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "--uid", str(NOBODY),
             "--gid", str(NOBODY), "--die-with-parent", "--", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


MODES = ("auto", "bwrap", "none")


def use_bwrap() -> bool:
    """Whether the child runs inside bubblewrap, as GRADER_SANDBOX says: `auto` (default:
    where it works), `bwrap` (required: refused where it does not), `none`."""
    mode = os.environ.get("GRADER_SANDBOX", "auto") or "auto"
    if mode not in MODES:
        raise SandboxUnavailable(f"GRADER_SANDBOX={mode!r} is not a sandbox mode (choose from "
                                 f"{', '.join(MODES)})")
    if mode == "none":
        return False
    if mode == "bwrap" and not bwrap_works():
        raise SandboxUnavailable("GRADER_SANDBOX=bwrap, but bubblewrap is missing or cannot "
                                 "create user namespaces here (Debian/Ubuntu: apt install "
                                 "bubblewrap; Ubuntu 24.04 also needs sysctl "
                                 "kernel.apparmor_restrict_unprivileged_userns=0)")
    return bwrap_works()


SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc")


def wrap(command: list[str], *, job_dir: Path, show: list[Path], inputs: dict[Path, Path]) -> list[str]:
    """The bubblewrap command line around `command`. The child's root starts empty: only
    the system folders, `show` (the interpreter, the grader package, the submission) and
    the job folder exist, read-only but for the job folder; `inputs` (file -> where the
    child finds it) are shown read-only. Everything else on the machine (data sets,
    caches, other students' work, results) is simply not there."""
    args = ["bwrap", "--tmpfs", "/"]
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():  # merged /usr: /lib -> usr/lib
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for dev in sorted(Path("/dev").glob("nvidia*")):  # CUDA needs its device nodes
        args += ["--dev-bind", str(dev), str(dev)]
    for path in show:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(job_dir), str(job_dir)]
    for src, dst in inputs.items():
        args += ["--ro-bind", str(src), str(dst)]
    args += ["--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
             "--die-with-parent", "--new-session", "--cap-drop", "ALL",
             "--chdir", str(job_dir / "work"), "--"]
    return args + command


def interpreter_paths() -> list[Path]:
    """What the child needs to start Python and import the grader: the interpreter's
    prefixes (a virtual environment and the Python it was made from), every site-packages
    folder on the path (a `pip install --user`, a .pth-chained environment) and the grader
    package alone, not the folder around it."""
    import grader
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(grader.__file__).resolve().parent}
    paths |= {Path(p) for p in sys.path if Path(p).name in ("site-packages", "dist-packages")
              and Path(p).is_dir()}
    return sorted(p for p in paths if not any(p == Path("/") / d or Path("/") / d in p.parents
                                              for d in SYSTEM_DIRS))


PR_SET_PDEATHSIG = 1


@functools.cache
def _libc():
    import ctypes
    import ctypes.util
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def preexec(limits: Limits, cpus: set[int] | None):
    """Runs in the child between fork and exec: limits it and everything it starts, and
    has the kernel kill it if the grader dies (kill -9 of a batch driver must not leave
    a child training past its limit). bubblewrap's --die-with-parent does the same."""
    libc = _libc() if sys.platform.startswith("linux") else None  # loaded before the fork
    parent = os.getpid()

    def apply():
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the grader died before the line above
                os._exit(1)
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


def cpu_set(threads: int) -> set[int] | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    available = sorted(os.sched_getaffinity(0))
    return set(available[:max(1, threads)])


def kill_marked(token: str) -> int:
    """Kill every process whose environment carries the job's marker: what a child left
    behind after leaving its process group (setsid, double fork). Linux only."""
    killed = 0
    needle = f"GRADER_JOB={token}".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue
    return killed


def describe(limits: Limits, sandboxed: bool, device: str) -> dict:
    memory = (f"RLIMIT_DATA {limits.memory_mb} MiB" if limits.memory_mb
              else "GPU memory fraction (address-space limits break CUDA)")
    if sandboxed:
        return {"sandbox": "bubblewrap",
                "filesystem": "only system folders, the interpreter, the grader and the job's "
                              "own files are visible; only the job folder is writable",
                "network": "none (own network namespace)",
                "processes": f"own PID namespace, at most {limits.processes}",
                "user": "nobody, no capabilities", "memory": memory,
                "output": f"files of at most {limits.output_mb} MiB",
                "cpu": f"{limits.threads} core(s)", "time": f"{limits.time_s:.0f} s", "device": device}
    nproc = ("not limited (root ignores RLIMIT_NPROC)" if os.geteuid() == 0
             else f"at most {limits.processes}")
    return {"sandbox": "none (bubblewrap unavailable or GRADER_SANDBOX=none)",
            "filesystem": "NOT isolated: same user as the grader",
            "network": "NOT isolated",
            "processes": f"own session, {nproc}; leftovers killed by marker",
            "user": "same as the grader", "memory": memory,
            "output": f"files of at most {limits.output_mb} MiB",
            "cpu": f"{limits.threads} core(s)", "time": f"{limits.time_s:.0f} s", "device": device}
