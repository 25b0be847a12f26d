_base_ = ['../softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py']

# Cross-entropy with progressively balanced sampling (Kang et al., ICLR 2020):
# in epoch t of T = 30, p_c = (1 - t/T) n_c / N + (t/T) / C, from
# instance-balanced to class-balanced.
# End-to-end (one stage): the whole network trains on the re-sampled batches,
# everything else as softmax_resnet32_30e_cifar10jpeg-lt-if100 (the epoch has
# as many draws as the training set has images, 12,406).
train_dataloader = dict(
    sampler=dict(_delete_=True, type='mmghm.ProgressivelyBalancedSampler',
                 total_epochs=30))
