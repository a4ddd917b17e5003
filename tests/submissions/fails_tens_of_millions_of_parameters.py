# 50 million parameters: refused by the parameter budget before a single step trains.
from torch import nn


def build_model(info):
    c, (h, w) = info.in_channels, info.image_size
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 60_000), nn.ReLU(),
                         nn.Linear(60_000, info.num_classes))
