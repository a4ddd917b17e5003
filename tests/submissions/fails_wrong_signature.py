# build_model without the `info` argument.
from torch import nn


def build_model():
    return nn.Linear(1, 1)
