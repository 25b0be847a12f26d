_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt_if100.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT, the paper's construction (random removal from ImageNet-2012
# train, IF 100).
# Class Balanced: cross-entropy weighted by inverse class frequency, weights
# normalised to sum to C.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.ClassBalancedLoss',
            num_classes=1000)))
