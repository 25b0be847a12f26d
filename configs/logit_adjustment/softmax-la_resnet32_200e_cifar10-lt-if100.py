_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10_lt_if100.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT, IF 100.
# Cross-entropy training (as softmax_*), post-hoc logit adjustment at
# prediction (Menon et al., ICLR 2021): argmax z_c - tau * log n_c with tau 1
# (mmghm.LogitAdjustedLinearClsHead). A softmax_* checkpoint can be tested with
# this config as it is.
model = dict(
    head=dict(
        type='mmghm.LogitAdjustedLinearClsHead',
        tau=1.0))
