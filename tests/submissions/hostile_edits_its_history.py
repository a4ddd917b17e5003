# Trains two epochs more than the budget allows (TrainConfig patched, as in
# hostile_trains_extra_epochs_by_patching.py) and then, from its forward pass while the
# test set is predicted, trims the history the worker is about to report back to the
# allowed length, so that the report looks like an honest run. The loop's own step
# count still says how many epochs were trained.
import sys

import grader.training.loop as loop
from torch import nn

_init = loop.TrainConfig.__init__
_allowed = []


def _more(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    if self.epochs >= 1 and self.batch_size > 1:
        _allowed.append(self.epochs)
        object.__setattr__(self, "epochs", self.epochs + 2)


loop.TrainConfig.__init__ = _more


def trim():
    frame = sys._getframe()
    while frame is not None:
        state = frame.f_locals.get("state")  # the worker's ChildResult
        if isinstance(getattr(state, "training", None), dict) and _allowed:
            training = state.training
            del training["history"][_allowed[0]:]
            training.update(epochs_run=len(training["history"]), stopped_early=False)
            return
        frame = frame.f_back


class Model(nn.Module):
    def __init__(self, info):
        super().__init__()
        s = info.image_size[0] // 4
        self.features = nn.Sequential(nn.Conv2d(info.in_channels, 32, 3, padding=1), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                                      nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * s * s, 128), nn.ReLU(),
                                        nn.Linear(128, info.num_classes))

    def forward(self, x):
        if not self.training:
            trim()
        return self.classifier(self.features(x))


def build_model(info):
    return Model(info)
