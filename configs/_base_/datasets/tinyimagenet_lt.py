# Long-tailed TinyImageNet-200: class i keeps int(500 * (1 / IF) ** (i / 199))
# of its 500 training images; the balanced official validation split (50 a
# class) is the validation and test set, as in the long-tailed literature.
# The official tiny-imagenet-200 folder goes to data/tiny-imagenet-200.
#
# The images stay 64x64 (ResNet-32 ends in global average pooling, so its
# last feature map is 16x16 instead of 8x8): augmentation is the CIFAR one
# scaled to 64 pixels (8-pixel padding + random 64x64 crop, flip). The paper
# does not state its TinyImageNet preprocessing.
_base_ = ['./cifar10_lt.py']

dataset_type = 'mmghm.TinyImageNet'
data_root = 'data/tiny-imagenet-200'
data_preprocessor = dict(
    num_classes=200,
    # ImageNet RGB mean/std; images are loaded as BGR by LoadImageFromFile.
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=64, padding=8),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            _delete_=True,
            type=dataset_type,
            data_root=data_root,
            split='train',
            pipeline=train_pipeline)))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    # Many (> 100 training images), Medium (20-100), Few (< 20).
    dict(type='mmghm.GroupAccuracy', mode='threshold', thresholds=(100, 20)),
]
test_evaluator = val_evaluator
