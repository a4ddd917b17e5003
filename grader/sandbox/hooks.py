"""The student's hooks, imported in the child process only, with the baseline's as fallback.

This module imports untrusted code: the parent process never imports it.
"""
from __future__ import annotations

import difflib
import importlib.util
import inspect
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from grader.failures import SubmissionError, student_traceback
from grader.load.template import CONSTANTS, FUNCTIONS, HOOK_NAMES, OPTIONAL, PACKAGE_FILES

@dataclass
class Hooks:
    values: dict            # hook name -> function or constant
    customised: list[str]   # the hooks the submission defined itself
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
    own = _namespace(submission, "submission")
    values, customised = {}, []
    for name in HOOK_NAMES:
        if name in own:
            values[name], customised = own[name], customised + [name]
        else:
            values[name] = ref.get(name, OPTIONAL.get(name))
    if model_hook != "build_model":
        if model_hook not in own:
            raise SubmissionError("missing_hook", f"this rubric grades the model that "
                                  f"`{model_hook}(info)` builds, and the submission does not "
                                  f"define it", expected=f"{model_hook}(info) in model.py",
                                  hint="Start from model.py in student_template/, where the "
                                       "exercise's skeleton is.")
        values["build_model"] = own[model_hook]
        customised = [h for h in customised if h != "build_model"] + [model_hook]
    hooks = Hooks(values, customised, notes=_near_misses(own))
    _check_types(hooks)
    return hooks


def _namespace(path: Path, module_name: str) -> dict:
    """Names defined by a .py file, or by a package's __init__, transforms, model and
    improvements (in that order, later files winning, as if one file)."""
    path = Path(path)
    names: dict = {}
    if path.is_dir():
        sys.path.insert(0, str(path))  # lets `from model import TinyCNN` work as in a notebook
        if (path / "__init__.py").exists():
            names.update(_public(_import(path / "__init__.py", module_name, package_dir=path)))
        else:  # still a package, so `from .model import TinyCNN` works between the files
            pkg = types.ModuleType(module_name)
            pkg.__path__ = [str(path)]
            sys.modules[module_name] = pkg
        for stem in PACKAGE_FILES[1:]:
            if (path / f"{stem}.py").exists():
                names.update(_public(_import(path / f"{stem}.py", f"{module_name}.{stem}")))
    else:
        sys.path.insert(0, str(path.parent))
        names.update(_public(_import(path, module_name)))
    return names


def _import(file: Path, module_name: str, package_dir: Path | None = None):
    spec = importlib.util.spec_from_file_location(
        module_name, file,
        submodule_search_locations=[str(package_dir)] if package_dir else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise SubmissionError(
            "syntax_error", f"{Path(e.filename or file).name}, line {e.lineno}: {e.msg}",
            got=(e.text or "").rstrip() or None,
            hint="Python could not parse this line; check brackets, colons and indentation.") from None
    except ModuleNotFoundError as e:
        raise SubmissionError(
            "import_error", f"{file.name} imports {e.name!r}, which is not installed where it is graded",
            hint="Only the standard library, torch, torchvision and numpy are available; "
                 "copy any helper you need into your own files.",
            trace=student_traceback(e, [file.parent])) from None
    except Exception as e:
        raise SubmissionError(
            "import_error", f"{file.name} raised {type(e).__name__} while being imported: {e}",
            hint="Code at the top level of a file runs on import; keep only definitions there "
                 "(no training loops, downloads or plots).",
            trace=student_traceback(e, [file.parent])) from None
    return module


def _public(module) -> dict:
    if module is None:
        return {}
    return {k: v for k, v in vars(module).items() if k in HOOK_NAMES or not k.startswith("_")}


def _near_misses(own: dict) -> list[str]:
    """`build_models` or `epochs` is almost certainly a hook under the wrong name."""
    notes = []
    for name in own:
        if name in HOOK_NAMES:
            continue
        close = difflib.get_close_matches(name, HOOK_NAMES, n=1, cutoff=0.85)
        if not close and name.upper() in CONSTANTS:
            close = [name.upper()]
        if close and close[0] not in own:
            notes.append(f"`{name}` looks like the hook `{close[0]}`, which you did not define, "
                         f"so the baseline's `{close[0]}` was used. Rename it if you meant it.")
    return notes


def _check_types(hooks: Hooks):
    for name, (_, nargs, signature) in FUNCTIONS.items():
        fn = hooks.values[name]
        if not callable(fn):
            raise SubmissionError("bad_hook", f"{name} must be a function",
                                  expected=signature, got=type(fn).__name__)
        try:
            inspect.signature(fn).bind(*([None] * nargs))
        except TypeError:
            raise SubmissionError("bad_hook", f"{name} takes the wrong arguments",
                                  expected=signature, got=f"{name}{inspect.signature(fn)}",
                                  hint="The grader calls it with exactly these arguments.") from None
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
        raise SubmissionError("bad_hook", f"{name} has an invalid value", expected=expected,
                              got=repr(value))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)
