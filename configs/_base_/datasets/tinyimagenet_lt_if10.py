_base_ = ['./tinyimagenet_lt.py']
train_dataloader = dict(dataset=dict(imbalance_factor=10))
