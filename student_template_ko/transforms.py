"""데이터 증강과 전처리.

`info`는 데이터 세트 정보입니다: info.image_size (높이, 너비), info.in_channels,
info.num_classes, info.mean, info.std, info.classes, info.name ("cifar10", ...).
두 훅 모두 PIL 이미지 한 장을 받아 float 텐서 [채널, 높이, 너비]를 돌려주는 함수를
반환합니다. 적용은 채점기가 하므로 데이터를 직접 불러올 필요가 없습니다.
"""
from torchvision import transforms as T


def build_train_transform(info):
    """모든 학습 이미지에 적용되며, 이미지를 볼 때마다 무작위성이 새로 뽑힙니다.

    데이터 증강은 각 이미지의 그럴듯한 변형을 보여 주어 모델이 픽셀이 아니라 물체를
    배우게 합니다. 해 볼 만한 것 (한 번에 하나씩, 그리고 꼭 측정하세요!):
      - T.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2)   컬러 이미지용
      - T.RandomRotation(10) 또는 T.RandomAffine(0, translate=(0.1, 0.1))
      - T.RandomErasing(p=0.25)  (ToTensor 뒤에 둡니다: 텐서에 동작합니다)
    학습이 짧을 때 증강이 지나치면 오히려 손해입니다. 예산은 몇 에폭뿐입니다.
    좌우 뒤집기는 CIFAR-10과 Fashion-MNIST에는 맞지만, 숫자라면 먼저 생각해 보세요.
    """
    height, _ = info.image_size
    return T.Compose([
        T.RandomCrop(info.image_size, padding=height // 8),  # 최대 1/8만큼 이동
        T.RandomHorizontalFlip(),                             # 절반의 이미지를 좌우 반전
        T.ToTensor(),                                         # uint8 HWC -> [0, 1]의 float CHW
        T.Normalize(info.mean, info.std),                     # 평균 0, 분산 1로 정규화
    ])


def build_test_transform(info):
    """검증과 테스트 이미지에 적용됩니다: 무작위성 없이 전처리만 합니다.

    학습 때와 똑같이(같은 ToTensor와 Normalize) 이미지를 준비해야 합니다. 그렇지 않으면
    모델은 학습 때 본 적 없는 분포의 입력을 받게 됩니다.
    """
    return T.Compose([T.ToTensor(), T.Normalize(info.mean, info.std)])
