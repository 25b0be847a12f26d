_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT.
# Effective Number (class-balanced loss, Cui et al., CVPR 2019): softmax
# cross-entropy weighted by (1 - beta) / (1 - beta^n), beta 0.9999.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.EffectiveNumberLoss',
            num_classes=1000,
            beta=0.9999,
            loss_type='softmax')))
