_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT, Liu et al.'s lists (IF 256, not the paper's construction).
# Focal loss (Lin et al., ICCV 2017), softmax form, gamma 2, no alpha. Lin et
# al. use the sigmoid form with alpha 0.25 for dense detection; the paper does
# not say which form it compares, and the softmax form without a class weight
# is our choice for single-label classification.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.SoftmaxFocalLoss',
            num_classes=1000,
            gamma=2.0)))
