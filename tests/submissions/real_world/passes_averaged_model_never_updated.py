# Stochastic Weight Averaging as PyTorch's SWA tutorial starts it: the model wrapped in
# AveragedModel (the tutorial's own loop calls swa_model.update_parameters(model)).
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def build_model(info):
    model = nn.Sequential(nn.Conv2d(info.in_channels, 16, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(16 * 16, info.num_classes))
    return AveragedModel(model)
