# Forgets the classifier's last layer: outputs 128 features instead of 10 logits.
from torch import nn

def build_model(info):
    c, (h, w) = info.in_channels, info.image_size
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 128))
