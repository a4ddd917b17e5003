# Pretrained weights, downloaded when the model is built. Grading has no network: the
# download fails (here at once: nothing listens on the URL's port).
import torch
from torch import nn
from torchvision import models

WEIGHTS_URL = "http://127.0.0.1:9/models/resnet18-f37072fd.pth"


def build_model(info):
    model = models.resnet18(weights=None)
    state = torch.hub.load_state_dict_from_url(WEIGHTS_URL, progress=False)
    model.load_state_dict(state)
    model.conv1 = nn.Conv2d(info.in_channels, 64, 7, 2, 3, bias=False)
    model.fc = nn.Linear(512, info.num_classes)
    return model
