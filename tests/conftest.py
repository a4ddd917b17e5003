"""Shared fixtures: synthetic data sets in the real on-disk formats, a tiny rubric, and one
cache folder per test session (so the baseline trains once and is reused)."""
from __future__ import annotations

import os

from grader.sandbox.launch import WAIT_ENV  # imports no torch

# Tests that train in the test process itself spin briefly as the grader's children do
# (WAIT_ENV): spinning OpenMP threads slow the suite by a multiple when anything runs
# beside it. Read once, when torch loads OpenMP: so before torch is imported.
for _name, _value in WAIT_ENV.items():
    os.environ.setdefault(_name, _value)

import shutil  # noqa: E402
from pathlib import Path

import pytest

from grader import i18n
from synthetic import write_fashion_mnist, write_image_folder

REPO = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
SCHEMAS = Path(__file__).resolve().parent / "schemas"  # the consumers' schemas, vendored
SHARED_DATA = REPO.parent / "shared" / "data"

TINY_RUBRIC = """\
name: tiny
title: "Tiny test rubric"
dataset:
  name: fashion_mnist
  validation_fraction: 0.1
seeds: [0]
baseline:
  calibration_seeds: 2
budget:
  max_epochs: 5
  max_batch_size: 512
  max_parameters: 2000000
  time_limit_s: {time_limit}
checks:
  - {{id: output_shape, kind: output_shape, points: 5}}
  - {{id: parameters, kind: max_parameters, points: 5}}
  - {{id: budget, kind: budget, points: 5}}
scoring:
  trains_points: 15
  gain_tiers:
    - {{min_gain: 0.0, points: 20}}
    - {{min_gain: 2.0, points: 40}}
quick:
  train_subset: 300
  test_subset: 100
  epochs: 1
"""


def grade(submission, rubric, data_dir, cache_dir=None, *, quick=True, **kw) -> dict:
    """The grading most tests do: `submission` (a path, or a file name in
    tests/submissions) against the rubric YAML at `rubric`, on `data_dir`, with
    `cache_dir` as the cache, --quick unless told otherwise; `kw` as grade_submission's.
    Returns results.json's form (what Gradescope and every reader of the file see), as
    the typed record writes it."""
    from grader.grading import grade_submission
    from grader.rubric import load_rubric
    path = SUBMISSIONS / submission if isinstance(submission, str) else submission
    return grade_submission(submission=path, rubric=load_rubric(str(rubric)), data_dir=data_dir,
                            cache_dir=cache_dir, quick=quick, **kw).dump()


@pytest.fixture(autouse=True)
def english_after_each_test():
    """A test that grades in Korean leaves the process's language as it found it."""
    yield
    i18n.use("en")


@pytest.fixture(scope="session")
def fmnist_dir(tmp_path_factory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"))


@pytest.fixture(scope="session")
def cifar_tree(tmp_path_factory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("cifar"), n_train=300, n_test=100)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def cache_dir(session_cache, monkeypatch) -> Path:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(session_cache))
    return session_cache


@pytest.fixture
def actions_env(tmp_path, monkeypatch, cache_dir):
    """The environment GitHub Actions sets for a step: (its summary file, its outputs file)."""
    from grader.commands import ci
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    for name, value in {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_STEP_SUMMARY": str(summary),
                        "GITHUB_OUTPUT": str(outputs), ci.LEGACY_RESULT: "1"}.items():
        monkeypatch.setenv(name, value)
    return summary, outputs


def write_rubric(folder: Path, time_limit: float = 120, text: str | None = None) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(text if text is not None else TINY_RUBRIC.format(time_limit=time_limit))
    return path


@pytest.fixture(scope="session")
def tiny_rubric(tmp_path_factory) -> Path:
    return write_rubric(tmp_path_factory.mktemp("rubric"))


@pytest.fixture
def template_copy(tmp_path) -> Path:
    """A student's copy of the template, as they would hand it in."""
    return Path(shutil.copytree(REPO / "student_template", tmp_path / "student"))


def processes_with(tag: bytes) -> list[int]:
    """The processes on this machine whose command line holds `tag`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if tag in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def chromium() -> str | None:
    """A headless browser where one is installed (`.ci/run` installs chromium)."""
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
