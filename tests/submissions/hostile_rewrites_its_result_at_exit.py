# The lab's TinyCNN, with an exit handler (and a finaliser) that rewrite the run's result.pt
# once the grader has saved it, to report a one-parameter model: the report must show the
# model that really ran.
import atexit
import weakref

import torch
from torch import nn


def forge():
    try:
        state = torch.load("../result.pt", weights_only=True)
        state["inspection"]["parameters"] = 1
        state["status"] = "ok"
        torch.save(state, "../result.pt")
    except Exception:
        pass


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
        return self.classifier(self.features(x))


def build_model(info):
    atexit.register(forge)
    model = Model(info)
    weakref.finalize(model, forge)
    return model
