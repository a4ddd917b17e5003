"""bubblewrap: whether it works here, and the command line that runs the child inside it."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path


NOBODY = 65534


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
