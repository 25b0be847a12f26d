"""Train several configs and seeds at once, as tools/train.py would, fast.

The CIFAR-LT reproduction harness (logic in :mod:`mmghm.engine.fast_train`):
each (config, seed) is built through the registries as the Runner builds it,
the images are decoded once onto the device and augmented there (the
pipeline's RandomCrop with zero padding and RandomFlip), the schedule,
sampler order and hooks' work (class counts, ``set_epoch``, AURA updates)
are the config's, and the config's evaluator (Accuracy, GroupAccuracy)
scores the last epoch. One result file per run:
``<out-dir>/<suite>/<config-stem>[@<variant>]/seed<k>.json``
(``mmghm.run_result/1``, written through :mod:`mmghm.results`). On CUDA
the runs train side by side on their own streams, each step captured in a
CUDA graph where the loss allows it. ``python -m mmghm.engine.fast_train``
takes the same arguments.

    # CPU smoke run: 1 epoch, small subsets
    python tools/analysis/reproduce_cifar_lt.py \\
        configs/softmax/softmax_resnet20_demo_digits-lt.py \\
        configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py \\
        --epochs 1 --no-write
    # the CIFAR-10-LT IF 100 row on a GPU, from an image pack
    python tools/analysis/reproduce_cifar_lt.py \\
        configs/{softmax,seesaw,ghm_cwap,ldam_drw,balanced_softmax}/\\
*_200e_cifar10jpeg-lt-if100.py --pack .device-data/cifar10jpeg-lt-if100.npz
    # sweep alpha and gamma on a validation split of the training set
    python tools/analysis/reproduce_cifar_lt.py \\
        configs/ghm_cwap/ghm-cwap_resnet32_200e_cifar10jpeg-lt-if100.py \\
        --val-split 0.2 --sweep alpha=0.5,0.7,0.9 gamma=0.4,0.8

Precision: fp32 by default. ``--bf16`` (autocast) is faster on recent GPUs,
but use it for results only after a fp32-vs-bf16 comparison (same configs
and seeds) shows equal accuracy within seed noise; every result file says
which precision it used. ``--compare-runner N`` times N harness steps
against the Runner's DataLoader + ``train_step`` on the same config.
"""
import sys

from mmghm.engine.fast_train import main

if __name__ == '__main__':
    main(sys.argv[1:])
    sys.exit(0)
