"""Submissions' sources shaped like what students hand in, for the similarity checks."""


RESNET = '''
from torch import nn


class Block(nn.Module):
    def __init__(self, channels, dropout):
        super().__init__()
        self.conv_a = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm_a = nn.BatchNorm2d(channels)
        self.conv_b = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm_b = nn.BatchNorm2d(channels)
        self.drop = nn.Dropout2d(dropout)

    def forward(self, x):
        shortcut = x
        x = self.drop(nn.functional.gelu(self.norm_a(self.conv_a(x))))
        return nn.functional.gelu(shortcut + self.norm_b(self.conv_b(x)))


def build_model(info):
    stem = nn.Sequential(nn.Conv2d(info.in_channels, 48, 3, padding=1), nn.BatchNorm2d(48), nn.GELU())
    body = nn.Sequential(Block(48, 0.1), nn.MaxPool2d(2), Block(48, 0.2), nn.AdaptiveAvgPool2d(1))
    return nn.Sequential(stem, body, nn.Flatten(), nn.Linear(48, info.num_classes))
'''


RENAMED = (RESNET.replace("shortcut", "skip").replace("conv_a", "first").replace("norm_a", "bn1")
           .replace("conv_b", "second").replace("norm_b", "bn2").replace("Block", "Residual")
           .replace("stem", "head").replace("body", "trunk"))


OTHER = '''
from torch import nn


def build_model(info):
    layers = []
    width = info.in_channels
    for out in (24, 48, 96):
        layers += [nn.Conv2d(width, out, 5, padding=2), nn.ReLU(inplace=True), nn.AvgPool2d(2)]
        width = out
    layers += [nn.Flatten(), nn.LazyLinear(256), nn.SiLU(), nn.Dropout(0.4), nn.Linear(256, info.num_classes)]
    return nn.Sequential(*layers)
'''
