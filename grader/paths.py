"""Where the rubrics and reference hooks are: the repository checkout (editable install,
tests) or, in a wheel, the copies bundled inside the package."""
import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent
_BUNDLED = _PKG / "_bundled"
ROOT = _BUNDLED if _BUNDLED.is_dir() else _PKG.parent

RUBRICS_DIR = ROOT / "rubrics"
REFERENCE_DIR = ROOT / "reference"


def cache_dir() -> Path:
    """Decoded data sets and trained baselines; GRADER_CACHE_DIR moves it."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tinycnn-grader"
    return Path(os.environ.get("GRADER_CACHE_DIR", default))
