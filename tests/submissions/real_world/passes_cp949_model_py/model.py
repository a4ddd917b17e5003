# 모델: TinyCNN에 배치 정규화를 추가했습니다 (메모장에서 저장)
import torch.nn as nn


def build_model(info):
    # 합성곱 두 층, 채널 수는 info에서 가져옵니다
    return nn.Sequential(
        nn.Conv2d(info.in_channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, info.num_classes),  # 출력: 클래스 수
    )
