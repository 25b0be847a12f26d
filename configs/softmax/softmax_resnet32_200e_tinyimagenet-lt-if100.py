_base_ = [
    '../_base_/models/resnet32_tinyimagenet.py',
    '../_base_/datasets/tinyimagenet_lt_if100.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# TinyImageNet-LT, IF 100.
# Softmax cross-entropy (MMPretrain CrossEntropyLoss, the base model's loss).
