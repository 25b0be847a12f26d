_base_ = ['./cifar10jpeg_lt.py']
train_dataloader = dict(dataset=dict(imbalance_factor=1))
