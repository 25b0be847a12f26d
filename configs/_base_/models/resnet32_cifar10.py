# ResNet-32 (6n+2, n=5, 0.46M parameters) of He et al. for 32x32 images, as
# used by Cui et al. 2019, LDAM-DRW and the GHM-CWAP paper (Table 1). The
# paper does not say which shortcut; 'A' (zero-padding identity, no
# parameters) is He et al.'s CIFAR choice and LDAM-DRW's.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmghm.CifarResNet', depth=32, shortcut='A'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
    ))
