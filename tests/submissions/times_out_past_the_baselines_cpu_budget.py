# A model far costlier per step than the baseline (wide convolutions at full resolution):
# under a rubric with budget.time_factor it runs past the CPU limit the baseline sets.
from torch import nn


def build_model(info):
    c = info.in_channels
    return nn.Sequential(
        nn.Conv2d(c, 96, 3, padding=1), nn.ReLU(),
        nn.Conv2d(96, 96, 3, padding=1), nn.ReLU(),
        nn.Conv2d(96, 96, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, info.num_classes))
