_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/digits_lt.py',
    '../_base_/schedules/digits_demo.py',
    '../_base_/default_runtime.py',
]

# scikit-learn digits, long-tailed (IF 10).
# Softmax cross-entropy (MMPretrain CrossEntropyLoss, the base model's loss).
model = dict(
    backbone=dict(depth=20))

# 18 iterations an epoch: log progress every 5 (and at epoch end).
default_hooks = dict(logger=dict(interval=5))
