"""What a submission's source imports, read with ast and never run: the one walk behind the
parent's choice of helper modules to copy beside the hook files (load/submission.py) and
the child's check for modules that are not installed (sandbox/hooks.py)."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator


def imports(file: Path, everywhere: bool = False) -> Iterator[tuple[str, int, int]]:
    """(module, line, level) for each module an import statement of `file` names: `import
    a.b` gives a.b, `from a import b` a, `from . import b` b (level 1). Only the top-level
    statements, unless `everywhere` (inside functions and `try:` too). Nothing for a file
    that does not parse: importing it reports the syntax error with its line."""
    try:
        tree = ast.parse(file.read_bytes())
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree) if everywhere else tree.body:
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno, 0) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = [node.module] if node.module else [a.name for a in node.names]
            yield from ((name, node.lineno, node.level) for name in names if name)


def is_local(module: str, folder: Path) -> bool:
    """Whether `module`'s top-level name is one of the folder's own modules or packages."""
    top = module.split(".")[0]
    return (folder / f"{top}.py").is_file() or (folder / top).is_dir()


def helper_files(folder: Path, files: list[Path], everywhere: bool = False) -> list[Path]:
    """The folder's own .py modules that `files` import, directly or through each other, in
    the order they are found (`files` themselves not included)."""
    found, todo = [], list(files)
    while todo:
        for module, _line, _level in imports(todo.pop(0), everywhere):
            helper = folder / f"{module.split('.')[0]}.py"
            if helper.is_file() and helper not in files and helper not in found:
                found.append(helper)
                todo.append(helper)
    return found
