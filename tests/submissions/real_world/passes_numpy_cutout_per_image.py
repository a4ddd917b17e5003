# Cutout (DeVries & Taylor, 2017) as the widely copied implementation writes it: holes drawn
# with numpy's global random state, after ToTensor; plus a Python-`random` choice.
import random

import numpy as np
import torch
from torchvision import transforms as T


class Cutout(object):
    def __init__(self, n_holes, length):
        self.n_holes = n_holes
        self.length = length

    def __call__(self, img):
        h = img.size(1)
        w = img.size(2)
        mask = np.ones((h, w), np.float32)
        for n in range(self.n_holes):
            y = np.random.randint(h)
            x = np.random.randint(w)
            y1 = np.clip(y - self.length // 2, 0, h)
            y2 = np.clip(y + self.length // 2, 0, h)
            x1 = np.clip(x - self.length // 2, 0, w)
            x2 = np.clip(x + self.length // 2, 0, w)
            mask[y1: y2, x1: x2] = 0.
        mask = torch.from_numpy(mask)
        mask = mask.expand_as(img)
        return img * mask


class RandomGamma(object):
    def __call__(self, img):
        return img ** random.choice([0.8, 1.0, 1.25])


def build_train_transform(info):
    return T.Compose([T.RandomCrop(info.image_size, padding=3), T.ToTensor(), RandomGamma(),
                      Cutout(n_holes=1, length=8), T.Normalize(info.mean, info.std)])
