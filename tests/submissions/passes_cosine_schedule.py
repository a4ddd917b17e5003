"""One of the lab's suggestions that keeps the model: the baseline's Adam at 3e-3, its
learning rate annealed to 0 over the epochs along a cosine (every other hook falls back to
the baseline's). The model, its initial weights and the random numbers its training draws
are the baseline's, so the grader measures it seed by seed against the baseline's run at the
same seed (docs/scoring.md)."""
import torch


def build_scheduler(optimizer, epochs, steps_per_epoch):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)


SCHEDULER_STEP = "epoch"
