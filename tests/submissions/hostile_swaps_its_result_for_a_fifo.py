# After the worker has saved its result, puts a FIFO in its place (at exit, the last code
# that runs): a parent that opened result.pt by path would wait on it for ever.
import atexit
import os
import sys
from pathlib import Path

from torch import nn


def swap():
    job = Path(sys.argv[1])
    os.mkfifo(job / "fifo")
    os.replace(job / "fifo", job / "result.pt")


def build_model(info):
    atexit.register(swap)
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))
