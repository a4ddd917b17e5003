"""The lecture's SimpleCNN and the mistakes students make with it, for tests."""
from torch import nn


def block(cin, cout, pool=True, bias=True, norm=True):
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=bias)]
    layers += [nn.BatchNorm2d(cout)] if norm else []
    layers += [nn.ReLU()] + ([nn.MaxPool2d(2)] if pool else [])
    return nn.Sequential(*layers)


class SimpleCNN(nn.Module):
    def __init__(self, fc_in=128 * 4 * 4, pool2=True, bias1=True, norm3=True):
        super().__init__()
        self.layer1 = block(3, 32, bias=bias1)
        self.layer2 = block(32, 64, pool=pool2)
        self.layer3 = block(64, 128, norm=norm3)
        self.fc = nn.Linear(fc_in, 10)

    def forward(self, x):
        return self.fc(self.layer3(self.layer2(self.layer1(x))).flatten(1))


MISTAKES = {
    "correct": {},
    "missing_pool": {"pool2": False},          # 64x16x16 after layer2
    "linear_for_28x28": {"fc_in": 128 * 3 * 3},  # 28 -> 14 -> 7 -> 3
    "conv_without_bias": {"bias1": False},     # 960 - 32
    "no_batchnorm": {"norm3": False},          # 74,112 - 256
}
