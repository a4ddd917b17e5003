# The scheduler from PyTorch's docs: ReduceLROnPlateau, left at its default mode='min'.
import torch


def build_scheduler(optimizer, epochs, steps_per_epoch):
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)


EPOCHS = 2
