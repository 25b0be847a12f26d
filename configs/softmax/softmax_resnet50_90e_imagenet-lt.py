_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT, Liu et al.'s lists (IF 256, not the paper's construction).
# Softmax cross-entropy (MMPretrain CrossEntropyLoss, the base model's loss).
