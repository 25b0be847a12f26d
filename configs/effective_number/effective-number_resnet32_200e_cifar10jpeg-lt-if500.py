_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if500.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 500.
# Effective Number (class-balanced loss, Cui et al., CVPR 2019): softmax
# cross-entropy weighted by (1 - beta) / (1 - beta^n), beta 0.9999, at every
# imbalance factor. Cui et al. tune the loss (softmax, sigmoid, focal) and beta
# per CIFAR data set and report no IF 500; this one setting is our choice.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.EffectiveNumberLoss',
            num_classes=10,
            beta=0.9999,
            loss_type='softmax')))
