# The PyTorch "Training a classifier" tutorial's Net, with the sizes worked out for 28×28
# Fashion-MNIST: functional pooling, then x.view(-1, 16 * 4 * 4) to flatten. Graded once
# with channels_last batches on one-channel data, where that view raised.
import torch.nn.functional as F
from torch import nn
from torchvision import transforms as T


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def build_model(info):
    return Net()


def build_train_transform(info):
    return T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(info.mean, info.std)])
