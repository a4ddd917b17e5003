# Tries to take 40 GB of memory: the memory limit must stop it with a clear reason.
import torch


def build_model(info):
    hog = torch.ones(40 * 2**30, dtype=torch.uint8)
    return hog
