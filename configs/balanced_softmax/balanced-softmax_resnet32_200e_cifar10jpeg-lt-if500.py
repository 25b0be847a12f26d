_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if500.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 500.
# Balanced Softmax (Ren et al., NeurIPS 2020) = logit-adjusted loss with tau 1
# (Menon et al., ICLR 2021).
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.BalancedSoftmaxLoss',
            num_classes=10,
            tau=1.0)))
