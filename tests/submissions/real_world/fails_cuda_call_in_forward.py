# Written on Colab with a GPU: forward moves its input to CUDA itself.
from torch import nn


class Net(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))

    def forward(self, x):
        x = x.cuda()
        return self.body(x)


def build_model(info):
    return Net(info.in_channels, info.num_classes)
