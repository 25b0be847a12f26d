# iNaturalist 2017 (Van Horn et al., CVPR 2018): 5,089 classes, 579,184
# training and 95,986 validation images, imbalance factor 435. data/inat2017
# holds the official train2017.json / val2017.json and train_val_images/;
# the validation split is the test set, as in the long-tailed literature.
#
# Pipelines of Decoupling (Kang et al., ICLR 2020) for iNaturalist:
# RandomResizedCrop 224 + flip (no colour jitter), resize 256 + centre crop
# 224 for testing, with Decoupling's iNaturalist RGB mean/std (computed on
# iNaturalist 2018, reused here for 2017).
_base_ = ['./imagenet_lt.py']

dataset_type = 'mmghm.INaturalist'
data_root = 'data/inat2017'
data_preprocessor = dict(
    num_classes=5089,
    mean=[118.83, 120.105, 96.9],  # 255 * [0.466, 0.471, 0.380]
    std=[49.725, 49.47, 48.96])  # 255 * [0.195, 0.194, 0.192]

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='train2017.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='val2017.json',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
