# Long-tailed CIFAR-10 (Cui et al. 2019 / LDAM-DRW construction): class i
# keeps int(5000 * (1 / IF) ** (i / 9)) training images, chosen by a seeded
# shuffle; the balanced 10,000-image test set is the validation/test set.
# MMPretrain's CIFAR10 reads (and, if absent, downloads) the official
# python version into data/cifar10.
# The `_if{500,100,10,1}.py` files next to this one set the imbalance factor.
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'
data_preprocessor = dict(
    num_classes=10,
    # RGB mean/std of CIFAR-10 (MMPretrain's cifar10 base).
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    # MMPretrain's CIFAR10 already yields RGB images.
    to_rgb=False)

# The standard CIFAR augmentation of LDAM-DRW and Cui et al.: 4-pixel zero
# padding + random 32x32 crop, horizontal flip. The GHM-CWAP paper states
# no augmentation; this is our choice.
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type='mmghm.LongTailedDataset',
        imbalance_factor=100,
        imbalance_type='exp',
        seed=0,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            split='train',
            pipeline=train_pipeline)),
    sampler=dict(type='DefaultSampler', shuffle=True),
)

val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    # Many/Medium/Few by the training counts (set by ClassCountsHook). Ten
    # classes leave fixed thresholds' groups empty (IF 10: no class under
    # 20 images): three equal groups of classes by training count (4/3/3).
    # out_file: per-class accuracies and training counts of each evaluation
    # in the work dir, which collect_results.py export puts in the result
    # file (README's per-class picture is drawn from them).
    dict(type='mmghm.GroupAccuracy', mode='quantile', num_groups=3,
         out_file='per_class.json'),
]

test_dataloader = val_dataloader
test_evaluator = val_evaluator
