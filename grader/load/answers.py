"""Written answers: found in the submission, shown in every report, graded by a person.

The grader does not pretend to grade prose. A rubric's `manual` items become rubric
items whose points stay pending (tagged "pending", not counted in the score) until a
person grades them; every output says so. Their status is "failed": Gradescope, whose
results.json form this is, knows only passed and failed, and shows a test without a
status at its full (here 0 of 0) points as passed. Nothing here runs student code: files are read
as text and notebooks are parsed.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from grader.i18n import _, ngettext
from grader.paths import ROOT

MAX_CHARS = 20_000  # a page or two of prose; more is cut with a note
PLACEHOLDER = "(your answer here)"
TEMPLATE = ROOT / "student_template"
TEMPLATES = (TEMPLATE, ROOT / "student_template_ko")  # an unanswered copy of either is no answer


def collect_answers(submission, items) -> dict[str, dict]:
    """id -> {"text", "source"}; text is None when no answer was found, and source then
    says where it was looked for."""
    return {m.id: _find(submission, m) for m in items}


PENDING = "pending"  # the tag of a rubric item a person has yet to grade


def is_pending(item: dict) -> bool:
    return PENDING in item.get("tags", ())


def manual_items(items, answers: dict[str, dict]) -> list[dict]:
    """The rubric items ("tests") for written answers: 0 of their points, pending."""
    out = []
    for m in items:
        found = answers.get(m.id) or {"text": None, "source": _("no submission")}
        pending = ngettext("Pending manual grading ({points} point).",
                           "Pending manual grading ({points} points).",
                           1 if m.points == 1 else 2).format(points=f"{m.points:g}")
        if found["text"]:
            shown = pending + " " + _("Answer from {source}:").format(source=found["source"]) + \
                "\n\n" + found["text"]
        else:
            shown = pending + " " + _("No answer found ({source}).").format(source=found["source"])
        out.append({"name": m.title, "score": 0.0, "max_score": float(m.points),
                    "status": "failed", "output": shown, "tags": [m.id, "manual", PENDING],
                    "question": m.question, "answer": found["text"],
                    "answer_source": found["source"]})
    return out


def _find(submission, item) -> dict:
    if submission is None:
        return {"text": None, "source": _("the submission could not be loaded")}
    if submission.notebook is not None:
        text = _from_notebook(submission.notebook, item)
        if text:
            return _answer(text, _("{notebook}, the cells under its heading").format(
                notebook=submission.notebook.name))
    if submission.folder is not None:
        path = submission.folder / item.file
        if path.is_symlink():  # e.g. a cloned repo pointing at the grader's own files
            return {"text": None, "source": _("{file} is a symbolic link; hand in the file "
                                              "itself").format(file=item.file)}
        if path.is_file():
            return _answer(path.read_bytes()[:4 * MAX_CHARS].decode("utf-8", "replace"), item.file)
        return {"text": None, "source": _("no {file} in the submission folder").format(file=item.file)}
    if submission.notebook is not None:
        return {"text": None, "source": _("no markdown heading naming `{id}` or \"{title}\" in "
                                          "{notebook}").format(id=item.id, title=item.title,
                                                               notebook=submission.notebook.name)}
    return {"text": None, "source": _("a single .py file carries no {file}; hand in the folder "
                                      "(or a .zip of it) instead").format(file=item.file)}


def _answer(text: str, source: str) -> dict:
    text = _clean(text)
    if not text or any((t / source).is_file() and text == _clean((t / source).read_text())
                       for t in TEMPLATES):
        return {"text": None, "source": _("{source} is still the template's, unanswered").format(
            source=source)}
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "\n\n" + _("[... cut at {n} characters]").format(n=f"{MAX_CHARS:,}")
    return {"text": text, "source": source}


def _clean(text: str) -> str:
    """Without the template's comments and placeholder."""
    return re.sub(r"<!--.*?-->", "", text, flags=re.S).replace(PLACEHOLDER, "").strip()


def _from_notebook(path: Path, item) -> str | None:
    """The markdown cells from a heading that names the item (its id or title) up to the
    next heading or code cell."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - the hooks' loader reports an unreadable notebook
        return None
    keys = {_norm(item.id), _norm(item.title)}
    taken, inside = [], False
    for cell in nb.cells:
        lines = cell.source.strip().splitlines() if cell.cell_type == "markdown" else []
        heading = lines[0] if lines and lines[0].startswith("#") else None
        if inside and (cell.cell_type != "markdown" or heading):
            break
        if heading and any(k and k in _norm(heading) for k in keys):
            inside = True
            taken.append("\n".join(lines[1:]))
        elif inside:
            taken.append(cell.source)
    return "\n\n".join(t.strip() for t in taken if t.strip()) or None


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
