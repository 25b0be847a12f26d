# ImageNet-LT as the GHM-CWAP paper builds it ("constructed by randomly
# removing examples", imbalance factor 100, Tables 2-3): a long-tailed
# subset of ImageNet-2012's training set made like CIFAR-LT
# (mmghm.LongTailedDataset, exponential profile, seeded per-class shuffle).
# Class i keeps int(n_max * 0.01 ** (i / 999)) images with n_max = 732, the
# smallest class of ImageNet-2012 train (LongTailedDataset's default: every
# class can supply its share; the paper does not state n_max or the class
# order, here ImageNet's own): 732 down to 7, 157,069 images. The balanced
# ImageNet-2012 validation set (50 a class) is the test set.
#
# data/imagenet in MMPretrain's layout: train/<wnid>/*.JPEG, val/ and
# meta/val.txt (MMPretrain's ImageNet data set; see its docs).
#
# Groups (Table 2: Many / Medium / Few / Rare; the paper states no
# thresholds): with Many > 100, Medium 20-100, Few 10-19, Rare < 10 this
# construction gives 430 / 351 / 151 / 68 classes, none empty.
#
# The alternative, Liu et al.'s lists (IF 256), is `imagenet_lt.py`.
_base_ = ['./imagenet_lt.py']

dataset_type = 'ImageNet'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmghm.LongTailedDataset',
        imbalance_factor=100,
        imbalance_type='exp',
        seed=0,
        dataset=dict(
            type=dataset_type,
            data_root='data/imagenet',
            split='train',
            pipeline={{_base_.train_pipeline}})))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root='data/imagenet',
        split='val',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
