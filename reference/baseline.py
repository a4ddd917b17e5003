"""The course lab's TinyCNN baseline, exactly as the lab defines it.

The grader trains this alongside every submission (same data, seed and budget rules)
and uses each of its hooks as the fallback for a hook a submission leaves out.
Changing this file changes every grade: the baseline cache is keyed on its hash.
"""
import torch
from torch import nn
from torchvision import transforms as T


def build_train_transform(info):
    height, _ = info.image_size
    # RandomCrop(32, padding=4) on CIFAR-10, RandomCrop(28, padding=3) on Fashion-MNIST.
    return T.Compose([
        T.RandomCrop(info.image_size, padding=height // 8),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(info.mean, info.std),
    ])


def build_test_transform(info):
    return T.Compose([T.ToTensor(), T.Normalize(info.mean, info.std)])


class TinyCNN(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, image_size=(32, 32)):
        super().__init__()
        s_h, s_w = image_size[0] // 4, image_size[1] // 4  # two 2x2 poolings
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * s_h * s_w, 128), nn.ReLU(),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def build_model(info):
    return TinyCNN(info.in_channels, info.num_classes, info.image_size)


def build_optimizer(model):
    return torch.optim.Adam(model.parameters(), lr=3e-3)


def build_loss():
    return nn.CrossEntropyLoss()


def build_scheduler(optimizer, epochs, steps_per_epoch):
    return None


SCHEDULER_STEP = "epoch"
EPOCHS = 5
BATCH_SIZE = 128
GRAD_CLIP_NORM = None
EARLY_STOPPING_PATIENCE = None
