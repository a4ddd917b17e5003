# A warm-up cosine schedule written timm-style: step(epoch) sets the lr for the epoch given.
import math


class WarmupCosine:
    def __init__(self, optimizer, epochs, warmup=1):
        self.optimizer, self.epochs, self.warmup = optimizer, epochs, warmup
        self.base = [g["lr"] for g in optimizer.param_groups]

    def step(self, epoch):
        if epoch < self.warmup:
            scale = (epoch + 1) / self.warmup
        else:
            scale = 0.5 * (1 + math.cos(math.pi * (epoch - self.warmup) / max(1, self.epochs - self.warmup)))
        for group, lr in zip(self.optimizer.param_groups, self.base):
            group["lr"] = lr * scale


def build_scheduler(optimizer, epochs, steps_per_epoch):
    return WarmupCosine(optimizer, epochs)


EPOCHS = 2
