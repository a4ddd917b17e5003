# A missing closing bracket: the grader must name the file and line.
from torch import nn

def build_model(info):
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, info.num_classes)
