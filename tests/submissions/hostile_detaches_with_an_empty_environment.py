# Leaves a process behind that the marker sweep cannot recognise: detached twice, then
# re-executed with an empty environment, it keeps writing after its run. It must be dead
# as soon as its run has ended.
import os
import sys

TAG = "hostile-empty-env-writer"
LOOP = ("import sys, time\n"
        "while True:\n"
        "    try:\n"
        "        open(sys.argv[1], 'a').write('alive\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "    time.sleep(0.2)\n")

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c", LOOP, os.path.abspath("heartbeat"), TAG], {})
    os._exit(0)
os.wait()


def build_model(info):
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))


EPOCHS = 1
