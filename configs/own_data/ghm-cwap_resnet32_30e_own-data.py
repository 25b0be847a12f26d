# GHM-CWAP on your own images, already long-tailed.
#
# Data: any folder of images with one sub-folder per class, for training
# and for testing (the layout MMPretrain's CustomDataset reads; classes are
# the sub-folder names in sorted order, the same in both):
#
#   <data_root>/train/<class>/*.jpg|png|...   long-tailed, as you have it
#   <data_root>/test/<class>/*.jpg|png|...    ideally balanced
#
# Before training, set the two things only you know:
#   1. where the data are: export OWN_DATA_ROOT=/path/to/data_root
#      (or edit `data_root` below); unset, it falls back to data/own-data
#      and, when that folder is missing, stops with an error that names
#      OWN_DATA_ROOT and this layout;
#   2. how many classes there are: edit `num_classes` below, or pass
#      --cfg-options model.head.num_classes=C model.head.loss.num_classes=C
#
#   python tools/train.py configs/own_data/ghm-cwap_resnet32_30e_own-data.py
#
# A balanced folder, made long-tailed on purpose: see
# ghm-cwap_resnet32_30e_own-data-balanced.py beside this file.
#
# Images are resized to 32x32 for the CIFAR-sized ResNet-32 (0.46 M
# parameters; minutes to hours on a CPU). For photographs of natural size,
# take an ImageNet-sized model and pipeline instead, e.g. _base_ =
# ['mmpretrain::_base_/models/resnet50.py'] with 224x224 crops, and keep the
# loss, the hooks and the evaluator of this file.
_base_ = [
    '../_base_/models/resnet32_cifar10.py',
    '../_base_/schedules/cifar_lt_30e.py',
    '../_base_/default_runtime.py',
]

data_root = '{{$OWN_DATA_ROOT:data/own-data}}'
num_classes = 10
image_size = 32

model = dict(
    head=dict(
        num_classes=num_classes,
        loss=dict(
            type='mmghm.GHMCWAPLoss',
            num_classes=num_classes,
            num_bins=30,
            alpha=0.9,
            gamma=0.8)))

# ImageNet's pixel statistics: a fair default for photographs; use your
# data's own when they differ much (e.g. grey-scale scans).
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    # LoadImageFromFile gives BGR.
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='RandomCrop', crop_size=image_size, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(
        # MMPretrain's CustomDataset, with a clear error naming
        # OWN_DATA_ROOT and the layout when the folder is missing.
        type='mmghm.ImageFolder',
        root_env='OWN_DATA_ROOT',
        data_root=data_root,
        data_prefix='train',
        with_label=True,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(
        type='mmghm.ImageFolder',
        root_env='OWN_DATA_ROOT',
        data_root=data_root,
        data_prefix='test',
        with_label=True,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    # Many / Medium / Few: three equal groups of classes by training count
    # (from ClassCountsHook). With hundreds of classes, the usual fixed
    # thresholds read better: dict(type='mmghm.GroupAccuracy') (Many > 100,
    # Few < 20 training images). Per-class results go to
    # {work_dir}/per_class.json (and the summary's per-class plot).
    dict(type='mmghm.GroupAccuracy', mode='quantile', num_groups=3,
         out_file='per_class.json'),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
