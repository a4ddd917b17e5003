# A notebook habit: sys.exit() inside a hook.
import sys


def build_model(info):
    sys.exit("done")
