_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if100.py',
    '../_base_/schedules/cifar_lt_30e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 100.
# GHM-CWAP with the paper's literal Eq. 1 weight S_c / v^alpha
# (intra_weight='paper'; docs/method.md, section 4).
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.GHMCWAPLoss',
            num_classes=10,
            num_bins=30,
            alpha=0.9,
            gamma=0.8,
            intra_weight='paper')))
