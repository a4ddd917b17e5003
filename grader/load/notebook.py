"""Turn a Colab/Jupyter notebook into the Python source of its definitions.

Kept, in cell order: imports, function and class definitions, and plain constant
assignments (`EPOCHS = 10`, `MEAN = (0.5,)`). Dropped: shell lines (`!pip ...`), magics
(`%matplotlib`, `%%time`), imports that only serve plots or Colab, and every other
top-level statement (training loops, downloads, plots, `transform = T.Compose(...)`).
Later cells win, as when a student re-runs a cell with a new version.
Nothing is executed here: cells are parsed with `ast`.

The source carries its own map back to the notebook, for the child's messages
(SourceMap, below): a header naming the notebook and the top-level names it
dropped, and before each kept statement a `# --- cell N, line L` marker followed by the
statement's lines exactly as the cell has them, so line L + k of the cell is the k-th
line after the marker. N counts every cell, markdown ones too, as the notebook shows them.
"""
from __future__ import annotations

import ast
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from grader.failures import SubmissionError, student_traceback
from grader.i18n import _
from grader.load.template import PACKAGE_FILES

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


@dataclass
class SourceMap:
    """Where the source the child imports came from, so messages name the student's own
    file and line, or a notebook's cell (grader.load.notebook writes the map into the
    source it makes: a header, then a `# --- cell N, line L` marker per statement)."""
    root: Path                  # the submission: a package folder or one .py file
    notebook: str | None = None     # the notebook's name when the source was made from one
    dropped: dict = field(default_factory=dict)   # name -> "cell N, line L" not kept
    markers: list = field(default_factory=list)   # (file line, cell, cell line)
    data: set = field(default_factory=set)        # dropped names bound to data sets, loaders

    @classmethod
    def of(cls, submission: Path) -> SourceMap:
        root = Path(submission).resolve()
        if root.is_dir():
            return cls(root)
        try:
            lines = root.read_text(errors="replace").splitlines()
        except OSError:
            return cls(root)
        if len(lines) < 2 or not lines[0].startswith(HEADER) or not lines[1].startswith(DROPPED):
            return cls(root)
        try:  # a .py file could imitate the header; it only mislabels its own messages
            dropped = {str(k): str(v) for k, v in json.loads(lines[1].removeprefix(DROPPED)).items()}
            data = set(json.loads(lines[2].removeprefix(DATA))) if len(lines) > 2 and \
                lines[2].startswith(DATA) else set()
            markers = []
            for number, line in enumerate(lines, start=1):
                if line.startswith(MARKER):
                    cell, _, at = line.removeprefix(MARKER).partition(", line ")
                    markers.append((number, int(cell), int(at)))
        except (ValueError, AttributeError, TypeError):
            return cls(root)
        return cls(root, lines[0].removeprefix(HEADER), dropped, markers, {str(n) for n in data})

    @property
    def name(self) -> str:
        """The submission as the student calls it."""
        return self.notebook or (self.root.name if self.root.is_file() else
                                 ", ".join(f"{stem}.py" for stem in PACKAGE_FILES[1:]))

    def roots(self) -> list[Path]:
        return [self.root if self.root.is_dir() else self.root.parent]

    def locate(self, filename: str, lineno: int | None) -> str | None:
        """`model.py, line 12` or `lab.ipynb, cell 3, line 2`; None outside the submission."""
        path = Path(filename).resolve()
        if self.root.is_dir():
            if not path.is_relative_to(self.root):
                return None
            return f"{path.relative_to(self.root).as_posix()}, line {lineno}"
        if path != self.root:
            return None
        if self.notebook is None:
            return f"{self.root.name}, line {lineno}"
        before = [m for m in self.markers if lineno is not None and m[0] < lineno]
        if not before:
            return self.notebook
        at, cell, first = before[-1]
        return f"{self.notebook}, cell {cell}, line {first + lineno - at - 1}"

    def trace(self, e: BaseException) -> str:
        return student_traceback(e, self.roots(), locate=self.locate)
