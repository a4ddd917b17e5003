"""Writing files so that a reader, or a process killed half-way, never sees half of one.

The one atomic writer of the grader: reports, the gradebook's exports, cached baselines,
the child's result and the Gradescope bundle all go through `write_atomic`.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> Path:
    """Write to a temporary file beside `path`, flush it to disk, then rename it over
    `path`: a reader sees the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes it 0600; reports are for others to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, obj) -> Path:
    return write_atomic(path, json.dumps(obj, indent=2, default=str) + "\n")


def scratch(kind: str, parent: Path | None = None) -> tempfile.TemporaryDirectory:
    """A temporary folder named after this process (`grade-<pid>-...`), so that one a
    killed run leaves behind can be told from one a running grader still uses."""
    return tempfile.TemporaryDirectory(prefix=f"{kind}-{os.getpid()}-", dir=parent)


def sweep_scratch(*parents: Path, kinds=("grade", "baseline", "predict", ".partial")) -> list[Path]:
    """Remove the scratch folders under `parents` whose process is gone (a kill -9 leaves
    them: no cleanup ran). A folder of a live process, or of no known kind, is kept."""
    import shutil
    removed = []
    for parent in parents:
        for path in Path(parent).glob("*-*-*"):
            kind, _, rest = path.name.rpartition("-")[0].rpartition("-")
            if kind not in kinds or not rest.isdigit() or not path.is_dir() or path.is_symlink():
                continue
            if not _alive(int(rest)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
