"""The grader from a notebook cell (`from grader import colab`): `check()` grades the
running notebook's hooks and shows the result inline; `export()` grades the file to hand
in once more and writes it.

The notebook is read from its file, never from the kernel's memory: Colab's own request
for the open notebook (what the browser shows, saved or not), else an explicit `path=`,
Jupyter's session file (`JPY_SESSION_NAME`, ipykernel's `__session__`, VS Code's
`__vsc_ipynb_file__`), else the most recently saved notebook in Drive's `Colab Notebooks`
folder. Its bytes are written into a private temporary folder and graded exactly as
`grade --local FILE` grades a file (grader.grading.grade_submission, the same rubric,
data, cache and confinement): the hooks run in the sandboxed child, never in the
notebook's kernel. The notebook's own cells that call this API are dropped by the loader
like any other top-level statement (grader.load.notebook), so checking never recurses.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.failures import SubmissionError, exit_status
from grader.files import write_atomic
from grader.grading import grade_submission
from grader.i18n import _, choose, use
from grader.report.escape import rich_text
from grader.report.folder import write_reports
from grader.report.notebook import OneLineProgress, in_notebook, show_picture
from grader.report.record import Results
from grader.report.results import score_line
from grader.report.terminal import render_tables, weaknesses
from grader.rubric import load_rubric

DRIVE = Path("/content/drive/MyDrive")
DRIVE_NOTEBOOKS = DRIVE / "Colab Notebooks"
# On a mounted Drive the download, the decoded images and the baseline's runs outlive the
# Colab VM, so the next session's check starts in seconds instead of downloading again.
DRIVE_CACHE = DRIVE / "tinycnn-grader-cache"
COLAB_TIMEOUT_S = 30   # Colab's frontend answers in well under a second; big notebooks take longer
_said_confinement = False   # the fallback is explained once per kernel, not at every check
_said: dict[str, bool] = {}  # the same for the Drive cache


@dataclass(frozen=True)
class Notebook:
    """The notebook to grade: its name as the student knows it, its bytes, and where they
    came from (`colab`, `path`, `jupyter`, `drive`)."""
    name: str
    content: bytes
    how: str
    path: Path | None = None


@dataclass
class Check:
    """What check() and export() return: the score, the folder of reports, the results
    object. Shows nothing as a cell's last value (the cell has shown the result already)."""
    score: float
    max_score: float
    status: int
    reports: Path
    results: Results = field(repr=False)
    handed_in: Path | None = None

    def _ipython_display_(self):
        pass


def find_notebook(path: str | os.PathLike | None = None, *, colab=None, env=None,
                  user_ns=None, drive: Path = DRIVE_NOTEBOOKS) -> Notebook:
    """The running notebook, found the first of these ways: an explicit `path` (spaces
    are fine: it is never passed through a shell), Colab's `get_ipynb` request, Jupyter's
    session path, Drive's most recently saved notebook. `colab`, `env`, `user_ns` and
    `drive` stand in for the real ones in tests."""
    env = os.environ if env is None else env
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise SubmissionError("no_submission", _("{path} does not exist").format(path=p),
                                  hint=_("Give check() or export() the notebook's path, e.g. "
                                         "path=\"/content/drive/MyDrive/Colab Notebooks/lab.ipynb\"."))
        return Notebook(p.name, p.read_bytes(), "path", p)
    got = _from_colab(colab)
    if got is not None:
        return got
    user_ns = _user_ns() if user_ns is None else user_ns
    for candidate in (env.get("JPY_SESSION_NAME"), user_ns.get("__session__"),
                      user_ns.get("__vsc_ipynb_file__")):
        if candidate and str(candidate).endswith(".ipynb"):
            p = Path(str(candidate)).expanduser()
            if p.is_file():  # JPY_SESSION_NAME may be relative to the server's folder
                return Notebook(p.name, p.read_bytes(), "jupyter", p)
    saved = sorted(drive.glob("*.ipynb"), key=lambda p: p.stat().st_mtime) if drive.is_dir() else []
    if saved:
        p = saved[-1]
        print(_("Grading {name}, the most recently saved notebook in {folder}; pass "
                "path=\"...\" to choose another.").format(name=p.name, folder=drive))
        return Notebook(p.name, p.read_bytes(), "drive", p)
    raise SubmissionError(
        "no_submission", _("could not find this notebook's file"),
        hint=_("Pass its path: check(path=\"lab.ipynb\") (in Colab, File > Save, then mount "
               "Drive and use path=\"/content/drive/MyDrive/Colab Notebooks/<name>.ipynb\")."))


def _from_colab(colab) -> Notebook | None:
    """Colab's frontend sends the open notebook's JSON (`{"ipynb": {...}}`): what the
    student sees, unsaved edits included. None outside Colab or when it does not answer."""
    if colab is None:
        try:
            from google.colab import _message as colab  # noqa: PLC0415 - only in Colab
        except ImportError:
            return None
    try:
        reply = colab.blocking_request("get_ipynb", request="", timeout_sec=COLAB_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - a timeout or a frontend that went away: try the others
        return None
    if not isinstance(reply, dict) or not isinstance(reply.get("ipynb"), dict):
        return None
    nb = reply["ipynb"]
    name = str(((nb.get("metadata") or {}).get("colab") or {}).get("name") or "notebook.ipynb")
    name = Path(name.replace("\\", "/")).name or "notebook.ipynb"
    if not name.endswith(".ipynb"):
        name += ".ipynb"
    return Notebook(name, json.dumps(nb, ensure_ascii=False, indent=1).encode("utf-8"), "colab")


def _user_ns() -> dict:
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return dict(getattr(shell, "user_ns", {}) or {}) if shell is not None else {}


def cache_folder(drive: Path = DRIVE) -> Path | None:
    """Where the data and baselines are kept: GRADER_CACHE_DIR when set, else a folder on
    Drive when Drive is mounted (said once), else the grader's default (None)."""
    if os.environ.get("GRADER_CACHE_DIR") or not drive.is_dir():
        return None
    folder = drive / DRIVE_CACHE.name
    if not _said.get("drive"):
        print(_("The data set and the baseline are kept on your Drive: {folder}").format(folder=folder))
        _said["drive"] = True
    return folder


def check(rubric: str = "cifar10", quick: bool = True, path=None, lang: str | None = None,
          data_dir=None, *, out="grade-report", device: str = "auto", use_cache: bool = True,
          notebook: Notebook | None = None) -> Check:
    """Grade the running notebook as `grade --local NOTEBOOK [--quick]` would, and show
    the rubric table, the score, the curves and any failure (its cell and line) inline.
    `data_dir` defaults to GRADER_DATA_DIR when set, else the data set is downloaded, into
    Drive when it is mounted (cache_folder)."""
    nb = notebook or find_notebook(path)
    if data_dir is None and os.environ.get("GRADER_DATA_DIR"):
        data_dir = os.environ["GRADER_DATA_DIR"]
    cache = cache_folder()
    spec = load_rubric(rubric)
    use(choose(lang, spec.language))
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="grader-notebook-") as tmp:  # mode 0700
        file = Path(tmp) / nb.name
        file.write_bytes(nb.content)
        print(_("Grading {path} with rubric {rubric}").format(path=nb.name, rubric=spec.name)
              + (" " + _("(quick, unofficial)") if quick else ""))
        with OneLineProgress() as progress:
            results = grade_submission(submission=file, rubric=spec,
                                       data_dir=Path(data_dir) if data_dir else None,
                                       quick=quick, device=device, use_cache=use_cache,
                                       cache_dir=cache, artifacts=out, on_event=progress)
    files = write_reports(results, out)
    _show(results, files)
    return Check(results.score, results.max_score, exit_status(results, None), out, results)


def export(rubric: str = "cifar10", quick: bool = True, path=None, lang: str | None = None,
           data_dir=None, *, to=None, as_zip: bool = False, out="grade-report",
           device: str = "auto") -> Path:
    """Grade the notebook's file once more and write that exact file to hand in (into the
    working folder, or `to`): `<name>.ipynb` stays the student's own, so the hand-in is
    `<stem>-handin.ipynb` (or `.zip` with the notebook and answers.md). Returns its path."""
    nb = find_notebook(path)
    graded = check(rubric, quick, lang=lang, data_dir=data_dir, out=out, device=device, notebook=nb)
    stem = Path(nb.name).stem
    target = Path(to) if to is not None else Path.cwd() / f"{stem}-handin.{'zip' if as_zip else 'ipynb'}"
    if as_zip:
        write_atomic(target, _zipped(nb))
    else:
        write_atomic(target, nb.content)
    print(_("Hand-in file written: {path} ({score})").format(path=target, score=score_line(graded.results)))
    _offer_download(target)
    return target


def _zipped(nb: Notebook) -> bytes:
    """The notebook and its written answers (the markdown from the `Written answers`
    heading on) as answers.md, for a course that collects both."""
    import io
    cells = json.loads(nb.content.decode("utf-8-sig")).get("cells", [])
    text, inside = [], False
    for cell in cells:
        source = "".join(cell.get("source", [])) if isinstance(cell.get("source"), list) \
            else str(cell.get("source", ""))
        heading = cell.get("cell_type") == "markdown" and source.lstrip().startswith("#")
        first = source.strip().split("\n", 1)[0].lower()
        about = "answer" in first or "답안" in first
        if heading and about:
            inside = True
        elif inside and (cell.get("cell_type") != "markdown" or heading):
            break
        if inside:
            text.append(source.strip())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(nb.name, nb.content)
        if text:
            z.writestr("answers.md", "\n\n".join(text) + "\n")
    return buf.getvalue()


def _offer_download(target: Path) -> None:
    """In Colab the working folder is the VM's: start the browser's download too."""
    try:
        from google.colab import files  # noqa: PLC0415 - only in Colab
    except ImportError:
        return
    try:
        files.download(str(target))
    except Exception:  # noqa: BLE001 - a blocked pop-up: the path was printed already
        pass


def _show(results: Results, files: dict) -> None:
    """The final screen (rich renders it as HTML in a notebook), the curves picture, and
    the confinement's fallback said once per kernel."""
    global _said_confinement
    from rich.console import Console
    console = Console(force_jupyter=in_notebook() or None, width=110)
    isolation = results.provenance.isolation or {}
    lacks = weaknesses(isolation)
    if lacks and not _said_confinement:
        _said_confinement = True
        console.print(rich_text(_(
            "Bubblewrap cannot run here (Colab's container and many laptops lack it), so your "
            "hooks ran in a child process confined by {sandbox}. That is enough for checking "
            "your own code on your own machine, and this score is advisory either way: the "
            "official grade comes from the course's own run.").format(
                sandbox=isolation.get("sandbox") or "none"), style="yellow"))
        for line in lacks:
            console.print(rich_text("  " + line, style="dim"))
    console.print(render_tables(results, confinement=False))
    for name in ("curves",):
        if name in files:
            show_picture(files[name])
    print(score_line(results))
    if results.failure:
        print(_("Could not be graded: {summary}").format(summary=results.failure.summary))
