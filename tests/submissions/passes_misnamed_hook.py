# `build_models` is a typo of `build_model`: the baseline's model is used and a note says so.
from torch import nn


def build_models(info):
    return nn.Identity()


epochs = 3
