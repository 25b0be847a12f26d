_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if100.py',
    '../_base_/schedules/cifar_lt_30e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 100.
# Not the paper's: two-sided margins gamma * log(S_n / S_m) for every class n
# (Balanced Softmax's logit adjustment with the effective sizes S), gamma = 1
# (margin='two_sided').
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.GHMCWAPLoss',
            num_classes=10,
            num_bins=30,
            alpha=0.9,
            gamma=1.0,
            margin='two_sided')))
