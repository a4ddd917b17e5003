"""The layout docs/architecture.md describes, held by tests: stage packages, imports that
point one way, the trust boundary, and a baseline cache key that sees every training file."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from grader.scoring import baseline_cache

GRADER = REPO / "grader"
# Lower layers never import higher ones (docs/architecture.md, "Layers").
LAYERS = {
    "foundation": ("grader", "grader.files", "grader.paths", "grader.i18n", "grader.failures",
                   "grader.records", "grader.rubric"),
    "stages": ("grader.load", "grader.sandbox", "grader.inspection", "grader.training",
               "grader.scoring", "grader.report"),
    "orchestration": ("grader.grading",),
    "front ends": ("grader.commands", "grader.batch", "grader.cli", "grader.colab"),
}
RANK = {prefix: i for i, prefixes in enumerate(LAYERS.values()) for prefix in prefixes}
CHILD_ONLY = ("grader.sandbox.worker", "grader.sandbox.explain", "grader.sandbox.hooks")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(GRADER.rglob("*.py")) if "_bundled" not in p.parts}


def imports(name: str) -> set[str]:
    """The grader modules `name` imports, anywhere in the file (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import module`
    return {m for m in found if m in MODULES and m != name}


def layer(name: str) -> int | None:
    """The layer of the most specific prefix naming `name`; None for a module no layer names."""
    named = [p for p in RANK if name == p or (p != "grader" and name.startswith(p + "."))]
    return RANK[max(named, key=len)] if named else None


def test_the_root_holds_at_most_eight_modules_and_the_stages_are_documented_packages():
    top = sorted(p.name for p in GRADER.glob("*.py"))
    assert len(top) <= 8, top
    for package in LAYERS["stages"] + ("grader.commands", "grader.batch"):
        init = GRADER / package.split(".")[1] / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} says what its package does"
        assert len(list(init.parent.glob("*.py"))) <= 12


def test_every_module_belongs_to_a_layer():
    assert all(layer(name) is not None for name in MODULES)


def test_imports_point_down_the_layers():
    upward = [(a, b) for a in MODULES for b in imports(a)
              if b != "grader" and layer(b) > layer(a)]
    assert upward == []


def test_no_import_cycles():
    graph = {name: imports(name) for name in MODULES}
    state: dict[str, str] = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


def test_only_the_sandbox_imports_student_code_or_the_worker():
    for name, path in MODULES.items():
        if name.startswith("grader.sandbox."):
            continue
        assert not imports(name) & set(CHILD_ONLY), f"{name} imports the child's modules"
        text = path.read_text()
        for needle in ("importlib", "exec_module", "runpy", "exec("):
            assert needle not in text, f"{name} loads code dynamically ({needle})"


def test_the_parent_side_imports_no_child_module_at_run_time():
    parent = [n for n in MODULES if n not in CHILD_ONLY]
    code = ("import importlib, sys\n"
            f"for name in {parent!r}: importlib.import_module(name)\n"
            f"print(sorted(m for m in {list(CHILD_ONLY)!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_baseline_key_changes_with_every_file_of_the_training_code(tmp_path):
    copy = tmp_path / "grader"
    shutil.copytree(GRADER, copy, ignore=shutil.ignore_patterns("__pycache__", "_bundled"))
    before = baseline_cache.grader_code_digest(copy)
    assert before == baseline_cache.grader_code_digest(GRADER)
    files = [p for package in baseline_cache.TRAINING_PACKAGES
             for p in sorted((copy / package).rglob("*.py"))]
    assert any(p.name == "augment.py" for p in files)  # the one a hand-kept list once missed
    for path in files:
        original = path.read_bytes()
        path.write_bytes(original + b"\n# changed\n")
        assert baseline_cache.grader_code_digest(copy) != before, path
        path.write_bytes(original)
    (copy / "training" / "new_module.py").write_text("X = 1\n")
    assert baseline_cache.grader_code_digest(copy) != before


@pytest.mark.parametrize("start", ["grader.sandbox.worker"])
def test_what_the_child_imports_to_train_is_in_the_cache_key(start):
    """A module the worker reaches outside the hashed packages must be one that cannot
    change a trained accuracy (messages, file writing, the hook table, data-set info, which
    imports a source makes)."""
    numeric_free = {"grader", "grader.failures", "grader.files", "grader.records", "grader.load",
                    "grader.load.datasets", "grader.load.imports", "grader.load.notebook",
                    "grader.load.template",
                    "grader.paths", "grader.rubric", "grader.rubric.parse", "grader.rubric.rules",
                    "grader.rubric.schema", "grader.i18n"}
    hashed = tuple(f"grader.{p}" for p in baseline_cache.TRAINING_PACKAGES)
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += imports(name)
    outside = {m for m in seen if not m.startswith(hashed)} - numeric_free
    assert outside == set()


def test_test_modules_never_import_each_other():
    """Shared helpers live in tests/support/ (or conftest): a test module imported by another
    works only when pytest happened to put its folder on sys.path first, so the importer
    fails when run alone."""
    tests = REPO / "tests"
    names = {p.stem for p in tests.rglob("test_*.py")}
    found = []
    suite = [p for p in sorted(tests.rglob("*.py")) if p.name.startswith(("test_", "conftest"))
             or "support" in p.relative_to(tests).parts]  # not the submissions it grades
    for path in suite:
        for node in ast.walk(ast.parse(path.read_bytes())):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                       [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.relative_to(REPO)}: {m}" for m in modules if m.split(".")[0] in names]
    assert found == []
