"""The instructor's solution to the lecture's SimpleCNN exercise (rubrics/simple_cnn.yaml).

Three blocks of Conv2d(3x3, padding 1) + BatchNorm2d + ReLU + MaxPool2d(2), each halving
the image, then one Linear. For a 3x32x32 CIFAR-10 image:
  layer1  3 -> 32   32x16x16   3*3*3*32 + 32 = 896    + BatchNorm 2*32 = 64    -> 960
  layer2 32 -> 64   64x8x8     3*3*32*64 + 64 = 18,496 + 2*64 = 128           -> 18,624
  layer3 64 -> 128  128x4x4    3*3*64*128 + 128 = 73,856 + 2*128 = 256        -> 74,112
  fc     128*4*4 = 2048 -> 10   2048*10 + 10                                  -> 20,490
"""
from torch import nn


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.MaxPool2d(2))


class SimpleCNN(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, image_size=(32, 32)):
        super().__init__()
        self.layer1 = block(in_channels, 32)
        self.layer2 = block(32, 64)
        self.layer3 = block(64, 128)
        h, w = image_size[0] // 8, image_size[1] // 8
        self.fc = nn.Linear(128 * h * w, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.flatten(1))


def build_simple_cnn(info):
    return SimpleCNN(info.in_channels, info.num_classes, info.image_size)


PARAMETER_COUNTS = {"layer1": 960, "layer2": 18_624, "layer3": 74_112, "fc": 20_490}
