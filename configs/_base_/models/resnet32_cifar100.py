_base_ = ['./resnet32_cifar10.py']
model = dict(head=dict(num_classes=100, topk=(1, 5)))
