# Looks for what an earlier run left outside its own job folder and would start from it;
# finding anything ends this run with the list of what it found.
import os
from pathlib import Path

from torch import nn

MARK = "tinycnn_left_weights"


def places():
    home = Path(os.environ.get("HOME", "/nonexistent"))
    return [Path("/dev/shm"), Path("/tmp"), Path("/var/tmp"), Path(os.environ.get("TMPDIR", "/tmp")),
            home, home / ".cache", Path.cwd(), Path.cwd().parent, Path.cwd().parent.parent]


def build_model(info):
    found = sorted({str(folder / name) for folder in places()
                    for name in (MARK, f".{MARK}", f"{MARK}.d/{MARK}") if (folder / name).exists()})
    if found:
        raise RuntimeError("found: " + " ".join(found))
    s = info.image_size[0] // 4
    return nn.Sequential(nn.Conv2d(info.in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * s * s, 128), nn.ReLU(), nn.Linear(128, info.num_classes))
