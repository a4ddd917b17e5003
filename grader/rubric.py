"""Rubrics: YAML files parsed into typed, frozen dataclasses and validated up front.

Each field's type and default live on the dataclass, and its `help` metadata says what
it means; the parser refuses unknown keys by name and reports the file, the key path and
the problem, so an instructor fixes a rubric before any training starts.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import keyword
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.i18n import LANGUAGES, N_
from grader.paths import ROOT, RUBRICS_DIR

DATASETS = ("cifar10", "fashion_mnist", "imagefolder")


@dataclass(frozen=True)
class CheckKind:
    """What a rubric's check `kind` means; its judge is grader.inspection.checks.JUDGES[kind]."""
    title: str                   # the report's title unless the check gives one (translated)
    needs: tuple[str, ...]       # the child's facts it is judged on
    module: bool = False         # names a submodule (`module:` required)
    expected: str | None = None  # what `expected:` holds: "shape", "count" or nothing


# The one list of check kinds: validation, titles and the judges all key on it.
CHECK_KINDS = {
    "output_shape": CheckKind(N_("Model returns logits [N, {classes}]"), ("inspection",)),
    "max_parameters": CheckKind(N_("Parameter count within the budget"), ("inspection",)),
    "budget": CheckKind(N_("EPOCHS and BATCH_SIZE within the budget"), ("requested",)),
    "module_output_shape": CheckKind(N_("Output shape of `{module}`"), ("inspection",), True, "shape"),
    "module_input_shape": CheckKind(N_("Input size of `{module}`"), ("inspection",), True, "shape"),
    "module_parameters": CheckKind(N_("Parameters of `{module}`"), ("inspection",), True, "count"),
    "stated_parameters": CheckKind(N_("Your hand count of `{module}`'s parameters"),
                                   ("requested", "inspection"), True),
}
SHAPE_KINDS = tuple(k for k, v in CHECK_KINDS.items() if v.expected == "shape")


class RubricError(Exception):
    """Everything wrong with a rubric file, one line per problem (`file: key: problem`).
    `key` and `problem` are the first one's; `problems` holds every (key, problem)."""

    def __init__(self, file, key, problem, problems: list[tuple[str, str]] | None = None):
        self.file, self.key, self.problem = str(file), key, problem
        self.problems = problems or [(key, problem)]
        super().__init__("\n".join(f"{self.file}: {k or '(top level)'}: {p}"
                                   for k, p in self.problems))


MAX_FILE_BYTES = 2**20      # a rubric is a page of YAML; 1 MB is no rubric
MAX_VALUES = 10_000         # scalars, lists and mappings after YAML aliases are expanded
MAX_DEPTH = 32
MAX_TEXT = {"question": 20_000}  # characters; every other string: DEFAULT_MAX_TEXT
DEFAULT_MAX_TEXT = 2_000


def doc(text, default=dataclasses.MISSING, *, at_least=None, at_most=None, why="",
        choices=None, allowed="", **kw):
    """A dataclass field carrying what docs/rubric.md says of it (grader/commands/rubric_docs.py):
    its description, and the inclusive bounds (`at_least`, `at_most`, with `why` for the
    message) that validation enforces from here, or the `choices` its rule checks; `allowed`
    words a rule of _validate's that bounds cannot say (open ends, other keys)."""
    meta = {"help": text, "at_least": at_least, "at_most": at_most, "why": why,
            "choices": choices, "allowed": allowed}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass(frozen=True)
class DatasetSpec:
    name: str = doc("the data set", choices=DATASETS)
    root: str | None = doc("imagefolder only: a folder holding train/<class>/ and test/<class>/", None)
    test_dir: str | None = doc("a private test set, an image folder test_dir/<class>/*, graded "
                               "instead of the public test split", None)
    validation_fraction: float = doc("share of the training set held out for validation "
                                     "(progress, early stopping); never the test set", 0.1,
                                     allowed="above 0, below 0.5")
    image_size: tuple[int, int] | None = doc("imagefolder only: [height, width]", None)
    channels: int | None = doc("imagefolder only: grayscale or RGB", None, allowed="1 or 3")
    mean: tuple[float, ...] | None = doc("imagefolder only: per-channel mean", None)
    std: tuple[float, ...] | None = doc("imagefolder only: per-channel std", None)


@dataclass(frozen=True)
class Budget:
    max_epochs: int = doc("most epochs a submission may train (EPOCHS above it is clamped)",
                          at_least=1)
    max_batch_size: int = doc("largest BATCH_SIZE allowed (above it is clamped)", at_least=1)
    max_parameters: int = doc("most trainable parameters a model may have; over it, no training",
                              at_least=1)
    time_limit_s: float = doc("wall-clock limit for one training run, in seconds, not counting "
                              "time spent waiting for a busy machine's CPU", 3600.0,
                              allowed="above 0")
    time_factor: float | None = doc("also stop a run using more CPU time than this many times "
                                    "the baseline's per epoch, for the most epochs allowed, plus "
                                    "a minute", None, at_least=1,
                                    why="the baseline itself must fit")
    memory_mb: int = doc("memory one training run may allocate on the CPU (RLIMIT_DATA)", 6144,
                         at_least=512, why="torch alone needs a few hundred MiB")
    gpu_memory_fraction: float = doc("share of the GPU's memory one run may use (CUDA)", 0.9,
                                     allowed="above 0, at most 1")


@dataclass(frozen=True)
class Training:
    channels_last: bool = doc("run convolutions in channels_last layout, for the submission "
                              "and the baseline alike (measure first: faster only on some "
                              "machines and models)", False)
    mixed_precision: bool = doc("bfloat16 autocast, for the submission and the baseline alike "
                                "(a GPU speed-up; much slower on most CPUs)", False)
    loader_workers: int | None = doc("DataLoader worker processes for submissions whose "
                                     "transforms run image by image (default: cores - 1, "
                                     "at most 4)", None, at_least=0, at_most=32)


@dataclass(frozen=True)
class PinnedDistribution:
    measured_on: str = doc("where and when: machine, device, date (shown in every report)")
    accuracies: list[float] | None = doc("the baseline's test accuracy per seed, fractions "
                                         "(`grade calibrate --json`'s `accuracies`): the "
                                         "way to pin, since a diverged run can be told "
                                         "apart only here", None)
    diverged: list[bool] | None = doc("which of `accuracies` diverged (default: those under "
                                      "80% of the median run's accuracy above chance)", None)
    mean: float | None = doc("without `accuracies`: the mean over seeds, a fraction (e.g. "
                             "0.604), taken as every run converged", None)
    std: float | None = doc("without `accuracies`: the standard deviation over seeds, a "
                            "fraction (e.g. 0.034)", None)
    n: int | None = doc("without `accuracies`: how many seeds (at least 2)", None)


@dataclass(frozen=True)
class BaselineSpec:
    submission: str = doc("the baseline's hooks, relative to the repository root", "reference/baseline.py")
    pinned_accuracy: float | None = doc("use this test accuracy instead of training the baseline",
                                        None, allowed="a fraction, 0 to 1")
    pinned: PinnedDistribution | None = doc("the baseline's accuracy over seeds, measured once "
                                            "(`grade calibrate --json`): a grade gets its "
                                            "interval where nothing was calibrated (a "
                                            "student's own machine)", None)
    calibration_seeds: int = doc("seeds `grade calibrate` (and a batch or the Gradescope "
                                 "bundle, before grading) trains the baseline over", 10,
                                 allowed="≥ 2 and ≥ scoring.seeds.max")


@dataclass(frozen=True)
class Check:
    id: str = doc("short unique name, e.g. output_shape")
    kind: str = doc("what is checked (the kinds below)", choices=tuple(CHECK_KINDS))
    points: float = doc("points when the check passes", at_least=0)
    title: str | None = doc("what the report calls it", None)
    module: str | None = doc("module_* and stated_parameters: dotted submodule name, e.g. "
                             "layer1 or features.0", None)
    expected: typing.Any = doc("module_output_shape: [C, H, W] per image; module_input_shape: "
                               "the shape one image reaches the module with, e.g. [2048]; "
                               "module_parameters: an integer. stated_parameters takes none: "
                               "the student's PARAMETER_COUNTS[module] is compared with the "
                               "count of their own module", None)


@dataclass(frozen=True)
class ManualItem:
    id: str = doc("short unique name, e.g. xray_answer")
    points: float = doc("points a person awards by hand", at_least=0)
    title: str = doc("what the report calls it")
    file: str = doc("the answer's file in a submission folder (in a notebook: the markdown "
                    "under a heading that names the id or the title)", "answers.md")
    question: str = doc("the question, shown beside the answer", "")


@dataclass(frozen=True)
class Tier:
    min_gain: float = doc("gain over the baseline in percentage points needed for this tier")
    points: float = doc("points for reaching this tier", at_least=0)


UNDECIDED = ("lower", "point", "linear")
CREDIT = ("evidence", "tiers")


@dataclass(frozen=True)
class SeedPolicy:
    min: int | None = doc("seeds every submission runs (default: the rubric's `seeds`)", None,
                          at_least=1, at_most=20)
    max: int | None = doc("most seeds: more run only while the gain's 95% interval straddles "
                          "a tier boundary (default: min)", None, allowed="min to 20")
    undecided: str | None = doc("credit: tiers only: the tier when the interval still "
                                "straddles a boundary at max seeds: lower (the one its low "
                                "end reaches, the default), point (the point estimate's) or "
                                "linear (credit between the two tiers in proportion to the "
                                "part of the interval above the boundary)", None,
                                choices=UNDECIDED)


@dataclass(frozen=True)
class Scoring:
    trains_points: float = doc("points for training to completion above chance accuracy", 0.0,
                               at_least=0)
    gain_tiers: list[Tier] = doc("gain -> points; the highest tier reached counts", [])
    max_plausible_accuracy: float | None = doc("a test accuracy above this is flagged for an "
                                               "instructor's review (the budget cannot reach it)", None,
                                               allowed="above 0, at most 1")
    seeds: SeedPolicy = doc("how many seeds a submission runs: extra ones only where they "
                            "can change the points", SeedPolicy())
    credit: str | None = doc("evidence (the shipped rubrics'): the tiers joined by straight "
                             "lines, paid at the gain the runs show (above 0: the one-sided "
                             "95% lower bound; below 0: only once the 95% interval's upper end "
                             "is under -margin), so noise moves a grade a little, never a "
                             "whole tier; tiers (the default, as before): the highest tier "
                             "reached, seeds.undecided deciding inside the noise", None,
                             choices=CREDIT)
    margin: float = doc("credit: evidence: percentage points a submission may be measurably "
                        "worse than the baseline before it loses the +0 tier's standing "
                        "(non-inferiority margin)", 1.0, at_least=0, at_most=10)

    @property
    def credit_mode(self) -> str:
        return self.credit or "tiers"

    @property
    def undecided_policy(self) -> str:
        return self.seeds.undecided or "lower"


@dataclass(frozen=True)
class QuickSpec:
    train_subset: int = doc("training images used by --quick", 5000, at_least=10)
    test_subset: int = doc("test images used by --quick", 2000, at_least=10)
    epochs: int = doc("epochs used by --quick, for the submission and the baseline", 1,
                      at_least=1)


# Gradescope's visibility values (its autograder specification): a test, the top-level
# default and stdout each take one
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
KEEP = ("best", "last")


@dataclass(frozen=True)
class Release:
    """What a student sees on Gradescope, and when. The grade is always computed on the test
    set; these keys only decide when its figures are shown (Gradescope's visibility values),
    and how many submissions are graded. Other front ends ignore them."""
    test_results: str = doc("when the test accuracy, the gain, their points (training above "
                            "chance, the gain tiers), the full report and the leaderboard "
                            "show: after_due_date stops tuning against the test set; hidden "
                            "never shows the figures, and the points items, which Gradescope "
                            "would reveal through the total, wait for after_published",
                            "visible", choices=VISIBILITY)
    checks: str = doc("when the structural checks, the written answers and the validation "
                      "accuracy show (at once, by default)", "visible", choices=VISIBILITY)
    max_submissions: int | None = doc("graded submissions per student "
                                      "(submission_metadata.json's previous_submissions); a "
                                      "later one is not graded and keeps the `keep` score, "
                                      "saying so (default: no limit)", None, at_least=1)
    keep: str = doc("past the limit, which earlier graded submission's result stands: best "
                    "(highest score) or last", "best", choices=KEEP)


@dataclass(frozen=True)
class LatePolicy:
    """The late penalty, a share of the grader's score (written answers graded by hand are
    not touched). Gradescope takes the due dates from submission_metadata.json (the
    student's own where they have an extension); `grade batch --submission-times FILE` takes
    them from here, moved by each student's extension_days."""
    due_date: str | None = doc("grade batch: the due date, ISO 8601 with its UTC offset, "
                               "quoted (e.g. \"2026-12-01T23:59:00-08:00\"); Gradescope uses "
                               "its own", None, allowed="ISO 8601 with a UTC offset")
    late_due_date: str | None = doc("grade batch: the late due date (same form); Gradescope "
                                    "uses its own", None, allowed="at or after due_date")
    grace_minutes: float = doc("minutes after the due date that cost nothing; past them the "
                               "lateness counts from the due date itself", 0.0, at_least=0,
                               at_most=10080)
    percent_per_day: float = doc("percent of the score taken per day late, each started day "
                                 "counting", 0.0, at_least=0, at_most=100)
    percent_per_hour: float = doc("percent of the score taken per hour late, each started "
                                  "hour counting (instead of percent_per_day)", 0.0,
                                  at_least=0, at_most=100)
    max_percent: float = doc("the most the penalty takes, in percent of the score", 100.0,
                             at_least=0, at_most=100)
    zero_after_late_due_date: bool = doc("a submission after the late due date scores 0", True)


@dataclass(frozen=True)
class Rubric:
    name: str = doc("identifier used in reports and caches")
    dataset: DatasetSpec = doc("what to train and test on")
    budget: Budget = doc("limits every submission trains under")
    scoring: Scoring = doc("how accuracy gain turns into points")
    title: str = doc("human title for reports", "")
    seeds: list[int] = doc("a training run per seed; accuracies are averaged", [0])
    baseline: BaselineSpec = doc("the reference the gain is measured against", BaselineSpec())
    checks: list[Check] = doc("structural checks before training", [])
    manual: list[ManualItem] = doc("written answers: collected and shown, their points left "
                                   "pending for a person to grade", [])
    model_hook: str = doc("the hook whose model is graded: build_model, or an exercise's own "
                          "such as build_simple_cnn (no baseline fallback)", "build_model")
    quick: QuickSpec = doc("the small unofficial --quick run", QuickSpec())
    training: Training = doc("how the loop runs: layout, precision, loader workers",
                             Training())
    language: str | None = doc("the course's default language for what students read "
                               "(--lang and the locale otherwise)", None, choices=LANGUAGES)
    release: Release = doc("Gradescope: when students see what, and how many submissions "
                           "are graded", Release())
    late: LatePolicy | None = doc("a late penalty (Gradescope, and grade batch with "
                                  "--submission-times); none by default", None)

    @property
    def min_seeds(self) -> int:
        return self.scoring.seeds.min or len(self.seeds)

    @property
    def max_seeds(self) -> int:
        return max(self.scoring.seeds.max or self.min_seeds, self.min_seeds)

    def seed_sequence(self, n: int) -> list[int]:
        """The first `n` seeds: the rubric's `seeds`, then the integers after the largest.
        The submission's runs and the baseline's calibration draw from the same sequence,
        so a submission's seed always has a baseline run to pair with."""
        out = list(self.seeds)
        while len(out) < n:
            out.append(max(out) + 1)
        return out[:n]

    @property
    def baseline_path(self) -> Path:
        """The reference hooks the gain is measured against (also every hook's fallback)."""
        return ROOT / self.baseline.submission

    @property
    def max_points(self) -> float:
        """The points the grader awards itself; manual_points come on top, by hand."""
        tiers = max((t.points for t in self.scoring.gain_tiers), default=0.0)
        return sum(c.points for c in self.checks) + self.scoring.trains_points + tiers

    @property
    def manual_points(self) -> float:
        return sum(m.points for m in self.manual)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """What decides the measured grade. `release` and `late` are left out: they change
        what a student sees and what is done with the score, never a grading, so setting them
        neither regrades a class (a batch applies the late policy to every row itself) nor
        changes an existing rubric's digest."""
        blob = json.dumps({k: v for k, v in self.to_dict().items() if k not in ("release", "late")},
                          sort_keys=True, default=list).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def resolve_rubric_path(name_or_file: str) -> Path:
    """A NAME from rubrics/ (without .yaml) or a path to a YAML file."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return RUBRICS_DIR / f"{name_or_file}.yaml"


def load_rubric(name_or_file: str) -> Rubric:
    path = resolve_rubric_path(name_or_file)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RUBRICS_DIR.glob("*.yaml")))
        raise RubricError(path, "", f"no such rubric file (rubrics available: {known})")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise RubricError(path, "", f"the file is {size:,} bytes; a rubric is at most "
                          f"{MAX_FILE_BYTES:,}")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as e:
        raise RubricError(path, "", f"not valid YAML: {str(e)[:500]}") from None
    problem = _too_big(data)
    if problem:
        raise RubricError(path, "", problem)
    problems: list[tuple[str, str]] = []
    try:
        rubric = _build(Rubric, data, "", problems)
    except _Invalid:
        rubric = None
    if rubric is not None:
        # a rule about a value already reported as malformed would only repeat it
        bad = [k for k, _ in problems]
        problems += [(k, p) for k, p in _validate(rubric)
                     if not any(k == b or k.startswith(b + ".") or k.startswith(b + "[") or
                                b.startswith(k + ".") or b.startswith(k + "[") for b in bad)]
    if problems:
        raise RubricError(path, *problems[0], problems=problems)
    return rubric


def _too_big(data) -> str | None:
    """YAML aliases repeat what an anchor holds without copying it, so a small file can
    stand for billions of values ("billion laughs"), which hashing or reporting the rubric
    would then expand. Count the values as if expanded, stopping at the cap."""
    count, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return (f"it expands to more than {MAX_VALUES:,} values (YAML aliases `*name` "
                    f"repeat an anchor's `&name` content): write the values out instead")
        if depth > MAX_DEPTH:
            return f"values are nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, dict):
            stack += [(v, depth + 1) for kv in value.items() for v in kv]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
    return None


# --- typed parsing ------------------------------------------------------------------------

class _Invalid(Exception):
    """A value that could not be built; its problem is already recorded."""


def _build(cls, data, key, problems):
    if not isinstance(data, dict):
        problems.append((key, f"expected a mapping, got {_show(data)}"))
        raise _Invalid
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in sorted(set(data) - set(fields), key=str):
        problems.append((_join(key, name), f"unknown key (allowed here: {', '.join(fields)})"))
    values, broken = {}, False
    for name, f in fields.items():
        sub = _join(key, name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name in data:
            try:
                values[name] = _coerce(hints[name], data[name], sub, problems)
            except _Invalid:
                broken = broken or required  # else the default stands in, for the rules
        elif required:
            problems.append((sub, f"missing required key ({f.metadata['help']})"))
            broken = True
    if broken:
        raise _Invalid
    return cls(**values)


def _coerce(tp, value, key, problems):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key, problems)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, problems)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            problems.append((key, f"expected a list, got {_show(value)}"))
            raise _Invalid
        if origin is tuple and args[-1] is not Ellipsis and len(value) != len(args):
            problems.append((key, f"expected {len(args)} items, got {len(value)}"))
            raise _Invalid
        items, broken = [], False
        for i, v in enumerate(value):
            try:
                items.append(_coerce(args[0], v, f"{key}[{i}]", problems))
            except _Invalid:
                broken = True  # the other items are still checked
        if broken:
            raise _Invalid
        return tuple(items) if origin is tuple else items
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str and type(value) is str:
        most = MAX_TEXT.get(key.rpartition(".")[2], DEFAULT_MAX_TEXT)
        if len(value) > most:
            problems.append((key, f"{len(value):,} characters; at most {most:,}"))
            raise _Invalid
        return value
    if tp in (int, bool) and type(value) is tp:
        return value
    if tp is str and isinstance(value, (datetime.date, datetime.datetime)):
        problems.append((key, f"quote the date, e.g. \"{value.isoformat()}\" (unquoted, YAML "
                              "reads it as a timestamp and drops what a string keeps)"))
        raise _Invalid
    want = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[tp]
    problems.append((key, f"expected {want}, got {_show(value)}"))
    raise _Invalid


def _validate(r: Rubric) -> list[tuple[str, str]]:
    """Rules that span fields or go beyond types: every (key, problem)."""
    problems: list[tuple[str, str]] = list(_bounds(r, ""))

    def bad(key, problem):
        problems.append((key, problem))

    ds = r.dataset
    if ds.name not in DATASETS:
        bad("dataset.name", f"unknown data set {ds.name!r} (choose from {', '.join(DATASETS)})")
    if ds.name == "imagefolder":
        missing = [k for k in ("root", "image_size", "channels", "mean", "std")
                   if getattr(ds, k) is None]
        for k in missing:
            bad(f"dataset.{k}", "required when dataset.name is imagefolder")
        if ds.channels is not None and ds.channels not in (1, 3):
            bad("dataset.channels", f"must be 1 or 3, got {ds.channels}")
        elif not missing and (len(ds.mean) != ds.channels or len(ds.std) != ds.channels):
            bad("dataset.mean", f"mean and std need one value per channel ({ds.channels})")
    if not 0 < ds.validation_fraction < 0.5:
        bad("dataset.validation_fraction", f"must be between 0 and 0.5, got {ds.validation_fraction}")
    if not r.seeds:
        bad("seeds", "at least one seed is needed")
    if r.budget.time_limit_s <= 0:
        bad("budget.time_limit_s", "must be positive")
    if not 0 < r.budget.gpu_memory_fraction <= 1:
        bad("budget.gpu_memory_fraction", "must be in (0, 1]")
    if r.baseline.pinned_accuracy is not None and not 0 <= r.baseline.pinned_accuracy <= 1:
        bad("baseline.pinned_accuracy", "is a fraction between 0 and 1 (e.g. 0.62), not a percentage")
    pinned = r.baseline.pinned
    if pinned is not None:
        if pinned.accuracies is not None:
            if pinned.mean is not None or pinned.std is not None or pinned.n is not None:
                bad("baseline.pinned", "give either accuracies (and diverged) or mean, std "
                    "and n, not both")
            if not all(0 < a <= 1 for a in pinned.accuracies):
                bad("baseline.pinned.accuracies", "fractions (e.g. 0.6413), not percentages")
            flags = pinned.diverged or [False] * len(pinned.accuracies)
            if len(flags) != len(pinned.accuracies):
                bad("baseline.pinned.diverged", f"one true/false per accuracy "
                    f"({len(pinned.accuracies)}), got {len(flags)}")
            elif sum(not d for d in flags) < 2:
                bad("baseline.pinned.accuracies", "a spread needs at least 2 converged seeds")
        elif pinned.mean is None or pinned.std is None or pinned.n is None:
            bad("baseline.pinned", "give accuracies (one per seed), or all of mean, std and n")
        else:
            if pinned.diverged is not None:
                bad("baseline.pinned.diverged", "goes with accuracies, one flag per accuracy")
            if not 0 < pinned.mean <= 1 or not 0 <= pinned.std < 0.5:
                bad("baseline.pinned", "mean and std are fractions (e.g. mean 0.604, std 0.034), "
                    "not percentages")
            if pinned.n < 2:
                bad("baseline.pinned.n", "a spread needs at least 2 seeds")
    policy = r.scoring.seeds
    if r.scoring.credit is not None and r.scoring.credit not in CREDIT:
        bad("scoring.credit", f"choose from {', '.join(CREDIT)}, got {r.scoring.credit!r}")
    if policy.undecided is not None and policy.undecided not in UNDECIDED:
        bad("scoring.seeds.undecided", f"choose from {', '.join(UNDECIDED)}, got {policy.undecided!r}")
    elif policy.undecided is not None and r.scoring.credit == "evidence":
        bad("scoring.seeds.undecided", "applies to credit: tiers only (with credit: evidence the "
            "points follow the evidence, with no undecided case): remove it, or set "
            "scoring.credit: tiers")
    if policy.max is not None and not r.min_seeds <= policy.max <= 20:
        bad("scoring.seeds.max", f"must be between min ({r.min_seeds}) and 20")
    if r.baseline.calibration_seeds < max(2, r.max_seeds):
        bad("baseline.calibration_seeds", f"must be at least 2 and at least scoring.seeds.max "
            f"({r.max_seeds}): every seed a submission may run needs its baseline run")
    seen = set()
    for i, c in enumerate(r.checks):
        key = f"checks[{i}]"
        if c.id in seen:
            bad(f"{key}.id", f"duplicate check id {c.id!r}")
        seen.add(c.id)
        if c.kind not in CHECK_KINDS:
            bad(f"{key}.kind", f"unknown kind {c.kind!r} (choose from {', '.join(CHECK_KINDS)})")
            continue
        kind = CHECK_KINDS[c.kind]
        if kind.module and not c.module:
            bad(f"{key}.module", f"required for kind {c.kind}")
        if kind.expected == "shape" and not (
                isinstance(c.expected, list) and c.expected
                and all(isinstance(v, int) and not isinstance(v, bool) for v in c.expected)):
            bad(f"{key}.expected", f"expected a shape like [64, 8, 8], got {_show(c.expected)}")
        if kind.expected == "count" and not (
                isinstance(c.expected, int) and not isinstance(c.expected, bool)):
            bad(f"{key}.expected", f"expected an integer parameter count, got {_show(c.expected)}")
    if not (r.model_hook.isidentifier() and not keyword.iskeyword(r.model_hook)):
        bad("model_hook", f"must be a Python function name, got {r.model_hook!r}")
    for i, m in enumerate(r.manual):
        key = f"manual[{i}]"
        if m.id in seen:
            bad(f"{key}.id", f"duplicate id {m.id!r} (ids are shared with checks)")
        seen.add(m.id)
        if not m.file or "/" in m.file or "\\" in m.file or m.file.startswith("."):
            bad(f"{key}.file", f"a plain file name in the submission folder, got {m.file!r}")
    ceiling = r.scoring.max_plausible_accuracy
    if ceiling is not None and not 0 < ceiling <= 1:
        bad("scoring.max_plausible_accuracy", "is a fraction between 0 and 1 (e.g. 0.9)")
    gains = [t.min_gain for t in r.scoring.gain_tiers]
    if gains != sorted(gains) or len(set(gains)) != len(gains):
        bad("scoring.gain_tiers", "tiers must be listed by strictly increasing min_gain")
    pts = [t.points for t in r.scoring.gain_tiers]
    if r.scoring.credit_mode == "evidence" and min(pts, default=0) >= 0 and pts != sorted(pts):
        bad("scoring.gain_tiers", "with credit: evidence a higher tier must not pay less "
            "(the tiers are joined into one rising line)")
    problems += _validate_release(r.release, r.late)
    if r.language is not None and r.language not in LANGUAGES:
        bad("language", f"choose from {', '.join(LANGUAGES)}, got {r.language!r}")
    return problems


def parse_time(text: str) -> datetime.datetime:
    """An ISO 8601 time with its UTC offset (a time without one is ambiguous across a
    class's time zones). ValueError otherwise."""
    when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (e.g. -08:00 or Z)")
    return when


def _validate_release(release: Release, late: LatePolicy | None) -> list[tuple[str, str]]:
    problems = []
    for key in ("test_results", "checks"):
        if getattr(release, key) not in VISIBILITY:
            problems.append((f"release.{key}", f"choose from {', '.join(VISIBILITY)}, got "
                                               f"{getattr(release, key)!r}"))
    if release.keep not in KEEP:
        problems.append(("release.keep", f"choose from {', '.join(KEEP)}, got {release.keep!r}"))
    if late is None:
        return problems
    if late.percent_per_day and late.percent_per_hour:
        problems.append(("late", "give percent_per_day or percent_per_hour, not both"))
    times = {}
    for key in ("due_date", "late_due_date"):
        if getattr(late, key) is not None:
            try:
                times[key] = parse_time(getattr(late, key))
            except ValueError as e:
                problems.append((f"late.{key}", f"an ISO 8601 time with its UTC offset, e.g. "
                                                f"2026-12-01T23:59:00-08:00: {e}"))
    if late.late_due_date is not None and late.due_date is None:
        problems.append(("late.late_due_date", "goes with late.due_date"))
    elif len(times) == 2 and times["late_due_date"] < times["due_date"]:
        problems.append(("late.late_due_date", "is before late.due_date"))
    return problems


def _bounds(value, key):
    """Every field's declared `at_least` / `at_most`, checked through nested sections and
    lists: (key, problem) for each value outside them."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _bounds(item, f"{key}[{i}]")
        return
    if not dataclasses.is_dataclass(value):
        return
    for f in dataclasses.fields(value):
        v, sub = getattr(value, f.name), _join(key, f.name)
        lo, hi = f.metadata.get("at_least"), f.metadata.get("at_most")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and (lo, hi) != (None, None):
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                rule = (f"between {lo:g} and {hi:g}" if lo is not None and hi is not None
                        else f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
                why = f" ({f.metadata['why']})" if f.metadata.get("why") else ""
                yield sub, f"must be {rule}{why}, got {v:g}"
        else:
            yield from _bounds(v, sub)


def _join(key, name):
    return f"{key}.{name}" if key else name


def _show(value):
    if value is None:
        return "nothing"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 80 else text[:77] + '...'}"
