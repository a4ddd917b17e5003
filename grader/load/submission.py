"""Find and normalise a submission: a package folder, a .py file, a notebook or a .zip
of one of these, copied into a private work folder as Python source the child imports.

Nothing here runs student code: notebooks are parsed, archives are unpacked with checks.
"""
from __future__ import annotations

import hashlib
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.failures import SubmissionError
from grader.i18n import _
from grader.load.imports import helper_files
from grader.load.notebook import notebook_to_source
from grader.load.template import PACKAGE_FILES

MAX_SOURCE_BYTES = 5 * 2**20      # a lab's hooks are a few KB; 5 MB is no honest submission
MAX_ARCHIVE_BYTES = 50 * 2**20    # unpacked size of a .zip (notebooks with outputs are big)
MAX_ARCHIVE_FILES = 2000
MAX_HELPER_FILES = 200            # helper modules copied beside the hook files
# A helper module under one of these names would hide the real one from the student's
# code, torch and the grader (sys.path puts the submission's folder first).
PROTECTED_MODULES = frozenset(sys.stdlib_module_names) | {"torch", "torchvision", "numpy", "PIL",
                                                          "grader", "submission"}


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
        raise SubmissionError("no_submission", _("{path} does not exist").format(path=path))
    workdir.mkdir(parents=True, exist_ok=True)
    name = path.resolve().name.removesuffix(path.suffix) if path.is_file() else path.resolve().name
    sub = _load(path, workdir, notes=[])
    sub.name, sub.origin = name, path
    return sub


def _load(path: Path, workdir: Path, notes: list[str], depth: int = 0,
          archive: Path | None = None) -> Submission:
    """`archive`: the .zip `path` was unpacked from, which messages name instead of the
    private folder it was unpacked into."""
    if path.is_dir():
        return _load_dir(path, workdir, notes, depth, archive)
    suffix = path.suffix.lower()
    if suffix == ".py":
        _check_size(path)
        # The file keeps its name, so messages name it; in a folder of its own that is
        # not on sys.path, so a `torch.py` cannot shadow torch.
        target = workdir / "file" / _plain_name(path.name, "submission.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_source(path, target, notes)
        return _made("file", target, notes)
    if suffix == ".ipynb":
        _check_size(path, MAX_ARCHIVE_BYTES, hint=(
            "Clear its outputs (Colab: Edit > Clear all outputs; Jupyter: Edit > Clear "
            "Outputs of All Cells), save, and hand it in again: plots and printed training "
            "logs make a notebook large, and the grader only needs its code."), code="bad_notebook")
        source, skipped = notebook_to_source(path)
        target = workdir / "notebook" / _plain_name(f"{path.stem}.py", "notebook.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
        sub = _made("notebook", target, notes + skipped)
        sub.notebook = path
        return sub
    if suffix == ".zip" and depth == 0:
        unpacked = workdir / "unzipped"
        _safe_unzip(path, unpacked)
        sub = _load(unpacked, workdir, notes, depth + 1, archive=path)
        sub.kind += " in zip"
        return sub
    raise SubmissionError("no_submission", _("{name} is not a submission").format(name=path.name),
                          expected=_("a folder, .py, .ipynb or .zip"), got=path.suffix or _("no suffix"))


def _load_dir(path: Path, workdir: Path, notes: list[str], depth: int,
              archive: Path | None = None) -> Submission:
    if any((path / f"{stem}.py").is_file() for stem in PACKAGE_FILES):
        sub = _made("package", _copy_package(path, workdir / "package", notes), notes)
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
        return _load_dir(subdirs[0], workdir, notes, depth + 1, archive)
    expected = _("a folder with transforms.py / model.py / improvements.py, or exactly one "
                 ".py or .ipynb file")
    if archive is not None:  # the unpacked folder is the grader's; name the zip and its content
        raise SubmissionError(
            "no_submission", _("{name} holds no submission").format(name=archive.name),
            expected=expected, got=_listing(workdir / "unzipped"),
            hint=_("Zip your copy of student_template/ (the folder itself, or its files), or "
                   "your one .py or .ipynb file."))
    found = ", ".join(p.name for p in candidates) or _("no .py or .ipynb files")
    raise SubmissionError(
        "no_submission", _("{path} does not look like a submission").format(path=path),
        expected=expected, got=found,
        hint=_("Point grade at your copy of student_template/ (e.g. `grade --local "
               "student_template`)."))


def _copy_package(path: Path, target: Path, notes: list[str]) -> Path:
    """The hook files and the helper modules beside them (`vgg.py`, a `models/` package)
    that they may import, as Python does when the student runs their own folder."""
    target.mkdir(parents=True, exist_ok=True)
    for stem in PACKAGE_FILES:
        if (path / f"{stem}.py").is_symlink():  # would copy whatever it points at
            raise SubmissionError("no_submission", _("{name} is a symbolic link").format(name=f"{stem}.py"),
                                  hint=_("Hand in the file itself, not a link to it."))
    helpers, skipped = _helpers(path)
    hook_files = [path / f"{stem}.py" for stem in PACKAGE_FILES if (path / f"{stem}.py").is_file()]
    files = hook_files + helpers
    total = sum(f.stat().st_size for f in files)
    if total > MAX_SOURCE_BYTES:
        raise SubmissionError("no_submission", "the submission's source is too large",
                              expected=f"at most {MAX_SOURCE_BYTES // 2**20} MB", got=f"{total:,} bytes")
    for f in files:
        dest = target / f.relative_to(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        _copy_source(f, dest, notes, f.relative_to(path).as_posix())
    if skipped:
        notes.append(f"Not copied: {'; '.join(skipped)}.")
    imported = helper_files(path, hook_files, everywhere=True)  # directly or through each other
    unused = [h for h in helpers if h.parent == path and h not in imported]
    if unused:
        names = ", ".join(h.name for h in unused)
        notes.append(f"{names}: not imported by {', '.join(f.name for f in hook_files)}, so "
                     f"nothing in it is graded (hooks are read from "
                     f"{', '.join(s + '.py' for s in PACKAGE_FILES[1:])}).")
    return target


def _helpers(path: Path) -> tuple[list[Path], list[str]]:
    """Helper modules: the folder's other .py files and its Python packages (a subfolder
    with __init__.py), up to 3 levels deep; and what was left out, with the reason."""
    found, skipped = [], []

    def walk(folder: Path, depth: int):
        for p in sorted(folder.iterdir()):
            top = p.relative_to(path).parts[0].removesuffix(".py")
            if p.name.startswith((".", "__pycache__")) or (depth == 0 and top in PACKAGE_FILES):
                continue
            if p.is_symlink():
                skipped.append(f"{p.relative_to(path)} (a symbolic link)")
            elif depth == 0 and top in PROTECTED_MODULES and (
                    p.suffix == ".py" or (p / "__init__.py").is_file()):
                skipped.append(f"{p.name} (it would hide Python's or the grader's own "
                               f"module `{top}`; rename it)")
            elif p.is_file() and p.suffix == ".py":
                found.append(p)
            elif p.is_dir() and (p / "__init__.py").is_file() and depth < 3:
                walk(p, depth + 1)
    walk(path, 0)
    if len(found) > MAX_HELPER_FILES:
        raise SubmissionError("no_submission", f"the folder holds {len(found)} other Python "
                              f"files besides the hooks", expected=f"at most {MAX_HELPER_FILES}",
                              hint="Hand in your copy of student_template/ and the modules it "
                                   "imports, not a whole project or environment.")
    return found, skipped


def _copy_source(src: Path, dest: Path, notes: list[str], shown: str | None = None) -> None:
    """Copy a .py file for the child to import. Python reads source as UTF-8 (a BOM is
    fine) unless a `# coding:` line says otherwise; a file saved by Korean Windows tools
    in CP949 (EUC-KR) fails there with a syntax error far from its cause, so it is
    converted to UTF-8 here, line for line, with a note; any other undecodable file is
    refused, naming the line."""
    import codecs
    import io
    import tokenize
    data = src.read_bytes()
    shown = shown or src.name
    try:
        data.decode("utf-8")
        dest.write_bytes(data)
        return
    except UnicodeDecodeError as e:
        bad = e
    try:  # a coding declaration Python honours
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(data).readline)
        if codecs.lookup(encoding).name != "utf-8":
            data.decode(encoding)
            dest.write_bytes(data)
            return
    except (SyntaxError, LookupError, UnicodeDecodeError):
        pass
    line = data[:bad.start].count(b"\n") + 1
    try:
        text = data.decode("cp949")
    except UnicodeDecodeError:
        raise SubmissionError(
            "syntax_error", _("{name} is not UTF-8 text (byte 0x{byte:02x} on line {line}): "
                              "save it as UTF-8").format(name=shown, byte=data[bad.start], line=line),
            hint=_("Python reads source files as UTF-8. In VS Code click the encoding in the "
                   "status bar, then Save with Encoding > UTF-8; in Notepad, Save As with "
                   "Encoding UTF-8.")) from None
    dest.write_bytes(text.encode("utf-8"))
    notes.append(_("{name} is saved in the Korean Windows encoding (CP949/EUC-KR), not UTF-8 "
                   "(line {line} is the first that differs): it was graded after converting it to "
                   "UTF-8. Save it as UTF-8 (VS Code: the encoding in the status bar > Save with "
                   "Encoding > UTF-8) so that Python reads it everywhere.").format(name=shown, line=line))


def _listing(folder: Path, most: int = 12) -> str:
    entries = sorted(str(p.relative_to(folder)) + ("/" if p.is_dir() else "")
                     for p in folder.rglob("*") if not p.name.startswith("."))
    if not entries:
        return "nothing (an empty zip)"
    return ", ".join(entries[:most]) + (f", ... ({len(entries)} in all)" if len(entries) > most else "")


def _plain_name(name: str, fallback: str) -> str:
    """The handed-in name when it is an ordinary file name, else `fallback`."""
    ok = name.isprintable() and not name.startswith(".") and len(name) <= 120 and "/" not in name
    return name if ok else fallback


def _made(kind: str, source: Path, notes: list[str]) -> Submission:
    return Submission(name="", origin=source, kind=kind, source=source,
                      digest=source_digest(source), notes=notes)


def source_digest(source: Path) -> str:
    files = sorted(source.rglob("*.py"), key=lambda f: f.relative_to(source).as_posix()) \
        if source.is_dir() else [source]
    h = hashlib.sha256()
    for f in files:
        name = f.relative_to(source).as_posix() if source.is_dir() else f.name
        h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _check_size(path: Path, limit: int = MAX_SOURCE_BYTES, hint: str | None = None,
                code: str = "no_submission"):
    size = path.stat().st_size
    if size > limit:
        raise SubmissionError(code, f"{path.name} is too large to be a submission",
                              expected=f"at most {limit // 2**20} MB", got=f"{size:,} bytes",
                              hint=hint)


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
