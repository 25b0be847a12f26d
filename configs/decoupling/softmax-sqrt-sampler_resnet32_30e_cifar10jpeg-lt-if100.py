_base_ = ['../softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py']

# Cross-entropy with square-root sampling: class probability proportional to
# sqrt(n_c).
# End-to-end (one stage): the whole network trains on the re-sampled batches,
# everything else as softmax_resnet32_30e_cifar10jpeg-lt-if100 (the epoch has
# as many draws as the training set has images, 12,406).
train_dataloader = dict(
    sampler=dict(_delete_=True, type='mmghm.SquareRootSampler'))
