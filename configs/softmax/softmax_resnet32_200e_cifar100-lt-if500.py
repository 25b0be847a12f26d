_base_ = [
    '../_base_/models/resnet32_cifar100.py',
    '../_base_/datasets/cifar100_lt_if500.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-100-LT, IF 500.
# Softmax cross-entropy (MMPretrain CrossEntropyLoss, the base model's loss).
