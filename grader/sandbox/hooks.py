"""The student's hooks, imported in the child process only, with the baseline's as fallback.

This module imports untrusted code: the parent process never imports it.
"""
from __future__ import annotations

import ast
import difflib
import importlib.util
import inspect
import sys
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path

from grader.failures import EXITS, SubmissionError
from grader.i18n import gettext
import grader.load.imports as imports
from grader.load.notebook import SourceMap
from grader.load.template import CONSTANTS, FUNCTIONS, HOOK_NAMES, OPTIONAL, PACKAGE_FILES

@dataclass
class Hooks:
    values: dict            # hook name -> function or constant
    customised: list[str]   # the hooks the submission changed: defined, not the baseline's own
    notes: list[str] = field(default_factory=list)

    def __getattr__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def load_hooks(submission: Path, reference: Path, model_hook: str = "build_model") -> Hooks:
    """Import the submission and the reference; each missing hook falls back to the reference.

    `model_hook` is the function that builds the graded model: `build_model`, or an
    exercise's own (the SimpleCNN exercise grades `build_simple_cnn`), which has no
    fallback: without it there is nothing to grade.
    """
    ref = _namespace(reference, "_grader_reference")
    source = SourceMap.of(submission)
    _check_imports(source)
    own = _namespace(submission, "submission", source)
    values, defined = {}, []
    for name in HOOK_NAMES:
        if name in own:
            values[name], defined = own[name], defined + [name]
        else:
            values[name] = ref.get(name, OPTIONAL.get(name))
    # the template ships copies of the baseline's hooks: those are not the student's changes;
    # an exercise's own constants (PARAMETER_COUNTS) are answers its checks grade, not hooks
    customised = [name for name in defined
                  if name not in OPTIONAL and not _unchanged(own[name], ref.get(name))]
    if model_hook != "build_model":
        if model_hook not in own:
            raise SubmissionError("missing_hook", gettext(
                "this rubric grades the model that `{hook}(info)` builds, and the submission "
                "does not define it").format(hook=model_hook),
                expected=gettext("{hook}(info) in model.py").format(hook=model_hook),
                hint=gettext("Start from model.py in student_template/, where the exercise's "
                             "skeleton is."))
        values["build_model"] = own[model_hook]
        customised = [h for h in customised if h != "build_model"] + [model_hook]
        defined.append(model_hook)
    misses = _near_misses(own)
    if not defined and not any(hook in FUNCTIONS for _, hook in misses):
        raise _no_hooks(own, misses, source)
    notes = [gettext("`{name}` looks like the hook `{hook}`, which you did not define, so the "
                     "baseline's `{hook}` was used. Rename it if you meant it.").format(
                         name=name, hook=hook) for name, hook in misses]
    models = _models(own)
    if "build_model" not in defined and model_hook == "build_model" and models:
        notes.append(gettext("`{model}` is a model (an nn.Module subclass) in your submission, "
                             "but there is no build_model(info), so the baseline's model was "
                             "graded. Define build_model(info) returning `{model}(...)` to grade "
                             "yours.").format(model=models[0]))
    hooks = Hooks(values, customised, notes=notes)
    _check_types(hooks)
    return hooks


def _namespace(path: Path, module_name: str, source: SourceMap | None = None) -> dict:
    """Names defined by a .py file, or by a package's __init__, transforms, model and
    improvements (in that order, later files winning, as if one file)."""
    path = Path(path)
    source = source or SourceMap.of(path)
    names: dict = {}
    if path.is_dir():
        # lets `from model import TinyCNN` and `from vgg import VGG` (a helper module
        # beside model.py) work as when the student runs their own folder
        sys.path.insert(0, str(path))
        if (path / "__init__.py").exists():
            names.update(_public(_import(path / "__init__.py", module_name, source, package_dir=path)))
        else:  # still a package, so `from .model import TinyCNN` works between the files
            pkg = types.ModuleType(module_name)
            pkg.__path__ = [str(path)]
            sys.modules[module_name] = pkg
        for stem in PACKAGE_FILES[1:]:
            if (path / f"{stem}.py").exists():
                names.update(_public(_import(path / f"{stem}.py", f"{module_name}.{stem}", source)))
    else:  # one file, imported from its own folder, which stays off sys.path: a `torch.py`
        names.update(_public(_import(path, module_name, source)))  # shadows nothing
    return names


def _import(file: Path, module_name: str, source: SourceMap, package_dir: Path | None = None):
    spec = importlib.util.spec_from_file_location(
        module_name, file,
        submodule_search_locations=[str(package_dir)] if package_dir else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        where = source.locate(e.filename or str(file), e.lineno) or \
            f"{Path(e.filename or file).name}, line {e.lineno}"
        raise SubmissionError(
            "syntax_error", f"{where}: {e.msg}", got=(e.text or "").rstrip() or None,
            hint=gettext("Python could not parse this line; check brackets, colons and "
                         "indentation.")) from None
    except ModuleNotFoundError as e:
        raise SubmissionError(
            "import_error", gettext("{where} imports `{module}`, which is not installed where it "
                                    "is graded").format(where=_where(e, source, file), module=e.name),
            hint=_import_hint(source), trace=source.trace(e)) from None
    except EXITS:
        raise
    except BaseException as e:  # noqa: BLE001 - a BaseException of the student's own is theirs
        raise SubmissionError(
            "import_error", gettext("{where} raised {error} while being imported: {text}").format(
                where=_where(e, source, file), error=type(e).__name__, text=e),
            hint=gettext("Code at the top level of a file runs on import; keep only definitions "
                         "there (no training loops, downloads or plots)."),
            trace=source.trace(e)) from None
    return module


def _where(e: BaseException, source: SourceMap, file: Path) -> str:
    """The student's line the error came from (the innermost of their frames)."""
    import traceback
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        where = source.locate(frame.filename, frame.lineno)
        if where:
            return where
    return source.notebook or file.name


def _check_imports(source: SourceMap) -> None:
    """Every top-level import of the submission's files whose module is not installed,
    found before any of them runs, so that a student learns them all in one run rather
    than one per run. Imports inside functions or `try:` are left to run time."""
    missing = []
    for file in _source_files(source.root):
        for module, line, level in imports.imports(file):
            if level == 0 and not _local(module, source.root) and not _installed(module):
                missing.append((module, source.locate(str(file), line)))
    if not missing:
        return
    names = list(dict.fromkeys(m for m, _ in missing))
    places = "; ".join(f"`{m}` ({where.removeprefix(source.name + ', ')})" for m, where in missing)
    if len(names) == 1:
        message = f"{missing[0][1]} imports `{names[0]}`, which is not installed where it is graded"
    else:
        message = (f"{source.name} imports {len(names)} modules that are not installed where it "
                   f"is graded: {places}")
    raise SubmissionError("import_error", message, expected="the standard library, torch, "
                          "torchvision, numpy and PIL", got=", ".join(names),
                          hint=_import_hint(source))


def _source_files(root: Path) -> list[Path]:
    """A file, or a package's hook files and the helper modules they import."""
    if root.is_file():
        return [root]
    files = [root / f"{stem}.py" for stem in PACKAGE_FILES if (root / f"{stem}.py").is_file()]
    return files + imports.helper_files(root, files)


def _local(module: str, root: Path) -> bool:
    return root.is_dir() and imports.is_local(module, root)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False
    except Exception:  # noqa: BLE001 - a parent that fails to import: let the import say how
        return True


def _import_hint(source: SourceMap) -> str:
    if source.notebook:
        return ("The grader keeps only your hooks' definitions from the notebook, and only the "
                "standard library, torch, torchvision, numpy and PIL are installed where it is "
                "graded. Delete these imports (or their cells) if your hooks do not need them; "
                "if one does, rewrite it with torch and torchvision.")
    if source.root.is_file():
        return ("Only the standard library, torch, torchvision, numpy and PIL are installed "
                "where it is graded, and a single .py file is graded alone: remove the import, "
                "or paste the code you need into this file.")
    return ("Only the standard library, torch, torchvision, numpy and PIL are installed where "
            "it is graded: remove the import, or put the code you need in a module of your own "
            "beside model.py (e.g. vgg.py), which is graded with it.")


def _public(module) -> dict:
    if module is None:
        return {}
    return {k: v for k, v in vars(module).items() if k in HOOK_NAMES or not k.startswith("_")}


def _near_misses(own: dict) -> list[tuple[str, str]]:
    """(name, hook): `build_models` or `epochs` is almost certainly a hook under the wrong name."""
    misses = []
    for name in own:
        if name in HOOK_NAMES:
            continue
        close = difflib.get_close_matches(name, HOOK_NAMES, n=1, cutoff=0.85)
        if not close and name.upper() in CONSTANTS:
            close = [name.upper()]
        if close and close[0] not in own:
            misses.append((name, close[0]))
    return misses


def _defined(own: dict) -> dict[str, list[str]]:
    """The classes and functions the submission's own files define (not what they import)."""
    found = {"classes": [], "functions": []}
    for name, value in own.items():
        if getattr(value, "__module__", "").split(".")[0] == "submission":
            if isinstance(value, type):
                found["classes"].append(name)
            elif inspect.isfunction(value):
                found["functions"].append(name)
    return found


def _models(own: dict) -> list[str]:
    """The submission's own nn.Module subclasses that look like a network (not a loss)."""
    from torch import nn
    return [name for name in _defined(own)["classes"]
            if issubclass(own[name], nn.Module) and not issubclass(own[name], nn.modules.loss._Loss)
            and not name.lower().endswith("loss")]


def _no_hooks(own: dict, misses: list[tuple[str, str]], source: SourceMap) -> SubmissionError:
    """A submission that defines none of the hooks would be graded as the baseline, for the
    baseline's points; say what it does define and what to add instead."""
    defined, models = _defined(own), _models(own)
    found = "; ".join(f"{kind} {', '.join(names)}" for kind, names in defined.items() if names)
    if models:
        message = (f"no hooks in {source.name}; `{models[0]}` looks like a model (an nn.Module "
                   f"subclass): define build_model(info) returning it")
        example = f"\n    def build_model(info):\n        return {models[0]}()\n"
    else:
        message = f"no hooks in {source.name}: it defines none of the names the grader calls"
        example = " "
    renames = "".join(f" `{name}` looks like `{hook}`: rename it." for name, hook in misses)
    return SubmissionError(
        "missing_hook", message,
        expected="at least one hook: " + ", ".join(sig for _, _, sig in FUNCTIONS.values())
                 + ", or one of " + ", ".join(CONSTANTS[:-1]),
        got=found or "no functions or classes of its own",
        hint=("The grader trains what the hooks return, with its own training loop; a "
              "submission without them would be graded as the baseline." + renames + example
              + "See student_template/ for every hook; any you leave out falls back to the "
                "baseline's."))


def _check_types(hooks: Hooks):
    for name, (_, nargs, signature) in FUNCTIONS.items():
        fn = hooks.values[name]
        if not callable(fn):
            raise SubmissionError("bad_hook", gettext("{name} must be a function").format(name=name),
                                  expected=signature, got=type(fn).__name__)
        try:
            inspect.signature(fn).bind(*([None] * nargs))
        except TypeError:
            raise SubmissionError("bad_hook", gettext("{name} takes the wrong arguments").format(
                                      name=name),
                                  expected=signature, got=f"{name}{inspect.signature(fn)}",
                                  hint=gettext("The grader calls it with exactly these "
                                               "arguments.")) from None
        except ValueError:  # builtins without a signature: let the call decide
            pass
    v = hooks.values
    _constant("SCHEDULER_STEP", v["SCHEDULER_STEP"], v["SCHEDULER_STEP"] in ("epoch", "batch"),
              '"epoch" or "batch"')
    for name in ("EPOCHS", "BATCH_SIZE"):
        _constant(name, v[name], _is_int(v[name]) and v[name] >= 1, "a whole number >= 1")
    _constant("GRAD_CLIP_NORM", v["GRAD_CLIP_NORM"], v["GRAD_CLIP_NORM"] is None or (
        isinstance(v["GRAD_CLIP_NORM"], (int, float)) and not isinstance(v["GRAD_CLIP_NORM"], bool)
        and v["GRAD_CLIP_NORM"] > 0), "None or a positive number")
    counts = v["PARAMETER_COUNTS"]
    _constant("PARAMETER_COUNTS", counts, counts is None or (
        isinstance(counts, dict) and all(isinstance(k, str) and (n is None or _is_int(n))
                                         for k, n in counts.items())),
        'None or a dict of layer name -> whole number (or None), e.g. {"layer1": 960}')
    p = v["EARLY_STOPPING_PATIENCE"]
    _constant("EARLY_STOPPING_PATIENCE", p, p is None or (_is_int(p) and p >= 1),
              "None or a whole number >= 1")


def _constant(name, value, ok, expected):
    if not ok:
        raise SubmissionError("bad_hook", gettext("{name} has an invalid value").format(name=name),
                              expected=expected,
                              got=repr(value))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _unchanged(mine, baseline) -> bool:
    """Whether a hook the submission defines is the baseline's own: an equal constant, or a
    function with the same code once docstrings and comments are set aside, counting the
    classes and functions of its module it calls (build_model's TinyCNN)."""
    if callable(mine) and callable(baseline):
        a, b = _fingerprint(mine), _fingerprint(baseline)
        return a is not None and a == b
    try:
        return type(mine) is type(baseline) and bool(mine == baseline)
    except Exception:  # noqa: BLE001 - a student's object may compare any way it likes
        return False


def _fingerprint(fn, depth: int = 0) -> str | None:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    parts = [ast.dump(tree)]
    code, scope = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    if depth == 0 and code is not None:
        for name in sorted(code.co_names):
            used = scope.get(name)
            if (inspect.isclass(used) or inspect.isfunction(used)) and \
                    getattr(used, "__module__", None) == fn.__module__:
                parts.append(_fingerprint(used, 1) or f"<{name}: no source>")
    return "\n".join(parts)
