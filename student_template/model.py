"""The network. build_model(info) must return an nn.Module mapping a batch
[N, info.in_channels, height, width] to logits [N, info.num_classes] (no softmax:
the loss applies it).

This is the lab's TinyCNN. Ideas to try:
  - nn.BatchNorm2d(c) after each Conv2d: faster, more stable training
  - nn.Dropout(p) before a Linear layer: less overfitting
  - more channels (32 -> 64 -> 128) or a third conv block
  - a residual block: out = x + block(x), which lets deeper nets train
  - nn.AdaptiveAvgPool2d(1) instead of a big Linear layer: far fewer parameters
The rubric caps the parameter count; the grader prints yours before training.
Keep the names `features` and `classifier` if your rubric checks them.
"""
from torch import nn


class TinyCNN(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, image_size=(32, 32)):
        super().__init__()
        # Each MaxPool2d(2) halves height and width: 32x32 -> 16x16 -> 8x8.
        s_h, s_w = image_size[0] // 4, image_size[1] // 4
        self.features = nn.Sequential(
            # Conv2d(in, out, kernel 3, padding 1) keeps the size;
            # it has 3*3*in*out weights + out biases.
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                       # [N, 64, s, s] -> [N, 64*s*s]
            nn.Linear(64 * s_h * s_w, 128), nn.ReLU(),
            nn.Linear(128, num_classes),        # one logit per class
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def build_model(info):
    return TinyCNN(info.in_channels, info.num_classes, info.image_size)
