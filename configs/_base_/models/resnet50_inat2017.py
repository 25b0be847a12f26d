# ResNet-50 for the 5,089 iNaturalist 2017 classes.
_base_ = ['./resnet50_imagenet_lt.py']
model = dict(head=dict(num_classes=5089))
