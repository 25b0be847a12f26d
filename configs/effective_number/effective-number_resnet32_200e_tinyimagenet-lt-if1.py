_base_ = [
    '../_base_/models/resnet32_tinyimagenet.py',
    '../_base_/datasets/tinyimagenet_lt_if1.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# TinyImageNet-LT, IF 1.
# Effective Number (class-balanced loss, Cui et al., CVPR 2019): softmax
# cross-entropy weighted by (1 - beta) / (1 - beta^n), beta 0.9999.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.EffectiveNumberLoss',
            num_classes=200,
            beta=0.9999,
            loss_type='softmax')))
