_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt_if100.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT, the paper's construction (random removal from ImageNet-2012
# train, IF 100).
# Softmax cross-entropy (MMPretrain CrossEntropyLoss, the base model's loss).
