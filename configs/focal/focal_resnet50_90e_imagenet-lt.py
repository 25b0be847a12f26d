_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT.
# Focal loss (Lin et al., ICCV 2017), softmax form, gamma 2.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.SoftmaxFocalLoss',
            num_classes=1000,
            gamma=2.0)))
