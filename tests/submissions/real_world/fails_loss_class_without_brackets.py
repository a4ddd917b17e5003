# The loss returned as the class, without its brackets.
import torch.nn as nn


def build_loss():
    return nn.CrossEntropyLoss
