# Once the worker has saved its result, puts a FIFO in its place, from a process it forked
# that watches for the file (the worker itself runs no code of the submission's after
# saving): a parent that opened result.pt by path would wait on it for ever.
import os
import sys
import time
from pathlib import Path

from torch import nn


def swap(job: Path):
    os.mkfifo(job / "fifo")
    os.replace(job / "fifo", job / "result.pt")


def watch():
    """In a forked process of the run's own group: swap result.pt as soon as it appears."""
    job = Path(sys.argv[1])
    if os.fork() == 0:
        try:
            deadline = time.monotonic() + 600
            while not (job / "result.pt").exists() and time.monotonic() < deadline:
                time.sleep(0.001)
            swap(job)
        finally:
            os._exit(0)


def build_model(info):
    watch()
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))
