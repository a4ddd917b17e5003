"""모델을 학습하는 방법. 학습 루프는 채점기가 갖고 있고 이 훅들을 호출합니다.
루브릭이 한도(최대 에폭 수와 배치 크기)를 정하며, 보고서에 그 값이 나옵니다.
"""
import torch
from torch import nn


def build_optimizer(model):
    """아이디어: 학습률(lr)을 낮추거나 높이기; torch.optim.AdamW(..., weight_decay=5e-4);
    torch.optim.SGD(..., lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)."""
    return torch.optim.Adam(model.parameters(), lr=3e-3)


def build_loss():
    """아이디어: nn.CrossEntropyLoss(label_smoothing=0.1)는 모델이 지나치게 확신하지
    않게 해 주어, 테스트 정확도가 조금 오르는 경우가 많습니다."""
    return nn.CrossEntropyLoss()


def build_scheduler(optimizer, epochs, steps_per_epoch):
    """torch.optim.lr_scheduler를 반환하거나, 학습률을 고정하려면 None을 반환하세요.

    아이디어: CosineAnnealingLR(optimizer, T_max=epochs)와 SCHEDULER_STEP = "epoch";
    OneCycleLR(optimizer, max_lr=..., epochs=epochs, steps_per_epoch=steps_per_epoch)와
    SCHEDULER_STEP = "batch".
    """
    return None


SCHEDULER_STEP = "epoch"        # 채점기가 scheduler.step()을 부르는 시점: "epoch" 또는 "batch"
EPOCHS = 5                      # 루브릭의 예산 이하; 에폭이 많을수록 대개 좋아집니다
BATCH_SIZE = 128                # 루브릭의 상한 이하
GRAD_CLIP_NORM = None           # 예: 1.0이면 매 스텝 기울기 노름을 1.0으로 자릅니다
EARLY_STOPPING_PATIENCE = None  # 예: 3이면 검증 정확도가 3 에폭 동안 나아지지 않을 때
                                # 멈추고 가장 좋았던 가중치를 씁니다. 검증 데이터는 학습
                                # 세트의 일부이며, 테스트 세트는 절대 보지 않습니다.
