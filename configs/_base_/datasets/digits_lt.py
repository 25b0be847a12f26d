# Long-tailed handwritten digits: the 1,797 real 8x8 digit images that
# scikit-learn ships (mmghm.SklearnDigits: 140-147 training and 34-36 test
# images a class, a fixed stratified split), made long-tailed with imbalance
# factor 10 (the head class keeps 140 images, the tail class 14; 568 in
# all), upscaled to 32x32 for ResNet. No download: the README's demo.
dataset_type = 'mmghm.SklearnDigits'
data_preprocessor = dict(
    num_classes=10,
    # Pixel mean/std of the digits scaled to 0..255 (grey, repeated).
    mean=[77.85, 77.85, 77.85],
    std=[95.85, 95.85, 95.85],
    to_rgb=False)

train_pipeline = [
    dict(type='Resize', scale=(32, 32), interpolation='bilinear'),
    # Digits are not mirror-symmetric: pad-and-crop jitter only.
    dict(type='RandomCrop', crop_size=32, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=(32, 32), interpolation='bilinear'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(
        type='mmghm.LongTailedDataset',
        imbalance_factor=10,
        imbalance_type='exp',
        seed=0,
        dataset=dict(
            type=dataset_type, split='train', pipeline=train_pipeline)),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    dataset=dict(type=dataset_type, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    # Three equal groups of classes by training count (4/3/3); the per-class
    # accuracies of each evaluation go to {work_dir}/per_class.json (for the
    # per-class plot and the result files).
    dict(type='mmghm.GroupAccuracy', mode='quantile', num_groups=3,
         out_file='per_class.json'),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
