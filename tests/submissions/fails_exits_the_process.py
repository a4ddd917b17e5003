# Kills its own process while the model is built: no result file, the parent explains.
import os


def build_model(info):
    os._exit(3)
