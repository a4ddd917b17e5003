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

Where each part lives: `planning` (which layers a run gets, `Limits`), `bwrap` (the
sandbox's command line), `layers` (what a process applies to itself: the child's fallback
layers, preexec, the grader's own guard), `job` (one run's uid, inputs and cgroup),
`leftovers` (what a run leaves behind), `cpus` (the cores this process may use) and
`describe` (the record of what was in force). Callers use the names below.
"""
from grader.sandbox.confine.bwrap import NOBODY, SYSTEM_DIRS, bwrap_works, interpreter_paths, wrap
from grader.sandbox.confine.cpus import Cpus, affinity_cores, cpu_count, cpu_set, usable_cpus
from grader.sandbox.confine.describe import describe
from grader.sandbox.confine.job import (SCRATCH_KINDS, end_run, hand_over, out_of_memory, own_uid,
                                        show_input, start_cgroup)
from grader.sandbox.confine.layers import (DEVICES, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, _libc, become,
                                           child_rules, die_with_parent, drop_bounding_set,
                                           drop_capabilities, enter, guard_grader, preexec,
                                           preexec_from, preexec_spec)
from grader.sandbox.confine.leftovers import (SHARED_WRITABLE, kill_leftovers, kill_marked,
                                              processes, remove_left_entries, shared_entries)
from grader.sandbox.confine.planning import (FALLBACK_LAYERS, MODES, ROOT_ONLY, Limits, Plan,
                                             SandboxUnavailable, cgroup_missing, fallback_available,
                                             plan, uid_missing)

__all__ = [
    "NOBODY", "SYSTEM_DIRS", "bwrap_works", "interpreter_paths", "wrap",
    "Cpus", "affinity_cores", "cpu_count", "cpu_set", "usable_cpus",
    "describe",
    "SCRATCH_KINDS", "end_run", "hand_over", "out_of_memory", "own_uid", "show_input", "start_cgroup",
    "DEVICES", "PR_SET_DUMPABLE", "PR_SET_NO_NEW_PRIVS", "_libc", "become", "child_rules",
    "die_with_parent", "drop_bounding_set", "drop_capabilities", "enter", "guard_grader", "preexec",
    "preexec_from", "preexec_spec",
    "SHARED_WRITABLE", "kill_leftovers", "kill_marked", "processes", "remove_left_entries",
    "shared_entries",
    "FALLBACK_LAYERS", "MODES", "ROOT_ONLY", "Limits", "Plan", "SandboxUnavailable",
    "cgroup_missing", "fallback_available", "plan", "uid_missing",
]
