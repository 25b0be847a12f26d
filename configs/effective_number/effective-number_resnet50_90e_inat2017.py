_base_ = [
    '../_base_/models/resnet50_inat2017.py',
    '../_base_/datasets/inat2017.py',
    '../_base_/schedules/inat_90e.py',
    '../_base_/default_runtime.py',
]

# iNaturalist 2017.
# Effective Number (class-balanced loss, Cui et al., CVPR 2019) with the
# authors' own setting for their large-scale experiments (ILSVRC 2012,
# iNaturalist 2017/2018): the class-balanced sigmoid focal loss (their Eq. 9),
# weights (1 - beta) / (1 - beta^n) with beta 0.999, gamma 0.5. The paper says
# it uses the authors' settings.
model = dict(
    head=dict(
        loss=dict(
            type='mmghm.EffectiveNumberLoss',
            num_classes=5089,
            beta=0.999,
            loss_type='focal',
            gamma=0.5)))
