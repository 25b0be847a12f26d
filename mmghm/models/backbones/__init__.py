from .cifar_resnet import CifarResNet, ZeroPadShortcut

__all__ = ['CifarResNet', 'ZeroPadShortcut']
