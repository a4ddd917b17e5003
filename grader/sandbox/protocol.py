"""What crosses the trust boundary, typed: the request the child is given (`JobRequest`,
written as JOB/request.json), what the child reports back (`ChildResult`, JOB/result.pt
and its `state` events) and the parent's record of one run (`Run`), made from that report
and completed by the parent with the test accuracy it alone can measure (the child never
sees test labels).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from grader.files import write_json
from grader.inspection.modelfacts import ModelFacts
from grader.load.datasets import DatasetInfo
from grader.records import dump, load
from grader.rubric.schema import Budget, Training

if typing.TYPE_CHECKING:
    from torch import Tensor

REQUEST = "request.json"


@dataclass(frozen=True)
class JobRequest:
    mode: str                     # "train": inspect, train, predict the test set; "verify":
                                  # measure a trained run again from its weights; "predict"
    submission: str               # the source the child imports: a folder or a .py file
    reference: str                # the baseline's hooks, every missing hook's fallback
    model_hook: str               # the hook that builds the graded model
    info: DatasetInfo
    device: str
    threads: int
    training: Training            # the rubric's `training:` switches
    inputs: dict[str, str] = field(default_factory=dict)  # name -> path the child reads it at
    seed: int = 0
    budget: Budget | None = None  # the rubric's; gpu_memory_fraction is this run's share
    epochs_override: int | None = None  # --quick: the rubric's quick epochs
    modules: list[str] = field(default_factory=list)  # submodules the rubric's checks name
    keep_weights: bool = False    # return the trained state_dict (the run's output folder)
    layers: list[str] = field(default_factory=list)  # fallback layers the child stacks first
    rules: dict | None = None     # what those layers let it touch (confine.child_rules)

    def write(self, job_dir: Path) -> None:
        write_json(Path(job_dir) / REQUEST, dump(self))

    @classmethod
    def read(cls, job_dir: Path) -> JobRequest:
        return load(cls, json.loads((Path(job_dir) / REQUEST).read_text()), "request")


@dataclass
class ChildResult:
    """What the child reports, in every mode (train, verify, predict); a field its mode
    does not fill stays None. The child writes it whole as JOB/result.pt (`as_dict`) and
    sends fields as it learns them (`state` events), so that a run killed later keeps what
    it got to. The parent reads it with `parse`, which refuses a field it does not know or
    a value of another type: the child runs student code, so its report is data to check,
    and a typo in the grader's own code fails loudly instead of losing a fact."""
    status: str = "failed"                  # "ok" once the mode's work is done
    failure: dict | None = None             # grader.failures.failure_dict
    timings: dict = field(default_factory=dict)  # import_s, inspect_s, predict_s
    # train
    customised: list | None = None          # the hooks the submission defined itself
    notes: list = field(default_factory=list)
    requested: dict | None = None           # its constants (EPOCHS, BATCH_SIZE, ...)
    effective: dict | None = None           # epochs and batch size after the budget's clamps
    inspection: dict | None = None          # grader.inspection.facts.inspect_model
    training: dict | None = None            # history, epochs_run, train_seconds, pipeline
    ledger: dict | None = None              # grader.training.loop.Ledger
    model_state: dict | None = None         # the trained weights (keep_weights)
    # train and verify: logits for the test set (train: its head, grading.ACCOUNT images)
    test_logits: Tensor | None = None
    public_logits: Tensor | None = None
    # verify: the model rebuilt from the saved weights, measured again
    parameters: int | None = None
    output_shape: list | None = None
    parameter_shapes: dict | None = None
    weights_error: str | None = None
    forward_error: str | None = None
    init_digest: str | None = None          # the rebuilt model's weights before loading (Run)
    # predict
    logits: Tensor | None = None

    STATUSES = ("ok", "failed")

    @classmethod
    def parse(cls, data: object) -> ChildResult:
        """The child's whole report; ValueError where it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"not a dict but {type(data).__name__}")
        result = cls()
        result.update(data)
        if result.status not in cls.STATUSES:
            raise ValueError(f"status {result.status!r}")
        return result

    def update(self, data: object) -> None:
        """Take some fields (a `state` event's); ValueError, and nothing taken, where one is
        unknown or of another type."""
        if not isinstance(data, dict):
            raise ValueError(f"not a dict but {type(data).__name__}")
        kinds = _kinds(type(self))
        for name, value in data.items():
            if name not in kinds:
                raise ValueError(f"unknown field {str(name)[:40]!r}")
            if not isinstance(value, kinds[name]):
                raise ValueError(f"{name} is {type(value).__name__}")
            if name == "inspection" and value is not None:
                ModelFacts.load(value)  # RecordError (a ValueError) where it is not the facts
        for name, value in data.items():
            setattr(self, name, value)

    def as_dict(self) -> dict:
        """What torch.save writes (plain containers and tensors: weights_only loads it)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@functools.cache
def _kinds(cls) -> dict[str, tuple[type, ...]]:
    """Each field's accepted types, from its annotation (X | None -> X or None)."""
    import torch
    hints = typing.get_type_hints(cls, {"Tensor": torch.Tensor})
    kinds = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds[f.name] = tuple(typing.get_origin(a) or a for a in args)  # list[str] -> list
    return kinds


@dataclass
class Run:
    """One training run of a submission or the baseline, as the parent knows it."""
    seed: int
    failure: dict | None = None       # grader.failures.failure_dict; None when it trained
    inspection: ModelFacts | None = None  # what grader.inspection.facts.inspect_model measured
    requested: dict | None = None     # the submission's constants (EPOCHS, BATCH_SIZE, ...)
    customised: list[str] | None = None  # the hooks it defined itself
    notes: list[str] = field(default_factory=list)
    effective: dict | None = None     # epochs and batch size after the budget's clamps
    training: dict | None = None      # history, epochs_run, train_seconds, pipeline
    ledger: dict | None = None        # the loop's own counters (training.loop.Ledger), as reported
    verification: dict | None = None  # the parent's re-measurement in a fresh child (grader.grading.runs.verify)
    # a digest of the model's initial weights at this seed, as the fresh child rebuilt them:
    # a submission's run is paired with the baseline's only where the two are equal
    init_digest: str | None = None
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

    parameters: int | None = None     # a cached baseline's, whose facts are not kept
    # what the baseline cache keeps of a run (not its log, its facts or its confinement)
    CACHED = ("seed", "accuracy", "training", "confusion", "effective", "wall_s", "cpu_s",
              "measured_at", "init_digest", "parameters")

    @classmethod
    def from_child(cls, seed: int, child: ChildResult, **measured) -> Run:
        """The facts the child reported (whatever it got to) plus the parent's measurements
        (`measured`: wall_s, cpu_s, log_tail, isolation, ...). What only the parent
        measures (the accuracy above all) is not a field of ChildResult at all."""
        inspection = ModelFacts.load(child.inspection) if child.inspection is not None else None
        return cls(seed=seed, failure=child.failure, inspection=inspection,
                   requested=child.requested, customised=child.customised, notes=child.notes,
                   effective=child.effective, training=child.training, ledger=child.ledger,
                   timings=child.timings, **measured)

    def record(self) -> dict:
        """What the baseline cache stores: enough to score against and to report."""
        return {k: self.trainable() if k == "parameters" else getattr(self, k)
                for k in self.CACHED}

    @classmethod
    def from_record(cls, record: dict, source: str) -> Run:
        return cls(**{k: record.get(k) for k in cls.CACHED}, source=source)

    def trainable(self) -> int | None:
        """Its model's trainable parameters: as inspected, else as the cache kept them."""
        return self.inspection.parameters if self.inspection else self.parameters
