"""TinyCNN 개선 실습 제출물 (student_template/의 한국어판: 코드는 같고 설명만 한국어입니다).

이 폴더의 세 파일을 고치세요. 각 훅은 정의된 곳에 설명이 있습니다.
  transforms.py    - 데이터 증강과 전처리
  model.py         - 신경망
  improvements.py  - 옵티마이저, 손실 함수, 학습률 스케줄, 학습 설정값

제출 전에 확인하기 (이 폴더가 들어 있는 폴더에서):
  grade --local student_template_ko --quick --lang ko   # 1분짜리 빠른 점검, 비공식
  grade --local student_template_ko --lang ko           # 실제 채점과 같은 전체 루브릭

지운 훅은 기준 모델의 것을 쓰므로, 일부만 고친 제출물도 채점됩니다.
"""
