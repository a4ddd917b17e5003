"""신경망. build_model(info)는 배치 [N, info.in_channels, 높이, 너비]를 로짓
[N, info.num_classes]로 바꾸는 nn.Module을 반환해야 합니다 (softmax는 넣지 마세요:
손실 함수가 적용합니다).

이것이 실습의 TinyCNN입니다. 해 볼 만한 것:
  - 각 Conv2d 뒤에 nn.BatchNorm2d(c): 더 빠르고 안정적인 학습
  - Linear 층 앞에 nn.Dropout(p): 과적합 감소
  - 채널 늘리기 (32 -> 64 -> 128) 또는 세 번째 합성곱 블록
  - 잔차 블록: out = x + block(x), 더 깊은 신경망도 학습되게 해 줍니다
  - 큰 Linear 층 대신 nn.AdaptiveAvgPool2d(1): 파라미터 수가 크게 줄어듭니다
루브릭이 파라미터 수의 상한을 정하며, 채점기는 학습 전에 여러분의 파라미터 수를 보여 줍니다.
루브릭이 `features`와 `classifier`를 검사한다면 이 이름을 그대로 두세요.
"""
from torch import nn


class TinyCNN(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, image_size=(32, 32)):
        super().__init__()
        # MaxPool2d(2)마다 높이와 너비가 절반이 됩니다: 32x32 -> 16x16 -> 8x8.
        s_h, s_w = image_size[0] // 4, image_size[1] // 4
        self.features = nn.Sequential(
            # Conv2d(in, out, 커널 3, padding 1)은 크기를 유지하고,
            # 가중치 3*3*in*out개 + bias out개를 가집니다.
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                       # [N, 64, s, s] -> [N, 64*s*s]
            nn.Linear(64 * s_h * s_w, 128), nn.ReLU(),
            nn.Linear(128, num_classes),        # 클래스마다 로짓 하나
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def build_model(info):
    return TinyCNN(info.in_channels, info.num_classes, info.image_size)


# --- 강의 연습 문제: SimpleCNN (`grade --local . --rubric simple_cnn --lang ko`로 채점) ----
# 블록 단위로 만드세요. 채점기는 블록마다 출력 모양과 파라미터 수를 검사하고, 모양이
# 처음 틀어지는 층을 알려 줍니다. 3x32x32 이미지 기준:
#   layer1: Conv2d(3->32, 3x3, padding=1) + BatchNorm2d(32) + ReLU + MaxPool2d(2) -> 32x16x16
#   layer2: 채널 32 -> 64로 같은 구성                                            -> 64x8x8
#   layer3: 채널 64 -> 128로 같은 구성                                           -> 128x4x4
#   fc:     Linear(128 * 4 * 4, num_classes): Flatten이 128x4x4를 숫자 2048개로 펼칩니다
# 세는 법: Conv2d는 가중치 k*k*in*out개 + bias out개 (layer1: 3*3*3*32 + 32 = 896);
# BatchNorm2d(C)는 채널마다 weight와 bias를 하나씩 학습해 2*C개 (running mean과 running
# variance는 버퍼라서 파라미터가 아닙니다); ReLU와 MaxPool2d는 0개.

class SimpleCNN(nn.Module):
    def __init__(self, in_channels=3, num_classes=10):
        super().__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32),
            nn.ReLU(), nn.MaxPool2d(2),
        )
        self.layer2 = nn.Identity()  # TODO: 채널 32 -> 64, 16x16 -> 8x8
        self.layer3 = nn.Identity()  # TODO: 채널 64 -> 128, 8x8 -> 4x4
        self.fc = nn.Linear(32 * 16 * 16, num_classes)  # TODO: layer3의 출력에 맞게 크기 조정

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.flatten(1))  # [N, C, H, W] -> [N, C*H*W]


def build_simple_cnn(info):
    return SimpleCNN(info.in_channels, info.num_classes)


# 블록마다 직접 센 학습 가능한 파라미터 수 (여러분이 만든 층과 비교해 채점합니다).
PARAMETER_COUNTS = {"layer1": 960, "layer2": None, "layer3": None, "fc": None}
