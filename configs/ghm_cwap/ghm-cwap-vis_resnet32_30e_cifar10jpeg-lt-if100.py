# The 30-epoch CPU comparison run of GHM-CWAP on CIFAR-10-LT (JPEG copy,
# IF 100) with the gradient-norm histograms logged at every AURA update
# (GradHistVisHook; a 300-bin histogram of g per class is the "real"
# distribution of the paper's Fig. 2). Training itself is identical to
# ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py. Draw Fig. 2 afterwards:
#   python tools/analysis/plot_grad_norm.py WORK_DIR --out fig2.png
_base_ = ['./ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py']
custom_hooks = [
    dict(type='mmghm.ClassCountsHook'),
    dict(type='mmghm.AURAHook', by_epoch=True, interval=1),
    dict(type='mmghm.LossEpochHook'),
    dict(type='mmghm.ExactResumeHook'),
    dict(type='mmghm.GradHistVisHook', fine_bins=300),
]
