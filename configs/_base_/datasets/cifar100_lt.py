# Long-tailed CIFAR-100: class i keeps int(500 * (1 / IF) ** (i / 99))
# training images; the balanced 10,000-image test set is the validation and
# test set. MMPretrain's CIFAR100 reads (or downloads) data/cifar100.
_base_ = ['./cifar10_lt.py']

dataset_type = 'CIFAR100'
data_root = 'data/cifar100'
data_preprocessor = dict(
    num_classes=100,
    # RGB mean/std of CIFAR-100 (MMPretrain's cifar100 base).
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418])

train_dataloader = dict(
    dataset=dict(dataset=dict(type=dataset_type, data_root=data_root)))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    # Many (> 100 training images), Medium (20-100), Few (< 20).
    dict(type='mmghm.GroupAccuracy', mode='threshold', thresholds=(100, 20)),
]
test_evaluator = val_evaluator
