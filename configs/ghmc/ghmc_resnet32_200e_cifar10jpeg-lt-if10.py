_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if10.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 10.
# GHM-C (Li et al., AAAI 2019): sigmoid form, 30 bins, momentum 0.75.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.GHMCLoss',
            bins=30,
            momentum=0.75,
            num_classes=10)))
