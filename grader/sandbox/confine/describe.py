"""What confined a run, for its results' provenance.isolation: each layer in words, and
what it lacked as codes (`lacks`), which the reports put into sentences
(report/terminal.py `weaknesses`) without reading the words back."""
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
    net_filtered = ("landlock" in layers and abi >= 4) or "seccomp" in layers
    signals_confined = "landlock" in layers and abi >= 6
    lacks = (["filesystem"] if plan.sandbox != "landlock" else []) + list(plan.missing)
    if group is not None and not group.limits.get("processes"):
        lacks.append("cgroup_limits")
    lacks += ([] if net_filtered else ["network"]) + ([] if signals_confined else ["signals"])
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
            "layers": layers, "missing": list(plan.missing), "why": dict(plan.why), "lacks": lacks,
            "filesystem": filesystem, "network": ", ".join(net) or "NOT isolated",
            "processes": f"own session, {nproc}; what it leaves running is killed when it ends"
                         + (" (cgroup)" if group is not None else ""),
            "signals": ("only inside its own domain (Landlock)" if signals_confined
                        else "may signal the grader's other processes of its user"),
            "system calls": ("no ptrace, mount, namespaces, io_uring (seccomp)" if "seccomp" in layers
                             else "not filtered"),
            "user": (f"uid {owner.uid} of its own (owns only its job folder; every process "
                     "of it killed at the end), no capabilities, no new privileges"
                     if owner is not None else "same as the grader, no new privileges"
                     + (", no capabilities" if "nocaps" in layers else "")), **common}
