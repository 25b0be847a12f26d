from .image_folder import ImageFolder
from .imagenet_lt import ImageNetLT
from .inaturalist import INaturalist
from .long_tailed import LongTailedDataset, long_tailed_counts
from .samplers import (ClassAwareSampler, ClassBalancedSampler,
                       ProgressivelyBalancedSampler, SquareRootSampler)
from .sklearn_digits import SklearnDigits
from .tiny_imagenet import TinyImageNet
from .utils import find_cifar10_jpeg, prepare_cifar10_jpeg

__all__ = [
    'LongTailedDataset', 'long_tailed_counts', 'TinyImageNet', 'ImageNetLT',
    'INaturalist', 'SklearnDigits', 'find_cifar10_jpeg',
    'prepare_cifar10_jpeg', 'ImageFolder', 'ClassAwareSampler',
    'ClassBalancedSampler', 'SquareRootSampler',
    'ProgressivelyBalancedSampler'
]
