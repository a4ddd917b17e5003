"""The rubric's schema: every section as a frozen dataclass, each field's type, default,
bounds and description declared once (docs/rubric.md is written from it), and the one
table of check kinds."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

from grader.i18n import LANGUAGES, N_
from grader.paths import ROOT


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
class PairedChange:
    name: str = doc("the change to the baseline, e.g. label_smoothing")
    differences_pp: list[float] = doc("its test accuracy minus the baseline's at each seed, "
                                      "percentage points (bench/paired_correlation.py)")


@dataclass(frozen=True)
class PairedSpread:
    measured_on: str = doc("where and when: machine, device, date, seeds")
    changes: list[PairedChange] = doc("changes that keep the model's initial weights and "
                                      "random stream (an optimizer, a loss, a schedule), each "
                                      "run at the baseline's seeds: "
                                      "the spread of their differences around their own mean "
                                      "is a paired gain's noise", [])


@dataclass(frozen=True)
class BaselineSpec:
    submission: str = doc("the baseline's hooks, relative to the repository root", "reference/baseline.py")
    pinned_accuracy: float | None = doc("use this test accuracy instead of training the baseline",
                                        None, allowed="a fraction, 0 to 1")
    pinned: PinnedDistribution | None = doc("the baseline's accuracy over seeds, measured once "
                                            "(`grade calibrate --json`): a grade gets its "
                                            "interval where nothing was calibrated (a "
                                            "student's own machine)", None)
    paired: PairedSpread | None = doc("where set, a submission whose model starts from the "
                                      "baseline's initial weights (the same architecture, "
                                      "built the same way) and draws the same random stream "
                                      "(no dropout, the same augmentation) is measured seed "
                                      "by seed against the baseline's run at the same seed, "
                                      "with this spread; any other against the distribution",
                                      None)
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
    points_se: float | None = doc("credit: evidence: once the gain is shown, another seed runs "
                                  "(up to max) while the gain item's points are this uncertain "
                                  "(the credit line's slope at the shown gain times the gain's "
                                  "standard error): under half a tier, noise moves a grade "
                                  "little", None, at_least=0)


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
    partial_points: float = doc("credit: evidence: points for a gain the runs point to but do "
                                "not show yet (its estimate above 0, its one-sided 95% bound "
                                "not), in proportion to how near the bound is to 0, and kept "
                                "once it is shown; at most 2, so that a no-op stays within 2 "
                                "points of the untouched template", 0.0, at_least=0, at_most=2)

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


