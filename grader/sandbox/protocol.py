"""What crosses the trust boundary, typed: the request the child is given (`JobRequest`,
written as JOB/request.json) and the parent's record of one run (`Run`), made from what
the child reported and completed by the parent with the test accuracy it alone can
measure (the child never sees test labels).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.files import write_json

REQUEST = "request.json"


@dataclass(frozen=True)
class JobRequest:
    mode: str                     # "train": inspect, train, predict the test set; "verify":
                                  # measure a trained run again from its weights; "predict"
    submission: str               # the source the child imports: a folder or a .py file
    reference: str                # the baseline's hooks, every missing hook's fallback
    model_hook: str               # the hook that builds the graded model
    info: dict                    # grader.load.datasets.DatasetInfo, as a dict
    device: str
    threads: int
    training: dict                # the rubric's `training:` switches
    inputs: dict[str, str] = field(default_factory=dict)  # name -> path the child reads it at
    seed: int = 0
    budget: dict | None = None    # the rubric's budget; gpu_memory_fraction is this run's share
    epochs_override: int | None = None  # --quick: the rubric's quick epochs
    modules: list[str] = field(default_factory=list)  # submodules the rubric's checks name
    keep_weights: bool = False    # return the trained state_dict (the run's output folder)
    layers: list[str] = field(default_factory=list)  # fallback layers the child stacks first
    rules: dict | None = None     # what those layers let it touch (confine.child_rules)

    def write(self, job_dir: Path) -> None:
        write_json(Path(job_dir) / REQUEST, asdict(self))

    @classmethod
    def read(cls, job_dir: Path) -> JobRequest:
        return cls(**json.loads((Path(job_dir) / REQUEST).read_text()))


@dataclass
class Run:
    """One training run of a submission or the baseline, as the parent knows it."""
    seed: int
    failure: dict | None = None       # grader.failures.failure_dict; None when it trained
    inspection: dict | None = None    # grader.inspection.facts.inspect_model's facts
    requested: dict | None = None     # the submission's constants (EPOCHS, BATCH_SIZE, ...)
    customised: list[str] | None = None  # the hooks it defined itself
    notes: list[str] = field(default_factory=list)
    effective: dict | None = None     # epochs and batch size after the budget's clamps
    training: dict | None = None      # history, epochs_run, train_seconds, pipeline
    ledger: dict | None = None        # the loop's own counters (training.loop.Ledger), as reported
    verification: dict | None = None  # the parent's re-measurement in a fresh child (grader.grading.runs.verify)
    timings: dict = field(default_factory=dict)
    accuracy: float | None = None     # on the test set, measured by the parent
    public_accuracy: float | None = None  # on untouched public test images (load.testset)
    confusion: list[list[int]] | None = None  # rows: the true class
    wall_s: float | None = None
    startup_s: float | None = None    # the child's own start-up, not charged to the limit
    cpu_s: float | None = None        # CPU time after start-up (sandbox.usage), all processes
    waited_s: float | None = None     # of the wall time, waiting for a busy machine's CPU
    log_tail: str = ""
    isolation: dict | None = None     # the confinement that was in force
    source: str = "trained"           # a baseline's: trained here, from the cache, or pinned
    measured_at: str | None = None

    # what the baseline cache keeps of a run (not its log or its confinement)
    CACHED = ("seed", "accuracy", "training", "confusion", "effective", "wall_s", "cpu_s",
              "measured_at")

    # what only the parent measures: a child's state naming one of these is not believed
    MEASURED = ("seed", "accuracy", "public_accuracy", "confusion", "verification", "wall_s",
                "startup_s", "cpu_s", "waited_s", "log_tail", "isolation", "source", "measured_at")

    @classmethod
    def from_child(cls, seed: int, state: dict, **measured) -> Run:
        """The facts the child reported (whatever it got to) plus the parent's measurements."""
        known = {f.name for f in dataclasses.fields(cls)} - set(cls.MEASURED)
        return cls(seed=seed, **{k: v for k, v in state.items() if k in known}, **measured)

    def record(self) -> dict:
        """What the baseline cache stores: enough to score against and to report."""
        kept = {k: getattr(self, k) for k in self.CACHED}
        kept["inspection"] = {"parameters": (self.inspection or {}).get("parameters")}
        return kept

    @classmethod
    def from_record(cls, record: dict, source: str) -> Run:
        fields = {k: record.get(k) for k in (*cls.CACHED, "inspection")}
        return cls(**fields, source=source)
