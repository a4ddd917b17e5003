# A loss that returns NaN: training must stop with a clear reason, checks keep their points.
import torch
from torch import nn


class BrokenLoss(nn.Module):
    def forward(self, logits, target):
        return nn.functional.cross_entropy(logits, target) * torch.tensor(float("nan"))


def build_loss():
    return BrokenLoss()
