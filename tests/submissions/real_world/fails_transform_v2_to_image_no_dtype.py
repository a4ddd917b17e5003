# transforms v2 without ToDtype: ToImage keeps the uint8 pixels.
from torchvision.transforms import v2


def build_train_transform(info):
    return v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip()])


def build_test_transform(info):
    return v2.Compose([v2.ToImage()])
