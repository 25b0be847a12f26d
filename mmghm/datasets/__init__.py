__all__ = []
from .image_folder import ImageFolder  # noqa: F401
from .imagenet_lt import ImageNetLT  # noqa: F401
from .inaturalist import INaturalist  # noqa: F401
from .long_tailed import LongTailedDataset, long_tailed_counts  # noqa: F401
from .sklearn_digits import SklearnDigits  # noqa: F401
from .tiny_imagenet import TinyImageNet  # noqa: F401
from .utils import (dataset_class_counts, find_cifar10_jpeg,  # noqa: F401
                    prepare_cifar10_jpeg)

__all__ += [
    'LongTailedDataset', 'long_tailed_counts', 'TinyImageNet', 'ImageNetLT',
    'INaturalist', 'SklearnDigits', 'dataset_class_counts',
    'find_cifar10_jpeg', 'prepare_cifar10_jpeg', 'ImageFolder'
]
from .samplers import (  # noqa: F401,E402
    ClassAwareSampler, ClassBalancedSampler, ProgressivelyBalancedSampler,
    SquareRootSampler)

__all__ += [
    'ClassAwareSampler', 'ClassBalancedSampler', 'SquareRootSampler',
    'ProgressivelyBalancedSampler'
]
