_base_ = [
    '../_base_/models/resnet32_tinyimagenet.py',
    '../_base_/datasets/tinyimagenet_lt_if100.py',
    '../_base_/schedules/cifar_lt_200e.py',
    '../_base_/default_runtime.py',
]

# TinyImageNet-LT, IF 100.
# GHM-C (Li et al., AAAI 2019): sigmoid form, 30 bins, momentum 0.75.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.GHMCLoss',
            bins=30,
            momentum=0.75,
            num_classes=200)))
