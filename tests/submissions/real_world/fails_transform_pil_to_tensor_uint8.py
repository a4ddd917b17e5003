# torchvision's "Getting started with transforms v2": PILToTensor keeps 0-255 integers.
from torchvision import transforms as T


def build_train_transform(info):
    return T.Compose([T.RandomHorizontalFlip(), T.PILToTensor()])
