_base_ = [
    '../_base_/models/resnet32_cifar100.py',
    '../_base_/datasets/cifar100_lt_if100.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-100-LT, IF 100.
# Seesaw loss (Wang et al., CVPR 2021): p 0.8, q 2.0; mmghm's DistSeesawLoss
# (class counts summed over GPUs, vectorised), on the plain linear classifier.
# Wang et al. also normalise the classifier (cosine logits with a temperature)
# for instance segmentation; the paper does not say, and the plain linear head
# is our choice (mmghm.NormedLinearClsHead gives the normalised one).
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.DistSeesawLoss',
            num_classes=100,
            p=0.8,
            q=2.0)))
