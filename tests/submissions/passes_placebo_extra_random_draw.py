"""A placebo: the lab's TinyCNN, trained exactly as the baseline is, but built after one
extra random draw, so every weight starts elsewhere. Its true gain is 0; what it scores
is the training's own noise."""
import torch
from torch import nn


def build_model(info):
    torch.rand(1)  # the one extra draw
    s_h, s_w = info.image_size[0] // 4, info.image_size[1] // 4
    return nn.Sequential(
        nn.Conv2d(info.in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * s_h * s_w, 128), nn.ReLU(), nn.Linear(128, info.num_classes))
