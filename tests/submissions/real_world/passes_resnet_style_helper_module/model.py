"""The network: a ResNet from resnet.py, this folder's helper module."""
from resnet import ResNet8


def build_model(info):
    return ResNet8(info.in_channels, info.num_classes)
