# Demo schedule for the long-tailed digits (README's main job): the shape of
# the CIFAR-LT schedule (linear warm-up, lr x0.01 at 80% and again at 90% of
# training) over 30 short epochs (18 iterations of 32 images each), a couple
# of minutes on 2 CPU cores.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=2e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.2,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[24, 27], gamma=0.01),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)
