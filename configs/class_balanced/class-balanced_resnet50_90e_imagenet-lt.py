_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT, Liu et al.'s lists (IF 256, not the paper's construction).
# Class Balanced: cross-entropy weighted by inverse class frequency, weights
# normalised to sum to C.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.ClassBalancedLoss',
            num_classes=1000)))
