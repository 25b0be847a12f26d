_base_ = [
    '../_base_/models/resnet50_inat2017.py',
    '../_base_/datasets/inat2017.py',
    '../_base_/schedules/inat_90e.py',
    '../_base_/default_runtime.py',
]

# iNaturalist 2017.
# Effective Number (class-balanced loss, Cui et al., CVPR 2019): softmax
# cross-entropy weighted by (1 - beta) / (1 - beta^n), beta 0.9999.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.EffectiveNumberLoss',
            num_classes=5089,
            beta=0.9999,
            loss_type='softmax')))
