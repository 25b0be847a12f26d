_base_ = [
    '../_base_/models/resnet50_inat2017.py',
    '../_base_/datasets/inat2017.py',
    '../_base_/schedules/inat_90e.py',
    '../_base_/default_runtime.py',
]

# iNaturalist 2017.
# Class Balanced: cross-entropy weighted by inverse class frequency, weights
# normalised to sum to C.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.ClassBalancedLoss',
            num_classes=5089)))
