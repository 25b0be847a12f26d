# GHM-CWAP on your own images from a balanced folder, made long-tailed
# with mmghm.LongTailedDataset (as the paper builds CIFAR-10/100-LT): class
# i of C (in sorted folder order, class 0 = head) keeps
# int(n_max * (1 / imbalance_factor) ** (i / (C - 1))) of its training
# images, picked by a seeded shuffle; n_max is the smallest class's size.
# The test folder is used as it is.
#
# Same layout, variables and command as ghm-cwap_resnet32_30e_own-data.py:
#   export OWN_DATA_ROOT=/path/to/data_root   (train/<class>/, test/<class>/)
#   python tools/train.py \
#       configs/own_data/ghm-cwap_resnet32_30e_own-data-balanced.py \
#       --cfg-options model.head.num_classes=C model.head.loss.num_classes=C
_base_ = ['./ghm-cwap_resnet32_30e_own-data.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmghm.LongTailedDataset',
        imbalance_factor=100,
        imbalance_type='exp',  # or 'step': half the classes keep n_max
        seed=0,
        dataset={{_base_.train_dataloader.dataset}}))
