_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT.
# Seesaw loss (Wang et al., CVPR 2021): p 0.8, q 2.0; mmghm's DistSeesawLoss
# (class counts summed over GPUs, vectorised).
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.DistSeesawLoss',
            num_classes=1000,
            p=0.8,
            q=2.0)))
