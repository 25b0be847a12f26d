_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if100.py',
    '../_base_/schedules/cifar_lt_30e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 100.
# Seesaw loss, MMPretrain's own SeesawLoss: p 0.8, q 2.0, plain linear
# classifier.
model = dict(
    head=dict(
        loss=dict(
            type='SeesawLoss',
            num_classes=10,
            p=0.8,
            q=2.0)))
