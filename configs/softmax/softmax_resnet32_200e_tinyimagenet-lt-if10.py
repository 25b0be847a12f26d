_base_ = [
    '../_base_/models/resnet32_tinyimagenet.py',
    '../_base_/datasets/tinyimagenet_lt_if10.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# TinyImageNet-LT, IF 10.
# Softmax cross-entropy (MMPretrain CrossEntropyLoss, the base model's loss).
