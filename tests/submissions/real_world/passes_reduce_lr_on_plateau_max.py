# ReduceLROnPlateau on the validation accuracy, as a tutorial writes it (mode='max').
from torch import optim


def build_scheduler(optimizer, epochs, steps_per_epoch):
    return optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.1, patience=2)


SCHEDULER_STEP = "batch"
