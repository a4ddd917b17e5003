"""How the child process is confined: what it may see, use and leave behind.

Layers, and every result says which were in force (`describe`):
- always (POSIX): resource limits set before the child starts (memory, size of any file it
  writes, its log included, number of processes, no core dumps), CPU affinity, its own
  session, no new privileges, the kernel's kill if the grader dies, and a marker in its
  environment; whatever it leaves running is killed when it ends (bubblewrap's PID
  namespace; elsewhere `kill_marked` and `kill_leftovers`);
- `bwrap`, where bubblewrap works (Linux with user namespaces; `apt install bubblewrap`):
  a root file system holding only the system folders, the interpreter, the grader
  package, the submission and the job folder (the data, caches, results and other
  students' work are not there at all), no network, its own PID namespace (the kernel
  ends every process in it when it ends), no capabilities, user `nobody`;
- `landlock`, the fallback that needs no user namespaces (Docker, Gradescope, GitHub's
  ubuntu-24.04 runners), stacked in the child before it imports student code
  (`enter`): Landlock (`landlock.py`: read the system, the interpreter, the grader and
  its inputs, write only the job folder; no TCP; no signals out), seccomp (`seccomp.py`:
  AF_UNIX sockets only, no ptrace, mount or namespaces) where libseccomp loads, and, when
  the grader runs as root, no capabilities (`nocaps`) and a uid of its own (`uid`,
  `uids.py`: it owns only its job folder; every process of that uid is killed at the
  end), where other users can run the grader's interpreter;
- `cgroup`, in every mode where the grader may create one (`cgroup.py`): process and
  memory limits that forking cannot escape, and a kill of everything in it at the end.
GRADER_SANDBOX picks: `auto` (bubblewrap where it works, else the fallback layers this
machine has), `bwrap` or `landlock` (required: refused at the start where unavailable),
`none`; anything else is refused.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    time_s: float                   # wall clock after start-up, less waiting for a CPU (usage.py)
    memory_mb: int | None = 6144    # RLIMIT_DATA; None with CUDA (a GPU memory fraction instead)
    output_mb: int = 64             # RLIMIT_FSIZE: the largest file the child may write
    processes: int = 256            # RLIMIT_NPROC
    threads: int = 1                # CPU cores it may run on (affinity) and torch threads
    cpus: tuple[int, ...] | None = None  # which cores (a batch worker's share); default the first
    cpu_s: float | None = None      # CPU time after start-up, all processes and threads


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
    for path in [exe, *interpreter_paths()]:
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
    if mode == "bwrap" and not bwrap_works():
        raise SandboxUnavailable("GRADER_SANDBOX=bwrap, but bubblewrap is missing or cannot "
                                 "create user namespaces here (Debian/Ubuntu: apt install "
                                 "bubblewrap; Ubuntu 24.04 also needs sysctl "
                                 "kernel.apparmor_restrict_unprivileged_userns=0; Docker: "
                                 "--security-opt seccomp=unconfined --security-opt "
                                 "apparmor=unconfined); GRADER_SANDBOX=landlock needs neither")
    if mode != "landlock" and bwrap_works():  # the whole sandbox joins the run's cgroup
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


def weaknesses(isolation: dict) -> list[str]:
    """What a run's confinement (its `describe`) lacked, one line each, for the terminal
    and the batch to say out loud; empty with bubblewrap."""
    if isolation.get("sandbox") == "bubblewrap":
        return []
    if isolation.get("sandbox") != "landlock":
        return ["student code ran without file-system confinement (neither bubblewrap nor "
                "Landlock here, or GRADER_SANDBOX=none): it could reach the grader's files"]
    why = isolation.get("why") or {}
    out = [f"{name} unavailable here: " + {
        "seccomp": "sockets other than TCP (UDP, raw) and ptrace were not filtered "
                   "(pip install pyseccomp; apt install libseccomp2)",
        "uid": "the child ran as root (without capabilities), not as a uid of its own: "
               + why.get("uid", "see docs/security.md"),
        "cgroup": "processes and memory were limited per process only, not for all it "
                  "forks: " + why.get("cgroup", "see docs/security.md")}.get(name, name)
           for name in isolation.get("missing", [])]
    group = isolation.get("cgroup") or {}
    if group and not group.get("processes"):
        out.append("the run's cgroup had no process or memory limit: the grader's own cgroup "
                   "cannot hand the pids and memory controllers down (cgroup v2 with processes "
                   "in it); it still killed everything in it at the end")
    if "NOT" in isolation.get("network", ""):
        out.append("the network was not isolated (Landlock ABI < 4 and no seccomp)")
    if isolation.get("signals", "").startswith("may signal"):
        out.append("the child could signal the grader (Landlock ABI < 6: Linux before 6.12)")
    return out


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
PR_SET_NO_NEW_PRIVS = 38


@functools.cache
def _libc():
    import ctypes
    import ctypes.util
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


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


def cpu_set(threads: int) -> set[int] | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    available = sorted(os.sched_getaffinity(0))
    return set(available[:max(1, threads)])


# How many cores this process may use, and who said so. os.cpu_count() is the machine's:
# on a 64-core Slurm node a 1-CPU task sized its torch threads to 64, and two Ray tasks side
# by side each took every core. What bounds a process is, in order: its affinity mask
# (cgroups, taskset, Slurm's task/affinity), SLURM_CPUS_PER_TASK (a node without
# task/affinity leaves the mask whole), and the CPUs Ray assigned the task (Ray never
# narrows the mask).

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


def kill_leftovers(live: set[int]) -> int:
    """Kill what children left behind after leaving their process group, whatever became
    of their environment (a re-exec with none escapes `kill_marked`): with the grader a
    subreaper (`guard_grader`), each is now the grader's own child, and it carries the
    no_new_privs bit (and any seccomp filter) every child gets, which the grader lacks.
    `live`: the workers still running (other jobs of a batch), left alone. Reaps what it
    kills. Linux only."""
    from grader.sandbox.uids import proc_status
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
    from grader.sandbox.uids import proc_status
    killed = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            st = proc_status(entry.name)
            marked = (st.get("NoNewPrivs", "0").strip() != mine.get("NoNewPrivs", "0").strip()
                      or int(st.get("Seccomp_filters", 0)) > int(mine.get("Seccomp_filters", 0)))
            if st.get("PPid", "").strip() == me and marked and int(entry.name) not in live:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
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


SCRATCH_KINDS = ("grade", "baseline", "predict")  # grader.files.scratch folders


def own_uid(plan: Plan, job_dir: Path, show: list[Path]):
    """For a plan with the `uid` layer: a uid reserved for this run (`uids.reserve`), and
    the plan. Where the job's files stay out of another user's reach (a folder of mode
    0700 on the way that is not this grader's own scratch folder), or no uid is free,
    the run goes without the layer and its record says why."""
    from grader.sandbox import uids
    if "uid" not in plan.layers:
        return plan, None
    for path in [job_dir, *show]:
        _open_scratch(path)
        blocked = uids.unreachable(path)
        if blocked is not None:
            return _without(plan, "uid", f"{blocked} cannot be reached by another user"), None
    try:
        return plan, uids.reserve()
    except (OSError, ValueError) as e:
        return _without(plan, "uid", str(e)), None


def _open_scratch(path: Path) -> None:
    """Let other users pass (not list) this grader's own scratch folders (made 0700) on
    the way to `path`; Landlock still keeps each child to its own files."""
    for step in Path(path).resolve().parents:
        if any(step.name.startswith(f"{kind}-{os.getpid()}-") for kind in SCRATCH_KINDS) \
                and os.stat(step).st_uid == os.geteuid():
            step.chmod(step.stat().st_mode | 0o011)


def _without(plan: Plan, layer: str, why: str) -> Plan:
    return dataclasses.replace(plan, layers=tuple(n for n in plan.layers if n != layer),
                   missing=(*plan.missing, layer), why=(*plan.why, (layer, why)))


def show_input(src: Path, dst: Path, owner) -> None:
    """Where the child finds an input file: a link to it, or, for a child with a uid of
    its own (`owner`), a hard link (the folders around the file may be closed to it) or
    a copy. Never a hard link for a root child: it owns the file and could write it."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if owner is None:
        dst.symlink_to(Path(src).resolve())
        return
    try:
        if not os.stat(src).st_mode & 0o004:
            raise OSError("not readable by others")
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
        dst.chmod(0o644)


def hand_over(job_dir: Path, owner, files: list[Path]) -> None:
    """The job folder, its work folder and `files` (what the child writes or must read
    there) become the run's uid's; nothing else of the grader's does."""
    for path in [job_dir, job_dir / "work", *files]:
        os.chown(path, owner.uid, owner.gid)


def start_cgroup(plan: Plan, limits: Limits):
    """The run's cgroup where the plan has one (`cgroup.create`), or None. A cgroup the
    plan promised but that cannot be made raises: the run does not go on without it."""
    from grader.sandbox import cgroup
    if "cgroup" not in plan.layers:
        return None
    return cgroup.create(limits.processes, limits.memory_mb)


def end_run(group, owner) -> None:
    """After the child ended: kill everything left in its cgroup and everything of its
    uid, then remove the cgroup and let go of the uid."""
    from grader.sandbox import cgroup, uids
    try:
        if group is not None:
            cgroup.kill(group)
    finally:
        if owner is not None:
            uids.release(owner)
        if group is not None:
            cgroup.remove(group)


def out_of_memory(group) -> bool:
    """Whether the kernel killed a process of the run for going over its cgroup's memory."""
    from grader.sandbox import cgroup
    return group is not None and cgroup.oom_kills(group) > 0


def describe(limits: Limits, plan: Plan, device: str, group=None, owner=None) -> dict:
    """What confined the run, for its results' provenance.isolation. `group`: its cgroup
    (cgroup.Cgroup), `owner`: its uid (uids.Reservation)."""
    memory = (f"RLIMIT_DATA {limits.memory_mb} MiB" if limits.memory_mb
              else "GPU memory fraction (address-space limits break CUDA)")
    if group is not None and group.limits.get("memory_mb"):
        memory += f"; cgroup {group.limits['memory_mb']} MiB for all its processes"
    common = {"memory": memory, "output": f"files of at most {limits.output_mb} MiB",
              "cpu": f"{limits.threads} core(s)", "time": f"{limits.time_s:.0f} s"
              + (f", {limits.cpu_s:.0f} s of CPU time" if limits.cpu_s is not None else ""),
              "device": device}
    if group is not None:
        common["cgroup"] = {"processes": group.limits.get("processes"),
                            "memory_mb": group.limits.get("memory_mb"),
                            "kill": "cgroup.kill" if group.kill_file else "SIGKILL of cgroup.procs"}
    if plan.sandbox == "bwrap":
        return {"sandbox": "bubblewrap", "layers": ["bwrap", *plan.layers],
                "filesystem": "only system folders, the interpreter, the grader and the job's "
                              "own files are visible; only the job folder is writable",
                "network": "none (own network namespace)",
                "processes": f"own PID namespace, at most {limits.processes}",
                "user": "nobody, no capabilities", **common}
    from grader.sandbox import landlock
    root = os.geteuid() == 0 and owner is None
    nproc = "RLIMIT_NPROC ignored (root)" if root else f"at most {limits.processes} (RLIMIT_NPROC)"
    if group is not None and group.limits.get("processes"):
        nproc = f"at most {group.limits['processes']} in all (cgroup pids.max)"
    layers, abi = list(plan.layers), landlock.abi()
    if "landlock" in layers:
        filesystem = ("Landlock: reads the system, the interpreter, the grader and its own "
                      "inputs; writes only the job folder")
    else:
        filesystem = "NOT isolated: same user as the grader"
    net = []
    if "landlock" in layers and abi >= 4:
        net.append("no TCP (Landlock)")
    if "seccomp" in layers:
        net.append("no sockets but AF_UNIX (seccomp)")
    return {"sandbox": plan.sandbox if plan.sandbox == "landlock" else
            "none (bubblewrap unavailable or GRADER_SANDBOX=none)",
            "layers": layers, "missing": list(plan.missing), "why": dict(plan.why),
            "filesystem": filesystem, "network": ", ".join(net) or "NOT isolated",
            "processes": f"own session, {nproc}; what it leaves running is killed when it ends"
                         + (" (cgroup)" if group is not None else ""),
            "signals": ("only inside its own domain (Landlock)" if "landlock" in layers and abi >= 6
                        else "may signal the grader's other processes of its user"),
            "system calls": ("no ptrace, mount, namespaces, io_uring (seccomp)" if "seccomp" in layers
                             else "not filtered"),
            "user": (f"uid {owner.uid} of its own (owns only its job folder; every process "
                     "of it killed at the end), no capabilities, no new privileges"
                     if owner is not None else "same as the grader, no new privileges"
                     + (", no capabilities" if "nocaps" in layers else "")), **common}
