# Looks for the test labels everywhere a child process might find them, prints what it
# finds, then trains the baseline honestly. Under the sandbox it must find nothing.
import os
import sys
from pathlib import Path

TARGETS = {"test_y.npy", "t10k-labels-idx1-ubyte", "results.json"}


def hunt():
    found = []
    found += [f"argv:{a}" for a in sys.argv if "test_y" in a or "labels" in a]
    try:
        cmd = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
        if b"test_y" in cmd or b"--data-dir" in cmd:
            found.append(f"parent cmdline:{cmd[:80]!r}")
    except OSError:
        pass
    found += [f"env:{k}" for k, v in os.environ.items() if "test_y" in v or "labels" in v]
    # the links to its inputs lead to the data cache, where the test labels lie beside them
    beside = {Path(os.path.realpath(p)).parent for p in Path.cwd().parent.glob("inputs/*")}
    roots = {*beside, Path.cwd(), *Path.cwd().parents, Path("/tmp"), Path(os.path.expanduser("~")),
             Path("/root"), Path("/work"), Path("/home"), Path("/mnt"), Path("/srv"), Path("/opt")}
    for root in roots:
        depth0 = len(root.parts)
        for dirpath, dirnames, filenames in os.walk(root):
            if len(Path(dirpath).parts) - depth0 >= 7 or dirpath.startswith(("/proc", "/sys", "/usr")):
                dirnames[:] = []
                continue
            for name in TARGETS & set(filenames):
                path = Path(dirpath, name)
                try:
                    path.read_bytes()[:8]
                    found.append(f"file:{path}")
                except OSError:
                    pass
    return sorted(set(found))


def build_model(info):
    from torch import nn
    for item in hunt():
        print("FOUND", item)
    print("HUNT DONE")
    s = info.image_size[0] // 4
    return nn.Sequential(nn.Conv2d(info.in_channels, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),
                         nn.Flatten(), nn.Linear(8 * s * s, info.num_classes))


EPOCHS = 1
