# Leaves a file in every place outside its job folder it can write (the shared memory
# folder, temporary folders, home): a later student's run that finds it could start from
# this one's weights. The model itself is the lab's TinyCNN.
import os
from pathlib import Path

from torch import nn

MARK = "tinycnn_left_weights"


def places():
    home = Path(os.environ.get("HOME", "/nonexistent"))
    return [Path("/dev/shm"), Path("/tmp"), Path("/var/tmp"), Path(os.environ.get("TMPDIR", "/tmp")),
            home, home / ".cache", Path.cwd(), Path.cwd().parent, Path.cwd().parent.parent]


def build_model(info):
    for folder in places():
        for name in (MARK, f".{MARK}", f"{MARK}.d/{MARK}"):
            try:
                (folder / name).parent.mkdir(exist_ok=True)
                (folder / name).write_bytes(b"weights of an earlier run")
            except OSError:
                pass
    s = info.image_size[0] // 4
    return nn.Sequential(nn.Conv2d(info.in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * s * s, 128), nn.ReLU(), nn.Linear(128, info.num_classes))
