# A CIFAR-10 model graded on Fashion-MNIST: its first Conv2d is built for 3 channels, and its
# classifier is an nn.LazyLinear, whose size is only known after a forward pass reaches it.
# The forward pass breaks in conv1, before the lazy layer is initialised; the grader must
# report that error (not crash counting the lazy layer's parameters).
from torch import nn


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.LazyLinear(num_classes)

    def forward(self, x):
        x = self.pool(self.conv1(x).relu())
        x = self.pool(self.conv2(x).relu())
        return self.fc(x.flatten(1))


def build_model(info):
    return Net(info.num_classes)
