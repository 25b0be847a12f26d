_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/digits_lt.py',
    '../_base_/schedules/digits_demo.py',
    '../_base_/default_runtime.py',
]

# scikit-learn digits, long-tailed (IF 10).
# GHM-CWAP (Eq. 1-3, Algorithm 1): R + A^AURA, alpha 0.9, N 30, gamma 0.8.
model = dict(
    backbone=dict(depth=20),
    head=dict(
        loss=dict(
            type='mmghm.GHMCWAPLoss',
            num_classes=10,
            num_bins=30,
            alpha=0.9,
            gamma=0.8)))

# 18 iterations an epoch: log progress every 5 (and at epoch end).
default_hooks = dict(logger=dict(interval=5))

# The main job also leaves the paper's Fig. 2: GradHistVisHook
# dumps the histograms at every AURA update (work_dir/grad_hist/),
# and RunSummaryHook draws Fig. 2 from them at the end of training.
custom_hooks = [
    dict(type='mmghm.ClassCountsHook'),
    dict(type='mmghm.AURAHook', by_epoch=True, interval=1),
    dict(type='mmghm.LossEpochHook'),
    dict(type='mmghm.ExactResumeHook'),
    dict(type='mmghm.GradHistVisHook'),
]
