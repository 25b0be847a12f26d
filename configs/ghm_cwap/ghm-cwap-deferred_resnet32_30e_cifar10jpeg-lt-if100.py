_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/datasets/cifar10jpeg_lt_if100.py',
    '../_base_/schedules/cifar_lt_30e.py',
    '../_base_/default_runtime.py',
]

# CIFAR-10-LT (JPEG copy), IF 100.
# Not the paper's: plain cross-entropy for the first 80% of training, GHM-CWAP
# from there (start_epoch, as LDAM-DRW defers its re-weighting); the histograms
# are counted throughout.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.GHMCWAPLoss',
            num_classes=10,
            num_bins=30,
            alpha=0.9,
            gamma=0.8,
            start_epoch=24)))
