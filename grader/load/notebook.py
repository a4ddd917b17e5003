"""Turn a Colab/Jupyter notebook into the Python source of its definitions.

Kept, in cell order: imports, function and class definitions, and plain constant
assignments (`EPOCHS = 10`, `MEAN = (0.5,)`). Dropped: shell lines (`!pip ...`), magics
(`%matplotlib`, `%%time`), and every other top-level statement (training loops,
downloads, plots). Later cells win, as when a student re-runs a cell with a new version.
Nothing is executed here: cells are parsed with `ast`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from grader.failures import SubmissionError

KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Imports that only exist in Colab or Jupyter and serve plots or uploads, never hooks.
NOTEBOOK_ONLY_MODULES = ("google.colab", "IPython", "matplotlib", "seaborn", "tqdm", "ipywidgets")


def notebook_to_source(path: Path) -> tuple[str, list[str]]:
    """Return (source, notes on what was skipped and why)."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:
        raise SubmissionError("bad_notebook", f"{path.name} is not a readable notebook: {e}",
                              hint="Download it again with File > Download > .ipynb.") from None
    kept, notes = [], []
    cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(cells, start=1):
        src, magics = _strip_magics(cell.source)
        if magics:
            notes.append(f"cell {number}: skipped shell/magic lines: {', '.join(magics)}")
        try:
            tree = ast.parse(src)
        except SyntaxError as e:
            notes.append(f"cell {number}: skipped, it does not parse (line {e.lineno}: {e.msg})")
            continue
        for node in tree.body:
            if _keep(node):
                kept.append(f"# --- cell {number}\n{ast.unparse(node)}")
            else:
                first = ast.get_source_segment(src, node) or type(node).__name__
                notes.append(f"cell {number}: not run: {first.splitlines()[0][:70]}")
    return "\n\n".join(kept) + "\n", notes


def _strip_magics(source: str) -> tuple[str, list[str]]:
    if source.lstrip().startswith("%%"):  # a cell magic owns the whole cell
        return "", [source.lstrip().splitlines()[0]]
    lines, magics = [], []
    for line in source.splitlines():
        if line.lstrip().startswith(("!", "%")):
            magics.append(line.strip()[:60])
            lines.append("")  # keep line numbers for syntax messages
        else:
            lines.append(line)
    return "\n".join(lines), magics


def _keep(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        return not any(n == m or n.startswith(m + ".") for n in names for m in NOTEBOOK_ONLY_MODULES)
    if isinstance(node, KEPT):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return all(isinstance(t, ast.Name) for t in targets) and _is_constant(node.value)
    return False


def _is_constant(value: ast.expr) -> bool:
    try:
        ast.literal_eval(value)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
