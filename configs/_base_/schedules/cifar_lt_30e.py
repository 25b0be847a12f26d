# CPU-sized version of `cifar_lt_200e.py`: the same optimiser, batch size,
# peak lr and schedule shape compressed from 200 to 30 epochs, so that a
# ResNet-32 on CIFAR-10-LT (IF 100, 12,406 images, 97 iterations an epoch)
# trains in well under an hour on 2 CPU cores.
#
# Every boundary is scaled by 30 / 200 = 0.15:
#   warm-up  5 epochs (2.5%)        -> the first epoch, linear per iteration
#                                      (0.75 epoch rounded up; per-iteration so
#                                      the ramp is not a single step)
#   lr x0.01 at epoch 160 (80%)     -> epoch 24
#   lr x0.0001 at epoch 180 (90%)   -> epoch 27
# A 30-epoch model sees 15% of the updates of the full schedule: its
# accuracies are several points below the 200-epoch ones and comparable only
# with each other, i.e. between methods run with this same schedule, data
# and seed, not with the paper's numbers (whose schedule the paper does not
# state; 200 epochs is LDAM-DRW's, our choice).
_base_ = ['./cifar_lt_200e.py']

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

# Validation on the 10,000 test images costs about as much as a third of a
# training epoch on a CPU: validate every 5 epochs (and always after the
# last one).
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
