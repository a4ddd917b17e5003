"""The results object, typed: what grading measured (`Results`), in the form results.json
keeps it (Gradescope's results.json, the grader's own fields beside Gradescope's).

`build_results` (grader.report.results) makes one; the reports, the front ends and the
exports read its attributes. `Results.load` reads results.json back (a gradebook's row, a
batch worker's answer) through grader.records, which refuses an unknown field, a missing
one or a value of another type; `dump` writes it in exactly the form it came in.

Some inner records stay plain dicts where their keys are another module's to choose: a
layer's settings, the rubric as a whole (Rubric.to_dict), the confinement's description, a
run's re-measurement (grader.grading.runs.verify).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from grader.failures import Failure
from grader.inspection.modelfacts import FirstWrong, ForwardError, Layer, ModuleFacts
from grader.load.answers import PENDING
from grader.records import OPTIONAL, dump, load
from grader.scoring.late import Lateness


@dataclass
class Item:
    """One rubric item: Gradescope's `tests` entry."""
    name: str
    score: float
    max_score: float
    status: str                        # Gradescope's "passed" / "failed"
    output: str
    tags: list[str] = field(default_factory=list)  # [item id, ...]; "pending" till a person grades it
    # a written answer's (grader.load.answers.manual_items): always all three
    question: str | None = field(default=None, metadata=OPTIONAL)
    answer: str | None = field(default=None, metadata=OPTIONAL)
    answer_source: str | None = field(default=None, metadata=OPTIONAL)

    @property
    def id(self) -> str | None:
        return self.tags[0] if self.tags else None

    @property
    def pending(self) -> bool:
        """A written answer a person has yet to grade: in neither score nor max_score."""
        return PENDING in self.tags

    def keep(self, name: str, value) -> bool:
        # a written answer keeps its three keys even where no answer was found (None)
        return value is not None or (name in WRITTEN and "manual" in self.tags)


WRITTEN = ("question", "answer", "answer_source")


@dataclass
class LeaderboardEntry:
    name: str
    value: float
    order: str


@dataclass
class PerSeed:
    """One student run's figures and where its time went."""
    seed: int
    accuracy: float | None
    train_seconds: float | None
    wall_s: float | None
    startup_s: float | None
    cpu_s: float | None
    waited_s: float | None
    validation_seconds: float | None
    data_seconds: float | None         # making the training batches, within train_seconds
    predict_s: float | None
    import_s: float | None
    inspect_s: float | None


@dataclass
class BaselineSeed:
    seed: int
    accuracy: float | None
    source: str                        # trained, cache or pinned
    cpu_s: float | None
    measured_at: str | None


@dataclass
class Distribution:
    """The baseline distribution a calibrated gain is measured against."""
    mean: float
    std: float
    n: int
    source: str
    seeds: list[int]
    accuracies: list[float]
    measured_on: str | None


@dataclass
class DivergedSeed:
    seed: int
    epoch: int
    loss: float | None
    val_accuracy: float | None
    by: str


@dataclass
class Memorisation:
    """grader.load.testset.memorisation_gap."""
    public_accuracy: float
    public_images: int
    gap_pp: float
    se_pp: float
    flagged: bool


@dataclass
class TestSet:
    """Which test set the grade was measured on (grader.load.testset)."""
    kind: str                          # "private" or "public-rerendered"
    dir: str | None = field(default=None, metadata=OPTIONAL)        # private
    rendering: str | None = field(default=None, metadata=OPTIONAL)  # public: the key's fingerprint
    memorisation: Memorisation | None = field(default=None, metadata=OPTIONAL)


@dataclass
class Epoch:
    """One epoch of a run (grader.training.loop)."""
    epoch: int
    train_loss: float
    val_accuracy: float
    seconds: float
    val_seconds: float | None = field(default=None, metadata=OPTIONAL)  # a cached run may lack them
    data_seconds: float | None = field(default=None, metadata=OPTIONAL)


@dataclass
class History:
    """Per run, its epochs: the student's runs and the baseline's."""
    student: list[list[Epoch]]
    baseline: list[list[Epoch]]


@dataclass
class Pair:
    """The student's and the baseline's of one figure (None: not measured here)."""
    student: list | None
    baseline: list | None


@dataclass
class Pipeline:
    """Where augmentation ran (grader.training.batches): "batched" or "per-image"."""
    train: str
    test: str


@dataclass
class Metrics:
    """What was measured in this grading, with the gain's figures and the distribution it
    was measured against."""
    accuracy: float | None
    baseline_accuracy: float | None
    gain_pp: float | None
    gain_interval_pp: list[float] | None
    gain_method: str | None
    baseline_std_pp: float | None
    baseline_seeds: int | None
    baseline_distribution: Distribution | None
    tier_decided: bool | None
    distribution_source: str | None
    distribution_rule: str | None      # which distribution and credit rule the grade follows
    credit: str
    gain_credited_pp: float | None
    gain_runs: int | None
    baseline_diverged: int | None
    diverged_seeds: list[DivergedSeed]
    extra_seeds: int
    smoke_run: bool                    # --quick: the gain's interval is a smoke run's
    parameters: int | None
    baseline_parameters: int | None
    epochs: int | None
    epochs_run: int | None
    batch_size: int | None
    pipeline: Pipeline | None
    training_switches: dict
    seeds: list[int]
    per_seed: list[PerSeed]
    baseline_per_seed: list[BaselineSeed]
    baseline_source: list[str] | None
    verification: list[dict]           # grader.grading.runs.verify's, one a run
    wall_time_s: float
    time_limit: dict | None            # grader.scoring.timelimit.TimeLimit
    device: str
    cpu_cores: list[int] | None
    gpu_share: float
    classes: list[str]
    confusion: Pair                    # test-set confusion matrices, rows the true class
    per_class: Pair                    # the per-class accuracy they give
    test_set: TestSet


@dataclass
class Submission:
    """What was graded."""
    name: str
    origin: str
    kind: str | None
    digest: str | None
    customised_hooks: list[str] | None
    requested: dict | None             # its constants (EPOCHS, BATCH_SIZE, ...)
    notes: list[str]
    output_tail: str


@dataclass
class Model:
    """The model's summary: its layers as the forward pass ran them (the facts of
    grader.inspection.facts), the blocks the rubric checks, and what went wrong first."""
    layers: list[Layer]
    modules: dict[str, ModuleFacts]
    error: ForwardError | None
    first_wrong: FirstWrong | None
    expected: dict[str, list]          # module -> the shape the rubric expects


@dataclass
class Data:
    name: str
    source: str
    digest: str
    info: dict                         # grader.load.datasets.DatasetInfo


@dataclass
class Code:
    grader_training: str
    reference: str
    submission: str | None


@dataclass
class Versions:
    python: str
    torch: str
    torchvision: str
    numpy: str
    grader: str
    platform: str


@dataclass
class Provenance:
    """What the grade was measured with."""
    rubric_name: str
    rubric_digest: str
    rubric: dict                       # Rubric.to_dict: the resolved rubric
    seeds: list[int]
    device: str
    versions: Versions
    isolation: dict | None             # grader.sandbox.confine.describe
    confined: bool
    allow_unconfined: bool
    data: Data
    code: Code
    graded_at: str
    cpus: dict | None = field(default=None, metadata=OPTIONAL)  # a batch task's share of the cores

    @property
    def title(self) -> str:
        return self.rubric.get("title") or self.rubric_name


@dataclass
class Automatic:
    """The grader's own figures, kept beside an instructor's amendment."""
    score: float
    max_score: float
    pending_points: float


@dataclass
class Amendment:
    """A person's grade (grade amend), applied on the way out (grader.batch.amend.apply)."""
    points: float
    total: float | None
    reason: str
    stale: bool                        # amended against automatic points that have changed
    items: dict[str, float]


@dataclass
class Results:
    """One grading, as results.json keeps it: Gradescope's keys first, the grader's after."""
    score: float
    max_score: float
    pending_points: float              # written answers a person grades; not in score or max_score
    execution_time: float
    visibility: str
    stdout_visibility: str
    status: str                        # "graded" or "failed"
    official: bool
    mode: str
    quick: bool
    notice: str
    tests: list[Item]
    leaderboard: list[LeaderboardEntry]
    metrics: Metrics
    failure: Failure | None
    anomaly: str | None
    submission: Submission
    artifacts: list[str]
    model: Model
    history: History
    provenance: Provenance
    output: str = ""                   # the lines Gradescope shows above the tests
    late: Lateness | None = field(default=None, metadata=OPTIONAL)  # grader.scoring.late
    automatic: Automatic | None = field(default=None, metadata=OPTIONAL)
    amendment: Amendment | None = field(default=None, metadata=OPTIONAL)

    @property
    def failure_code(self) -> str | None:
        return self.failure.code if self.failure else None

    def item(self, item_id: str) -> Item | None:
        return next((t for t in self.tests if t.id == item_id), None)

    @classmethod
    def load(cls, data: object) -> Results:
        return load(cls, _upgraded(data), "results")

    def dump(self) -> dict:
        return dump(self)


# Fields results.json gained after gradebooks were first kept, and what an older results.json
# means by leaving them out; any other field missing is refused.
ADDED = {("official",): False, ("metrics", "gain_interval_pp"): None,
         ("metrics", "baseline_std_pp"): None, ("metrics", "baseline_seeds"): None}


def _upgraded(data: object) -> object:
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        return data
    data = {**data, "metrics": dict(data["metrics"])}
    for path, value in ADDED.items():
        inner = data if len(path) == 1 else data["metrics"]
        inner.setdefault(path[-1], value)
    return data


