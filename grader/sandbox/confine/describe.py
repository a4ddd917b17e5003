"""What confined a run, in words, for its results' provenance.isolation (`describe`),
and what that lacked, one line each, for the terminal and the batch (`weaknesses`)."""
from __future__ import annotations

import os

from grader.sandbox.confine.planning import Limits, Plan


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
