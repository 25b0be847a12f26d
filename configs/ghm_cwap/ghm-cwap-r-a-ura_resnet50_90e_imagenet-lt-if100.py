_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt_if100.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT, the paper's construction (random removal from ImageNet-2012
# train, IF 100).
# Table 3 ablation "R + A^URA": weights and margins, uniform bins.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.GHMCWAPLoss',
            num_classes=1000,
            num_bins=30,
            alpha=0.9,
            gamma=0.8,
            intra=True,
            inter=True,
            adaptive=False)))
