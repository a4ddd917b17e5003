# OneCycleLR sized per batch, as its docs show, but SCHEDULER_STEP left at "epoch".
import torch


def build_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def build_scheduler(optimizer, epochs, steps_per_epoch):
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs,
                                               steps_per_epoch=steps_per_epoch)
