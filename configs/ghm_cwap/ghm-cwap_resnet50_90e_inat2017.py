_base_ = [
    '../_base_/models/resnet50_inat2017.py',
    '../_base_/datasets/inat2017.py',
    '../_base_/schedules/inat_90e.py',
    '../_base_/default_runtime.py',
]

# iNaturalist 2017.
# GHM-CWAP (Eq. 1-3, Algorithm 1): R + A^AURA, alpha 0.9, N 30, gamma 0.8.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.GHMCWAPLoss',
            num_classes=5089,
            num_bins=30,
            alpha=0.9,
            gamma=0.8)))
