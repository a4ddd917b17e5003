"""The model's facts, typed: what grader.inspection.facts.inspect_model measured in the child
(a forward pass of two images, each layer's shapes and parameter counts), as the parent
reads them back. The child sends them as plain JSON-like containers (its result file is
loaded with torch's weights_only); the parent loads them here, strictly (grader.records):
the child runs student code, so its report is data to check, never to trust. The checks
(grader.inspection.checks) and the model summary in every report read these attributes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from grader.records import OPTIONAL, load


@dataclass
class Conv:
    """A Conv2d inside a layer or block."""
    in_channels: int = field(metadata={"json": "in"})
    out: int
    kernel: list[int]
    padding: object                    # [h, w], or "same" / "valid"
    stride: list[int]
    bias: bool


@dataclass
class Layer:
    """One module as the forward pass ran it; shapes have the batch of 2 in front."""
    name: str
    type: str
    input_shape: list[int] | None      # None: the forward pass never reached it
    output_shape: list[int] | None
    parameters: int
    buffers: int
    settings: dict                     # kernel_size, in_features, ... as the module has them
    convs: list[Conv]
    norms: list[int]                   # each BatchNorm's num_features


@dataclass
class ModuleFacts:
    """A module the rubric checks by name: a Layer's facts where it exists."""
    exists: bool
    name: str | None = field(default=None, metadata=OPTIONAL)
    type: str | None = field(default=None, metadata=OPTIONAL)
    input_shape: list[int] | None = field(default=None, metadata=OPTIONAL)
    output_shape: list[int] | None = field(default=None, metadata=OPTIONAL)
    parameters: int | None = field(default=None, metadata=OPTIONAL)
    buffers: int | None = field(default=None, metadata=OPTIONAL)
    settings: dict | None = field(default=None, metadata=OPTIONAL)
    convs: list[Conv] | None = field(default=None, metadata=OPTIONAL)
    norms: list[int] | None = field(default=None, metadata=OPTIONAL)

    def keep(self, name: str, value) -> bool:
        return self.exists  # an existing module keeps every key, a missing one has none


@dataclass
class ForwardError:
    """Where the forward pass of two images raised."""
    type: str
    message: str
    module: str | None                 # the innermost module running, None: forward() itself


@dataclass
class FirstWrong:
    """The first module, in the order the forward pass ran them, whose shape the rubric
    says is wrong, or the one that raised (grader.inspection.checks.first_wrong)."""
    module: str
    expected: list[int] | None
    got: list[int] | None
    what: str                          # "output", "input" or "raised"
    message: str | None = field(default=None, metadata=OPTIONAL)  # what it raised


@dataclass
class ModelFacts:
    output_shape: list[int] | None     # the logits' shape for 2 images
    output_type: str
    output: str | None                 # what came out instead of a tensor, described
    parameters: int                    # trainable
    total_parameters: int
    uninitialized: list[str]           # lazy modules never materialised
    layers: list[Layer]
    modules: dict[str, ModuleFacts]
    error: ForwardError | None
    scripted: bool

    @classmethod
    def load(cls, data: object) -> ModelFacts:
        return load(cls, data, "inspection")
