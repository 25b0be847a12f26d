# ResNet-32 on 64x64 TinyImageNet images: the network is fully convolutional
# with global average pooling, so only the classifier changes.
_base_ = ['./resnet32_cifar10.py']
model = dict(head=dict(num_classes=200, topk=(1, 5)))
