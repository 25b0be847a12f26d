_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if500.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 500.
# Softmax equalization loss (Tan et al., CVPR 2020): lambda 5e-3, gamma 0.9.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.EqualizationLoss',
            num_classes=10,
            lambda_=5e-3,
            gamma=0.9)))
