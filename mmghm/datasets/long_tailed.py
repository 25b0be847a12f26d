"""Long-tailed subsets of balanced data sets (CIFAR-LT, TinyImageNet-LT).

The construction of Cui et al. (CVPR 2019, "Class-Balanced Loss Based on
Effective Number of Samples") and Cao et al. (NeurIPS 2019, LDAM-DRW), used
by the GHM-CWAP paper for its long-tailed CIFAR-10/100 and TinyImageNet
(Table 1, imbalance factors 500/100/10/1): with ``C`` classes and imbalance
factor ``IF``, class ``i`` (class 0 being the head) keeps

* ``'exp'``:  ``int(n_max * (1 / IF) ** (i / (C - 1)))`` images;
* ``'step'``: ``n_max`` for the first ``C // 2`` classes and
  ``int(n_max / IF)`` for the others (LDAM's step imbalance),

chosen by a seeded shuffle of each class: ``numpy.random.RandomState(seed)``
shuffles the indices of class 0, then class 1, ..., and each class keeps the
first images of its shuffled list (LDAM's ``gen_imbalanced_data``, so the
same seed over the same base order selects the same images).
"""
import copy
import math
import numbers
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset as MMEngineBaseDataset
from mmengine.dataset import force_full_init
from mmengine.registry import DefaultScope
from mmpretrain.datasets import BaseDataset

from mmghm.registry import DATASETS

IMBALANCE_TYPES = ('exp', 'step')


def long_tailed_counts(num_classes: int,
                       n_max: int,
                       imbalance_factor: float,
                       imbalance_type: str = 'exp') -> List[int]:
    """Images kept per class by the long-tailed construction.

    Args:
        num_classes: Number of classes ``C``.
        n_max: Images of the head class (class 0).
        imbalance_factor: ``IF >= 1``, the ratio of head to tail class size.
        imbalance_type: ``'exp'`` or ``'step'`` (see the module docstring).

    Returns:
        list[int]: ``C`` counts, non-increasing.

    Example:
        >>> sum(long_tailed_counts(10, 5000, 100))  # CIFAR-10-LT, IF 100
        12406
    """
    _check_imbalance(imbalance_factor, imbalance_type)
    if num_classes < 1 or n_max < 1:
        raise ValueError(f'num_classes and n_max must be >= 1, but got '
                         f'{num_classes} and {n_max}.')
    ratio = 1.0 / imbalance_factor
    if imbalance_type == 'step':
        head = num_classes // 2
        return [n_max] * head + [int(n_max * ratio)] * (num_classes - head)
    if num_classes == 1:
        return [n_max]
    return [
        int(n_max * ratio**(i / (num_classes - 1.0)))
        for i in range(num_classes)
    ]


def _check_imbalance(imbalance_factor, imbalance_type) -> None:
    if (isinstance(imbalance_factor, bool)
            or not isinstance(imbalance_factor, numbers.Real)
            or not math.isfinite(imbalance_factor) or imbalance_factor < 1):
        raise ValueError('imbalance_factor must be a finite number >= 1 '
                         '(head size / tail size; 1 keeps the data balanced), '
                         f'but got {imbalance_factor!r}.')
    if imbalance_type not in IMBALANCE_TYPES:
        raise ValueError(f'imbalance_type must be one of {IMBALANCE_TYPES}, '
                         f'but got {imbalance_type!r}.')


def _single_label(info: dict, idx: int, name: str) -> int:
    if 'gt_label' not in info:
        raise ValueError(
            f'{name} sample {idx} has no gt_label: LongTailedDataset needs a '
            'labelled data set (e.g. CustomDataset with with_label=True).')
    label = np.asarray(info['gt_label'])
    if label.size != 1 or not np.issubdtype(label.dtype, np.integer):
        raise ValueError(
            f'{name} sample {idx} has gt_label {info["gt_label"]!r}: '
            'LongTailedDataset needs one integer label per sample.')
    return int(label.reshape(-1)[0])


@DATASETS.register_module()
class LongTailedDataset(BaseDataset):
    """A long-tailed subset of a labelled data set.

    Wraps any MMPretrain / MMEngine ``BaseDataset`` (``CIFAR10``,
    ``CIFAR100``, ``CustomDataset``, ``ImageNet``, :class:`TinyImageNet`,
    :class:`SklearnDigits`, ...) and keeps, for each class, the number of
    images given by :func:`long_tailed_counts`. Samples are loaded by the
    wrapped data set's own ``get_data_info`` and ``pipeline``; this class only
    stores the kept indices, so it adds no copy of the data.

    It is itself a ``BaseDataset``, so MMEngine's ``ClassBalancedDataset``,
    ``RepeatDataset`` and ``ConcatDataset`` can wrap it, and ``get_subset``
    works. ``metainfo`` is the wrapped data set's plus ``'class_counts'``
    (list of int, one per class), ``'imbalance_factor'`` and
    ``'imbalance_type'``; the counts are there once the data set is fully
    initialised (``lazy_init=True`` defers that, as in MMEngine's wrappers).

    Args:
        dataset: The data set to subsample, or its config (built in the
            current default scope, e.g. ``type='CIFAR10'`` in an MMPretrain
            config).
        imbalance_factor: ``IF >= 1``; 1 keeps ``n_max`` images of every
            class. The paper uses 500, 100, 10 and 1.
        imbalance_type: ``'exp'`` (default) or ``'step'``.
        seed: Seed of the per-class shuffle. Defaults to 0.
        n_max: Images of the head class. Defaults to the size of the smallest
            class of the wrapped data (5,000 for CIFAR-10, 500 for CIFAR-100
            and TinyImageNet), so that every class can supply its share.
        lazy_init: Defer loading the wrapped data set's annotations until
            first use. Defaults to False.

    Example:
        >>> train = dict(
        ...     type='mmghm.LongTailedDataset', imbalance_factor=100,
        ...     dataset=dict(type='CIFAR10', data_root='data/cifar10',
        ...                  split='train', pipeline=train_pipeline))
    """

    METAINFO: dict = {}

    def __init__(self,
                 dataset: Union[MMEngineBaseDataset, dict],
                 imbalance_factor: float,
                 imbalance_type: str = 'exp',
                 seed: int = 0,
                 n_max: Optional[int] = None,
                 lazy_init: bool = False):
        _check_imbalance(imbalance_factor, imbalance_type)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) \
                or seed < 0:
            raise ValueError(f'seed must be an int >= 0, but got {seed!r}.')
        if n_max is not None and (isinstance(n_max, bool) or
                                  not isinstance(n_max, numbers.Integral)
                                  or n_max < 1):
            raise ValueError(
                f'n_max must be None or an int >= 1, but got {n_max!r}.')
        if isinstance(dataset, dict):
            dataset = copy.deepcopy(dataset)
            if lazy_init:  # defer the wrapped data's loading as well
                dataset.setdefault('lazy_init', True)
            dataset = self._build(dataset)
        if not isinstance(dataset, MMEngineBaseDataset):
            raise TypeError(
                'LongTailedDataset wraps a BaseDataset (MMPretrain/MMEngine) '
                f'or its config dict, but got {type(dataset).__name__}. To '
                'subsample several data sets, wrap each one before '
                'concatenating.')
        self.dataset = dataset
        self.imbalance_factor = imbalance_factor
        self.imbalance_type = imbalance_type
        self.seed = int(seed)
        self.n_max = n_max
        super().__init__(
            ann_file='',
            metainfo=dataset.metainfo,
            test_mode=getattr(dataset, 'test_mode', False),
            max_refetch=getattr(dataset, 'max_refetch', 1000),
            lazy_init=True)
        # Samples go through the wrapped data set's own transforms.
        self.pipeline = dataset.pipeline
        if not lazy_init:
            self.full_init()

    @staticmethod
    def _build(cfg: dict) -> MMEngineBaseDataset:
        type_ = cfg.get('type')
        # Outside a Runner there is no default scope: let bare names that
        # mmghm does not define mean MMPretrain's data sets, as in a config.
        if (isinstance(type_, str) and '.' not in type_
                and DefaultScope.get_current_instance() is None
                and DATASETS.get(type_) is None):
            cfg['type'] = f'mmpretrain.{type_}'
        return DATASETS.build(cfg)

    def load_data_list(self) -> List[dict]:
        """Select the kept samples; entries hold the index in the base."""
        base = self.dataset
        base.full_init()
        name = type(base).__name__
        labels = np.array(
            [_single_label(base.get_data_info(i), i, name)
             for i in range(len(base))], dtype=np.int64)
        if labels.size == 0:
            raise ValueError(f'The wrapped {name} is empty.')
        self._metainfo.update(copy.deepcopy(base.metainfo))
        classes = self._metainfo.get('classes')
        num_classes = len(classes) if classes is not None \
            else int(labels.max()) + 1
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if bad.size:
            raise ValueError(
                f'{name} has label {int(bad[0])}, outside its {num_classes} '
                f'classes (valid labels: 0..{num_classes - 1}).')
        available = np.bincount(labels, minlength=num_classes)
        self._check_available(available, name)
        n_max = int(available.min()) if self.n_max is None else self.n_max
        targets = long_tailed_counts(num_classes, n_max,
                                     self.imbalance_factor,
                                     self.imbalance_type)
        self._check_targets(targets, available, n_max)

        rng = np.random.RandomState(self.seed)
        kept = []
        for cls, target in enumerate(targets):
            idx = np.flatnonzero(labels == cls)
            rng.shuffle(idx)
            kept.append(idx[:target])
        kept = np.sort(np.concatenate(kept))
        return [
            dict(ori_idx=int(i), gt_label=int(labels[i])) for i in kept
        ]

    def _class_name(self, cls: int) -> str:
        classes = self._metainfo.get('classes')
        return f'{cls} ({classes[cls]!r})' if classes else str(cls)

    def _check_available(self, available: np.ndarray, name: str) -> None:
        empty = np.flatnonzero(available == 0)
        if empty.size:
            raise ValueError(
                f'{name} has no images of class '
                f'{self._class_name(int(empty[0]))}; every class of the '
                'class list needs at least one image.')

    def _check_targets(self, targets: Sequence[int], available: np.ndarray,
                       n_max: int) -> None:
        for cls, (target, avail) in enumerate(zip(targets, available)):
            if target > avail:
                raise ValueError(
                    f'n_max={n_max} with imbalance_factor='
                    f'{self.imbalance_factor} asks for {target} images of '
                    f'class {self._class_name(cls)}, but the data hold only '
                    f'{int(avail)}; use n_max <= {int(available.min())} or '
                    'leave it None.')
            if target == 0:
                raise ValueError(
                    f'imbalance_factor={self.imbalance_factor} with n_max='
                    f'{n_max} leaves class {self._class_name(cls)} with 0 '
                    f'images; it needs n_max / imbalance_factor >= 1.')

    def full_init(self) -> None:
        """Load the wrapped data and select the long-tailed subset."""
        if self._fully_initialized:
            return
        super().full_init()
        self._update_counts()

    def _update_counts(self) -> None:
        labels = self.get_gt_labels()
        classes = self._metainfo.get('classes')
        num_classes = len(classes) if classes is not None else \
            int(labels.max()) + 1
        self._metainfo['class_counts'] = np.bincount(
            labels, minlength=num_classes).tolist()
        self._metainfo['imbalance_factor'] = self.imbalance_factor
        self._metainfo['imbalance_type'] = self.imbalance_type

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The wrapped data set's sample, with ``sample_idx`` in this set."""
        entry = super().get_data_info(idx)
        info = self.dataset.get_data_info(entry['ori_idx'])
        info['sample_idx'] = entry['sample_idx']
        return info

    @force_full_init
    def get_ori_indices(self) -> np.ndarray:
        """Indices in the wrapped data set of the kept samples, in order."""
        return np.array([self._entry(i)['ori_idx'] for i in range(len(self))],
                        dtype=np.int64)

    def _entry(self, idx: int) -> dict:
        return MMEngineBaseDataset.get_data_info(self, idx)

    @force_full_init
    def get_gt_labels(self) -> np.ndarray:
        """Labels of the kept samples, without loading any image."""
        return np.array([self._entry(i)['gt_label'] for i in range(len(self))],
                        dtype=np.int64)

    @force_full_init
    def get_cat_ids(self, idx: int) -> List[int]:
        """Category of sample ``idx`` (for ``ClassBalancedDataset``)."""
        return [int(self._entry(idx)['gt_label'])]

    @force_full_init
    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        super().get_subset_(indices)
        self._update_counts()

    @force_full_init
    def get_subset(self, indices: Union[Sequence[int], int]) -> 'BaseDataset':
        sub = super().get_subset(indices)
        sub._update_counts()
        return sub

    def _copy_without_annotation(self, memo=None) -> 'LongTailedDataset':
        # Share, rather than deep-copy, the wrapped data set in subsets.
        memo = {} if memo is None else memo
        memo[id(self.dataset)] = self.dataset
        return super()._copy_without_annotation(memo)

    def extra_repr(self) -> List[str]:
        return [
            f'Wrapped dataset: \t{type(self.dataset).__name__}',
            f'Imbalance: \t{self.imbalance_type}, factor '
            f'{self.imbalance_factor}, seed {self.seed}',
        ]
