"""Turn a Colab/Jupyter notebook into the Python source of its definitions.

Kept, in cell order: imports, function and class definitions, and plain constant
assignments (`EPOCHS = 10`, `MEAN = (0.5,)`). Dropped: shell lines (`!pip ...`), magics
(`%matplotlib`, `%%time`), imports that only serve plots or Colab, and every other
top-level statement (training loops, downloads, plots, `transform = T.Compose(...)`).
Later cells win, as when a student re-runs a cell with a new version.
Nothing is executed here: cells are parsed with `ast`.

The source carries its own map back to the notebook, for the child's messages
(grader.sandbox.hooks.SourceMap): a header naming the notebook and the top-level names it
dropped, and before each kept statement a `# --- cell N, line L` marker followed by the
statement's lines exactly as the cell has them, so line L + k of the cell is the k-th
line after the marker. N counts every cell, markdown ones too, as the notebook shows them.
"""
from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

from grader.failures import SubmissionError
from grader.i18n import _

KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Imports that only exist in Colab or Jupyter, or serve plots, tables, progress bars or
# uploads, never hooks: a notebook's `import seaborn` must not fail a grading.
NOTEBOOK_ONLY_MODULES = ("google.colab", "IPython", "matplotlib", "seaborn", "tqdm", "ipywidgets",
                         "pandas", "plotly", "torchsummary", "torchinfo", "wandb", "tensorboard",
                         "torch.utils.tensorboard")
HEADER = "# grader: the definitions kept from "   # + the notebook's name
DROPPED = "# grader: not kept: "                   # + JSON {name: "cell N, line L"}
MARKER = "# --- cell "                             # + "N, line L"
DATA = "# grader: data: "                          # + JSON [names bound to data sets, loaders]


def notebook_to_source(path: Path) -> tuple[str, list[str]]:
    """Return (source, notes on what was skipped and why)."""
    import nbformat  # here: the child imports this module for its constants only
    try:
        # utf-8-sig: a notebook re-saved by an editor that writes a BOM is still JSON
        nb = nbformat.reads(path.read_bytes().decode("utf-8-sig"), as_version=4)
    except Exception as e:
        raise SubmissionError("bad_notebook", _("{name} is not a readable notebook: {error}").format(
                                  name=path.name, error=e),
                              hint=_("Download it again with File > Download > .ipynb.")) from None
    kept, notes, dropped, data = [], [], {}, []
    api: set[str] = set()  # names bound by `from grader import colab` and the like
    # Cells are numbered as Colab and Jupyter show them: every cell counts, markdown too,
    # so "cell 9" is the ninth cell the student scrolls past.
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        src, magics = _strip_magics(cell.source)
        if magics:
            notes.append(_("cell {n}: skipped shell/magic lines: {lines}").format(
                n=number, lines=", ".join(magics)))
        try:
            tree = ast.parse(src)
        except SyntaxError as e:
            notes.append(_("cell {n}: skipped, it does not parse (line {line}: {error})").format(
                n=number, line=e.lineno, error=e.msg))
            continue
        lines = src.splitlines()
        body = [(node, tree.body, i) for i, node in enumerate(tree.body)]
        while body:
            node, siblings, i = body.pop(0)
            if _main_guard(node):  # a script's `if __name__ == "__main__":` around its hooks
                inner = [(n, node.body, k) for k, n in enumerate(node.body)]
                if any(_keep(n) and not isinstance(n, (ast.Import, ast.ImportFrom)) for n, _s, _k in inner):
                    notes.append(_("cell {n}: the definitions inside `if __name__ == \"__main__\":` "
                                   "were taken as if written at the top level (a notebook runs that "
                                   "block, the grader reads only definitions)").format(n=number))
                body[:0] = inner
                continue
            if _grader_api(node, api):
                continue  # the notebook's own check()/export() cells: not the student's code
            if _keep(node):
                start, text = _text(node, siblings, i, lines)
                kept.append(f"{MARKER}{number}, line {start}\n{textwrap.dedent(text)}")
                continue
            first = ast.get_source_segment(src, node) or type(node).__name__
            notes.append(_("cell {n}: not run: {code}").format(n=number, code=first.splitlines()[0][:70]))
            for name in _bound_names(node):
                dropped[name] = f"cell {number}, line {node.lineno}"
                if _loads_data(first):
                    data.append(name)
    header = f"{HEADER}{path.name}\n{DROPPED}{json.dumps(dropped)}\n{DATA}{json.dumps(sorted(set(data)))}\n"
    return header + "\n" + "\n\n".join(kept) + "\n", notes


def _text(node: ast.stmt, body: list[ast.stmt], i: int, lines: list[str]) -> tuple[int, str]:
    """(its first line in the cell, the statement as the cell has it, comments included),
    or rebuilt when it shares a line with a neighbour (`EPOCHS = 3; train()`)."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    shares = (i > 0 and body[i - 1].end_lineno >= start) or \
        (i + 1 < len(body) and body[i + 1].lineno <= node.end_lineno)
    if shares:
        return start, ast.unparse(node)
    return start, "\n".join(lines[start - 1:node.end_lineno])


def _strip_magics(source: str) -> tuple[str, list[str]]:
    if source.lstrip().startswith("%%"):  # a cell magic owns the whole cell
        return "", [source.lstrip().splitlines()[0]]
    lines, magics = [], []
    for line in source.splitlines():
        if line.lstrip().startswith(("!", "%")):
            magics.append(line.strip()[:60])
            lines.append("")  # keep line numbers for syntax messages and the cell map
        else:
            lines.append(line)
    return "\n".join(lines), magics


def _keep(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        if isinstance(node, ast.ImportFrom) and node.level:
            return False  # `from .model import X` has no package to come from in a notebook
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        return not any(n == m or n.startswith(m + ".") for n in names for m in NOTEBOOK_ONLY_MODULES)
    if isinstance(node, KEPT):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = all(isinstance(t, ast.Name) or (isinstance(t, ast.Tuple) and all(
            isinstance(e, ast.Name) for e in t.elts)) for t in targets)  # `mean, std = (.5,), (.5,)`
        return names and _is_constant(node.value)
    return False


def _grader_api(node: ast.stmt, api: set[str]) -> bool:
    """A statement that only serves the grader's notebook API (grader.colab): its import
    (in a `try:` that installs it when missing, too) or a call through it, `colab.check()`,
    `result = colab.export()`. Dropped without a note; the names it binds go into `api`."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        if getattr(node, "level", 0) or not all(n == "grader" or n.startswith("grader.") for n in names):
            return False
        api.update((a.asname or a.name).split(".")[0] for a in node.names)
        return True
    if isinstance(node, ast.Try):
        inner = node.body + [s for h in node.handlers for s in h.body] + node.orelse + node.finalbody
        return bool(inner) and all(_grader_api(s, api) for s in inner)
    value = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
    if isinstance(value, ast.Call):
        f = value.func
        while isinstance(f, ast.Attribute):
            f = f.value
        return isinstance(f, ast.Name) and f.id in api
    return False


def _main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":` (either way round), with no else."""
    if not isinstance(node, ast.If) or node.orelse or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    sides = [test.left, *test.comparators]
    return (len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides)
            and any(isinstance(x, ast.Constant) and x.value == "__main__" for x in sides))


def _loads_data(code: str) -> bool:
    """A statement that builds a data set or loader (or downloads): its names must never
    be advised to move into a hook, which would download inside the grading."""
    return any(w in code for w in ("download", "DataLoader", "datasets.", "Dataset(", "CIFAR",
                                   "MNIST", "ImageFolder", "load_dataset"))


def _bound_names(node: ast.stmt) -> list[str]:
    """The top-level names a dropped statement would have set: a hook that uses one of
    them fails with a NameError the child explains (grader.sandbox.worker)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
    targets = {ast.Assign: lambda n: n.targets, ast.AnnAssign: lambda n: [n.target],
               ast.AugAssign: lambda n: [n.target], ast.For: lambda n: [n.target],
               ast.With: lambda n: [i.optional_vars for i in n.items if i.optional_vars]}
    found = targets.get(type(node), lambda n: [])(node)
    return [n.id for t in found for n in ast.walk(t) if isinstance(n, ast.Name)]


def _is_constant(value: ast.expr) -> bool:
    try:
        ast.literal_eval(value)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
