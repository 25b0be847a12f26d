_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if100.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 100.
# Class Balanced: cross-entropy weighted by inverse class frequency, weights
# normalised to sum to C.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.ClassBalancedLoss',
            num_classes=10)))
