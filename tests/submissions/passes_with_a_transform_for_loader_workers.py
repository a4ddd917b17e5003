# A transform the batched path does not know (a Lambda): it trains image by image in
# DataLoader workers, which share tensors through /dev/shm. It must train in every mode.
import torchvision.transforms as T


def build_train_transform(info):
    return T.Compose([T.Lambda(lambda im: im), T.ToTensor(), T.Normalize(info.mean, info.std)])


EPOCHS = 1
