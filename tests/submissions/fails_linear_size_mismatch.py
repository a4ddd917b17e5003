# A Linear sized for 32x32 input, graded on 28x28 images: forward raises.
from torch import nn

def build_model(info):
    return nn.Sequential(nn.Conv2d(info.in_channels, 8, 3, padding=1), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 16 * 16, info.num_classes))
