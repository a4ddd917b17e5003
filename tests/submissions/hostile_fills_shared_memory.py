# Fills 4 GiB of shared anonymous memory: RLIMIT_DATA counts private memory only, so only
# a memory cgroup stops it. Under one it must end as out of memory, not fill the machine.
import mmap


def build_model(info):
    block = mmap.mmap(-1, 4 << 30)
    for i in range(0, len(block), 4096):
        block[i] = 1
    print("FILLED 4 GiB")
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))


EPOCHS = 1
