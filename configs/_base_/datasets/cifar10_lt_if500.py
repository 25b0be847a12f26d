_base_ = ['./cifar10_lt.py']
train_dataloader = dict(dataset=dict(imbalance_factor=500))
