"""Data augmentation and preprocessing.

`info` describes the data set: info.image_size (height, width), info.in_channels,
info.num_classes, info.mean, info.std, info.classes, info.name ("cifar10", ...).
Both hooks return a callable that takes one PIL image and returns a float tensor
[channels, height, width]. The grader applies them; you never load data yourself.
"""
from torchvision import transforms as T


def build_train_transform(info):
    """Applied to every training image, with fresh randomness each time it is seen.

    Augmentation shows the model plausible variations of each image so it learns the
    object, not the pixels. Ideas to try (one at a time, and measure!):
      - T.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2)   colour images
      - T.RandomRotation(10) or T.RandomAffine(0, translate=(0.1, 0.1))
      - T.RandomErasing(p=0.25)  (goes AFTER ToTensor: it works on tensors)
    Too much augmentation hurts when training is short: the budget is a few epochs.
    Flipping left-right suits CIFAR-10 and Fashion-MNIST; think before flipping digits.
    """
    height, _ = info.image_size
    return T.Compose([
        T.RandomCrop(info.image_size, padding=height // 8),  # shift by up to 1/8
        T.RandomHorizontalFlip(),                             # mirror half the images
        T.ToTensor(),                                         # uint8 HWC -> float CHW in [0, 1]
        T.Normalize(info.mean, info.std),                     # zero mean, unit variance
    ])


def build_test_transform(info):
    """Applied to validation and test images: no randomness, only preprocessing.

    It must prepare images exactly as training did (same ToTensor and Normalize),
    or the model sees inputs from a distribution it never trained on.
    """
    return T.Compose([T.ToTensor(), T.Normalize(info.mean, info.std)])
