# Upsampled as for an ImageNet-style network: 128x128 images, while the data set's are
# 28x28. The model is the baseline's, whose Linear layer is sized for 28x28.
from torchvision import transforms as T


def build_train_transform(info):
    return T.Compose([T.Resize(128), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize(info.mean, info.std)])


def build_test_transform(info):
    return T.Compose([T.Resize(128), T.ToTensor(), T.Normalize(info.mean, info.std)])
