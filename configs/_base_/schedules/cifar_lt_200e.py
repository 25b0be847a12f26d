# The long-tailed CIFAR schedule of LDAM-DRW (Cao et al., NeurIPS 2019,
# github.com/kaidic/LDAM-DRW): 200 epochs, batch 128 on one GPU, SGD lr 0.1,
# momentum 0.9, weight decay 2e-4; a 5-epoch linear warm-up (LDAM-DRW's
# lr * (e + 1) / 5 at epoch e = 0..4), then lr x 0.01 from epoch 160 and
# x 0.0001 from epoch 180.
#
# Chosen by us: the GHM-CWAP paper states no epochs, learning rate, batch
# size, weight decay or augmentation for any of its tables. This is the
# most widely reused recipe for ResNet-32 on long-tailed CIFAR, and the one
# LDAM-DRW's own CIFAR-10-LT number (77.03 at IF 100) was measured with.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=2e-4))

param_scheduler = [
    # 0.02, 0.04, 0.06, 0.08, 0.1 at epochs 0-4.
    dict(type='LinearLR', start_factor=0.2, by_epoch=True, begin=0, end=5),
    dict(type='MultiStepLR', by_epoch=True, milestones=[160, 180],
         gamma=0.01),
]

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# tools/train.py --auto-scale-lr scales lr linearly from this batch size.
auto_scale_lr = dict(base_batch_size=128)
