_base_ = ['../softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py']

# cRT (classifier re-training) on a cross-entropy stage 1: the linear
# classifier is re-initialised and re-trained.
# Stage 2 of decoupled training (Kang et al., ICLR 2020) on the stage-1
# checkpoint given as load_from (see README.md): the representation (backbone
# and neck: weights and BatchNorm statistics) stays fixed, only the classifier
# trains, with class-balanced sampling, cross-entropy, SGD with a cosine lr for
# 3 epochs (Kang et al.'s 10 of 90 epochs scaled to the 30-epoch schedule).
load_from = None  # --cfg-options load_from=work_dirs/<stage 1>/epoch_30.pth
# The stage-1 head may differ (another loss's state, LWS's scales): the
# backbone and neck must match the checkpoint, the head need not.
default_hooks = dict(strict_load=dict(ignore_prefixes=('head.', )))
model = dict(
    head=dict(
        loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)))
train_dataloader = dict(sampler=dict(_delete_=True,
                                     type='mmghm.ClassBalancedSampler'))
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=3, T_max=3,
         eta_min=0.0, convert_to_iter_based=True),
]
custom_hooks = [
    dict(type='mmghm.ClassCountsHook'),
    dict(type='mmghm.AURAHook', by_epoch=True, interval=1),
    dict(type='mmghm.LossEpochHook'),
    dict(type='mmghm.ExactResumeHook'),
    dict(type='mmghm.FreezeRepresentationHook',
         modules=('backbone', 'neck'), reinit_head=True),
]
# DDP registers every parameter before the hook freezes the representation.
find_unused_parameters = True
