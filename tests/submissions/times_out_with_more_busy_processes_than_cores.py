# forward keeps three processes busy on the run's cores and never returns: they wait for
# each other's CPU, which must not count as the machine's waiting, so the time limit
# still stops it.
import os

from torch import nn


class Crowd(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)

    def forward(self, x):
        for _ in range(2):
            if os.fork() == 0:
                break
        while True:
            pass


def build_model(info):
    return Crowd()
