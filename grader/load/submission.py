"""Find and normalise a submission: a package folder, a .py file, a notebook or a .zip
of one of these, copied into a private work folder as Python source the child imports.

Nothing here runs student code: notebooks are parsed, archives are unpacked with checks.
"""
from __future__ import annotations

import hashlib
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.failures import SubmissionError
from grader.load.notebook import notebook_to_source
from grader.load.template import PACKAGE_FILES

MAX_SOURCE_BYTES = 5 * 2**20      # a lab's hooks are a few KB; 5 MB is no honest submission
MAX_ARCHIVE_BYTES = 50 * 2**20    # unpacked size of a .zip (notebooks with outputs are big)
MAX_ARCHIVE_FILES = 2000


@dataclass
class Submission:
    name: str             # the student id (file or folder name without suffix)
    origin: Path          # what was handed in
    kind: str             # "package", "file", "notebook" (+ " in zip")
    source: Path          # a folder or a .py file, ready for the child to import
    digest: str           # sha256 of the source the child imports
    notes: list[str] = field(default_factory=list)
    folder: Path | None = None    # the folder handed in (or unzipped): written answers live there
    notebook: Path | None = None  # the notebook handed in: its markdown cells hold answers


def load_submission(path: Path, workdir: Path) -> Submission:
    path = Path(path)
    if not path.exists():
        raise SubmissionError("no_submission", f"{path} does not exist")
    workdir.mkdir(parents=True, exist_ok=True)
    name = path.resolve().name.removesuffix(path.suffix) if path.is_file() else path.resolve().name
    sub = _load(path, workdir, notes=[])
    sub.name, sub.origin = name, path
    return sub


def _load(path: Path, workdir: Path, notes: list[str], depth: int = 0) -> Submission:
    if path.is_dir():
        return _load_dir(path, workdir, notes, depth)
    suffix = path.suffix.lower()
    if suffix == ".py":
        _check_size(path)
        target = workdir / "submission.py"  # a neutral name: `torch.py` must not shadow torch
        shutil.copyfile(path, target)
        return _made("file", target, notes)
    if suffix == ".ipynb":
        _check_size(path, MAX_ARCHIVE_BYTES)
        source, skipped = notebook_to_source(path)
        target = workdir / "submission.py"
        target.write_text(source)
        sub = _made("notebook", target, notes + skipped)
        sub.notebook = path
        return sub
    if suffix == ".zip" and depth == 0:
        unpacked = workdir / "unzipped"
        _safe_unzip(path, unpacked)
        sub = _load(unpacked, workdir, notes, depth + 1)
        sub.kind += " in zip"
        return sub
    raise SubmissionError("no_submission", f"{path.name} is not a submission",
                          expected="a folder, .py, .ipynb or .zip", got=path.suffix or "no suffix")


def _load_dir(path: Path, workdir: Path, notes: list[str], depth: int) -> Submission:
    if any((path / f"{stem}.py").is_file() for stem in PACKAGE_FILES):
        target = workdir / "package"
        target.mkdir(exist_ok=True)
        total = 0
        for stem in PACKAGE_FILES:
            src = path / f"{stem}.py"
            if src.is_symlink():  # would copy whatever it points at, e.g. the grader's files
                raise SubmissionError("no_submission", f"{src.name} is a symbolic link",
                                      hint="Hand in the file itself, not a link to it.")
            if src.is_file():
                total += src.stat().st_size
                shutil.copyfile(src, target / src.name)
        if total > MAX_SOURCE_BYTES:
            raise SubmissionError("no_submission", "the submission's source is too large",
                                  expected=f"at most {MAX_SOURCE_BYTES // 2**20} MB", got=f"{total:,} bytes")
        ignored = sorted(p.name for p in path.iterdir()
                         if p.is_file() and p.suffix == ".py" and p.stem not in PACKAGE_FILES)
        if ignored:
            notes.append(f"Only {', '.join(s + '.py' for s in PACKAGE_FILES)} are graded; "
                         f"ignored: {', '.join(ignored)}.")
        sub = _made("package", target, notes)
        sub.folder = path
        return sub
    candidates = [p for p in sorted(path.iterdir())
                  if p.suffix.lower() in (".py", ".ipynb") and not p.name.startswith(".")]
    if len(candidates) == 1:
        sub = _load(candidates[0], workdir, notes, depth)
        sub.folder = path
        return sub
    subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    if not candidates and len(subdirs) == 1 and depth < 3:  # e.g. a zip of the folder
        return _load_dir(subdirs[0], workdir, notes, depth + 1)
    found = ", ".join(p.name for p in candidates) or "no .py or .ipynb files"
    raise SubmissionError(
        "no_submission", f"{path} does not look like a submission",
        expected="a folder with transforms.py / model.py / improvements.py, or exactly one "
                 ".py or .ipynb file", got=found,
        hint="Point grade at your copy of student_template/ (e.g. `grade --local student_template`).")


def _made(kind: str, source: Path, notes: list[str]) -> Submission:
    return Submission(name="", origin=source, kind=kind, source=source,
                      digest=source_digest(source), notes=notes)


def source_digest(source: Path) -> str:
    files = sorted(source.glob("*.py")) if source.is_dir() else [source]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _check_size(path: Path, limit: int = MAX_SOURCE_BYTES):
    size = path.stat().st_size
    if size > limit:
        raise SubmissionError("no_submission", f"{path.name} is too large to be a submission",
                              expected=f"at most {limit // 2**20} MB", got=f"{size:,} bytes")


def _safe_unzip(archive: Path, dest: Path):
    """Refuse zip bombs and entries that would land outside `dest`."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.filename.startswith("__MACOSX/")]
            if len(infos) > MAX_ARCHIVE_FILES:
                raise SubmissionError("bad_archive", f"{archive.name} holds {len(infos)} files",
                                      expected=f"at most {MAX_ARCHIVE_FILES}")
            total = sum(i.file_size for i in infos)
            if total > MAX_ARCHIVE_BYTES:
                raise SubmissionError("bad_archive", f"{archive.name} unpacks to {total:,} bytes",
                                      expected=f"at most {MAX_ARCHIVE_BYTES // 2**20} MB")
            root = dest.resolve()
            for info in infos:
                target = (dest / info.filename).resolve()
                if not target.is_relative_to(root):
                    raise SubmissionError("bad_archive", f"{archive.name} has an entry outside "
                                          f"its folder: {info.filename}")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except zipfile.BadZipFile as e:
        raise SubmissionError("bad_archive", f"{archive.name} is not a valid zip file: {e}") from None
