_base_ = [
    '../_base_/models/resnet32_tinyimagenet.py',
    '../_base_/datasets/tinyimagenet_lt_if500.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# TinyImageNet-LT, IF 500.
# Focal loss (Lin et al., ICCV 2017), softmax form, gamma 2.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.SoftmaxFocalLoss',
            num_classes=200,
            gamma=2.0)))
