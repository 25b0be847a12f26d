_base_ = [
    '../_base_/models/resnet32_tinyimagenet.py',
    '../_base_/datasets/tinyimagenet_lt_if1.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# TinyImageNet-LT, IF 1.
# Focal loss (Lin et al., ICCV 2017), softmax form, gamma 2, no alpha. Lin et
# al. use the sigmoid form with alpha 0.25 for dense detection; the paper does
# not say which form it compares, and the softmax form without a class weight
# is our choice for single-label classification.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.SoftmaxFocalLoss',
            num_classes=200,
            gamma=2.0)))
