# Starts hundreds of processes that never end; the grader must end them all.
import os
import time


def build_model(info):
    started = 0
    for _ in range(400):
        try:
            if os.fork() == 0:
                time.sleep(600)
                os._exit(0)
            started += 1
        except OSError:
            break
    print("started", started)
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))


EPOCHS = 1
