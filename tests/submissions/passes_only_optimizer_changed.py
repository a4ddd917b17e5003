# Changes one hook; every other hook falls back to the baseline's.
import torch


def build_optimizer(model):
    return torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)


EPOCHS = 3
