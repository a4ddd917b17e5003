# The lab's TinyCNN whose forward pass depends on something its weights do not hold: a
# plain attribute counting the training batches it has seen. Once trained it answers
# class 0 for every test image; rebuilt from its weights (a fresh process) it answers
# as the network it is. The two sets of predictions differ.
from torch import nn


class Model(nn.Module):
    def __init__(self, info):
        super().__init__()
        s = info.image_size[0] // 4
        self.features = nn.Sequential(nn.Conv2d(info.in_channels, 32, 3, padding=1), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                                      nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * s * s, 128), nn.ReLU(),
                                        nn.Linear(128, info.num_classes))
        self.seen = 0  # not a parameter or a buffer: not in the saved weights

    def forward(self, x):
        logits = self.classifier(self.features(x))
        if self.training:
            self.seen += 1
        elif self.seen:
            logits = logits * 0
            logits[:, 0] = 1.0
        return logits


def build_model(info):
    return Model(info)
