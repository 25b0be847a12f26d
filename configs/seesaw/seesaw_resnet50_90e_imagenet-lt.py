_base_ = [
    '../_base_/models/resnet50_imagenet_lt.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/default_runtime.py',
]

# ImageNet-LT, Liu et al.'s lists (IF 256, not the paper's construction).
# Seesaw loss (Wang et al., CVPR 2021): p 0.8, q 2.0; mmghm's DistSeesawLoss
# (class counts summed over GPUs, vectorised), on the plain linear classifier.
# Wang et al. also normalise the classifier (cosine logits with a temperature)
# for instance segmentation; the paper does not say, and the plain linear head
# is our choice (mmghm.NormedLinearClsHead gives the normalised one).
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.DistSeesawLoss',
            num_classes=1000,
            p=0.8,
            q=2.0)))
