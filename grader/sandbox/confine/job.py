"""One run's confinement around it: its uid, its inputs shown to it, its cgroup, and the
end of all of them."""
from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from grader.sandbox.confine.planning import Limits, Plan


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
