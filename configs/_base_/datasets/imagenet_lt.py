# ImageNet-LT of Liu et al. (CVPR 2019, "Large-Scale Long-Tailed
# Recognition in an Open World"): 1,000 classes, 115,846 training images
# (1,280 down to 5 a class, a Pareto profile: imbalance factor 256),
# balanced val (20,000) and test (50,000) lists. data/imagenet holds
# ImageNet-2012 (train/, val/) and the split lists
# ImageNet_LT_{train,val,test}.txt ("<path> <label>" lines).
#
# NOT the GHM-CWAP paper's construction: the paper builds its "ImageNet-LT
# (imbalance factor = 100)" by randomly removing examples, as for CIFAR
# (`imagenet_lt_if100.py`, the `*_imagenet-lt-if100` configs). Liu et al.'s
# lists are kept here as the common alternative that most published
# ImageNet-LT numbers use.
#
# Pipelines of Decoupling (Kang et al., ICLR 2020, classifier-balancing's
# data/dataloader.py): RandomResizedCrop 224 + flip + ColorJitter(0.4, 0.4,
# 0.4) for training; resize the short side to 256 + centre crop 224 for
# testing; ImageNet mean/std. 64 images a GPU x 8 GPUs = 512.
dataset_type = 'mmghm.ImageNetLT'
data_root = 'data/imagenet'
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    # LoadImageFromFile gives BGR.
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
# Table 2 of the paper: Many / Medium / Few / Rare by training counts. The
# paper states no thresholds; ours: Many > 100, Medium 20-100, Few 10-19,
# Rare < 10 (mmghm.GroupAccuracy's 'four' mode). On Liu et al.'s lists the
# first three are the usual Many / Medium / Few-shot split of 385 / 479 /
# 136 classes (Few < 20), so Many and Medium are non-empty; how the 136
# split at 10 images (Few 10-19 / Rare 5-9) depends on the list files,
# which are not in this repository: check the group sizes that
# GroupAccuracy logs before comparing a Rare column.
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='mmghm.GroupAccuracy', mode='four', thresholds=(100, 20, 10)),
]

# Report on the 50,000-image test list.
test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_evaluator = val_evaluator
