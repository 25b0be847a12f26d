_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT, Liu et al.'s lists (IF 256, not the paper's construction).
# GHM-CWAP (Eq. 1-3, Algorithm 1): R + A^AURA, alpha 0.9, N 30, gamma 0.8.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.GHMCWAPLoss',
            num_classes=1000,
            num_bins=30,
            alpha=0.9,
            gamma=0.8)))
