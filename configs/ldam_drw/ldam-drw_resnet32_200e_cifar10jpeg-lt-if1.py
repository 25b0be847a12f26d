_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if1.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 1.
# LDAM-DRW (Cao et al., NeurIPS 2019): cosine classifier, LDAM margins (max
# 0.5, scale 30), effective-number re-weighting (beta 0.9999) from 80% of
# training (epoch 160 of 200).
model = dict(
    head=dict(
        type='mmghm.NormedLinearClsHead',
        scale=1.0,
        loss=dict(
            type='mmghm.LDAMLoss',
            num_classes=10,
            max_m=0.5,
            s=30.0,
            drw_start_epoch=160,
            drw_beta=0.9999)))
