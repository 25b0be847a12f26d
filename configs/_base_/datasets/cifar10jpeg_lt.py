# Long-tailed CIFAR-10 read from the real CIFAR-10 images as JPEG files
# (`train/<class>/NNNN.jpg`, `test/<class>/NNNN.jpg`; class folders sorted by
# name give CIFAR-10's label order), e.g. the project's
# ../shared/data/cifar10-jpeg.zip unpacked. MMPretrain's CustomDataset reads
# the folders; the long-tailed construction is the same as `cifar10_lt.py`.
#
# Where the data lie: set the environment variable CIFAR10_JPEG_ROOT (the
# folder holding train/ and test/), or override the three data roots:
#   --cfg-options train_dataloader.dataset.dataset.data_root=DIR \
#       val_dataloader.dataset.data_root=DIR \
#       test_dataloader.dataset.data_root=DIR
_base_ = ['./cifar10_lt.py']

dataset_type = 'CustomDataset'
data_root = '{{$CIFAR10_JPEG_ROOT:data/cifar10-jpeg}}'
data_preprocessor = dict(
    # LoadImageFromFile gives BGR; convert before the RGB mean/std.
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
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
            data_prefix='train',
            with_label=True,
            pipeline=train_pipeline)))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix='test',
        with_label=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
