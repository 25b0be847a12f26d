_base_ = ['./cifar100_lt.py']
train_dataloader = dict(dataset=dict(imbalance_factor=100))
