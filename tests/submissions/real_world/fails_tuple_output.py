# forward returns the logits and the features (for a t-SNE plot in the student's notebook).
from torch import nn


class Net(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(16, num_classes)

    def forward(self, x):
        features = self.features(x)
        return self.head(features), features


def build_model(info):
    return Net(info.in_channels, info.num_classes)
