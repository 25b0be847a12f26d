"""Per-class training counts: the one path losses, metrics and hooks share.

- :func:`dataset_class_counts` reads the counts of a training set (looking
  through MMEngine's dataset wrappers);
- :func:`to_class_counts` validates counts handed to a loss or a metric;
- :func:`broadcast_from_main` computes something on rank 0 only and gives it
  to every rank (so all ranks hold identical counts under DDP);
- :class:`ClassCountsMixin` keeps the counts of a loss or a head (an
  ``nn.Module``) in a buffer, so they are saved in checkpoints.

:class:`mmghm.engine.hooks.ClassCountsHook` reads the counts once before
training with these and pushes them into every loss and metric that has
``set_class_counts``; :class:`mmghm.engine.hooks.GradHistVisHook` uses them to
pick head and tail classes. Nothing here depends on models or metrics, so
both can import it.

Losses and heads that depend on per-class training counts (class-balanced,
effective number, equalization, LDAM, balanced softmax, logit-adjusted
head, ...) inherit :class:`ClassCountsMixin`. The counts either come from
the ``class_counts`` argument or are pushed in before training by
``ClassCountsHook``, which calls :meth:`ClassCountsMixin.set_class_counts`
on every module that has it.
"""
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine import dist
from mmengine.dataset import (ClassBalancedDataset, ConcatDataset,
                              RepeatDataset)
from torch import Tensor

__all__ = [
    'CountsLike', 'to_class_counts', 'dataset_class_counts',
    'broadcast_from_main', 'ClassCountsMixin'
]

CountsLike = Union[Sequence[int], Tensor, np.ndarray]


def to_class_counts(counts: CountsLike,
                    num_classes: Optional[int] = None) -> Tensor:
    """Validate per-class training counts and return them as float64.

    Args:
        counts: One non-negative count per class.
        num_classes: If given, the number of counts must equal it.

    Returns:
        Tensor: shape (C,), dtype float64, on the CPU.

    Raises:
        ValueError: If the counts are not a non-empty 1-D sequence of finite
            numbers >= 0, or their number is not ``num_classes``.
    """
    try:
        t = torch.as_tensor(counts).detach().to('cpu', torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError('class_counts must be a sequence of numbers, but '
                         f'got {counts!r}.') from None
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError('class_counts must be a non-empty 1-D sequence, '
                         f'but got shape {tuple(t.shape)}.')
    if num_classes is not None and t.numel() != num_classes:
        raise ValueError(f'class_counts has {t.numel()} entries but '
                         f'num_classes is {num_classes}.')
    if not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError('class_counts must be finite and >= 0, but got '
                         f'{t.tolist()}.')
    return t


def _as_label_array(labels, where: str) -> np.ndarray:
    arr = np.asarray(labels)
    integer = np.issubdtype(arr.dtype, np.integer)
    if arr.ndim != 1 or (arr.size and not integer):
        raise ValueError(f'{where} must give one integer label per sample, '
                         f'but got an array of shape {arr.shape} and dtype '
                         f'{arr.dtype}.')
    if arr.size and arr.min() < 0:
        raise ValueError(f'{where} holds a negative label {int(arr.min())}.')
    return arr.astype(np.int64)


def _num_classes(dataset) -> Optional[int]:
    classes = getattr(dataset, 'metainfo', {}).get('classes', None)
    return None if classes is None else len(classes)


def dataset_class_counts(dataset) -> List[int]:
    """Per-class counts of the distinct samples of a training set.

    Wrappers that only repeat samples (``RepeatDataset``,
    ``ClassBalancedDataset``) are looked through, so the counts are those of
    the distinct training images, which is what class-count losses and the
    Many/Medium/Few groups are defined on. ``ConcatDataset`` adds its parts'
    counts. Otherwise ``metainfo['class_counts']`` is used when present (as
    :class:`mmghm.datasets.LongTailedDataset` provides), else the labels from
    ``get_gt_labels()``, else ``get_cat_ids(i)`` for every sample.

    Args:
        dataset: A dataset object (MMEngine / MMPretrain).

    Returns:
        list[int]: One count per class; its length is the number of classes
        in ``metainfo['classes']`` when known, else the largest label + 1.

    Raises:
        ValueError: A label outside ``metainfo['classes']`` or negative.
        TypeError: The dataset exposes no labels.
    """
    if isinstance(dataset, ConcatDataset):
        parts = [dataset_class_counts(d) for d in dataset.datasets]
        total = np.zeros(max(len(p) for p in parts), dtype=np.int64)
        for p in parts:
            total[:len(p)] += p
        return total.tolist()
    if isinstance(dataset, (RepeatDataset, ClassBalancedDataset)):
        return dataset_class_counts(dataset.dataset)

    name = type(dataset).__name__
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    num_classes = _num_classes(dataset)
    counts = getattr(dataset, 'metainfo', {}).get('class_counts', None)
    if counts is not None:
        return [int(c) for c in counts]

    if hasattr(dataset, 'get_gt_labels'):
        labels = _as_label_array(dataset.get_gt_labels(),
                                 f'{name}.get_gt_labels()')
        counts = np.bincount(labels, minlength=num_classes or 0)
    elif hasattr(dataset, 'get_cat_ids'):
        # Multi-label data sets count an image once for each of its classes.
        cat_ids = [
            c for i in range(len(dataset)) for c in dataset.get_cat_ids(i)
        ]
        labels = _as_label_array(cat_ids, f'{name}.get_cat_ids()')
        counts = np.bincount(labels, minlength=num_classes or 0)
    elif hasattr(dataset, 'dataset'):  # another wrapper, e.g. KFoldDataset
        return dataset_class_counts(dataset.dataset)
    else:
        raise TypeError(
            f'Cannot read per-class counts from a {name}: it has neither '
            "metainfo['class_counts'], get_gt_labels() nor get_cat_ids().")
    if num_classes is not None and len(counts) > num_classes:
        raise ValueError(
            f'{name} has a label {len(counts) - 1} outside its '
            f'{num_classes} classes (valid labels: 0..{num_classes - 1}).')
    return [int(c) for c in counts]


def broadcast_from_main(fn: Callable[[], object]) -> object:
    """Run ``fn`` on rank 0 only and return its result on every rank.

    An exception on rank 0 is re-raised on every rank (as RuntimeError on
    the others) instead of leaving them waiting in the broadcast. Without a
    process group it simply returns ``fn()``.
    """
    if dist.get_world_size() == 1:
        return fn()
    box: List[object] = [None, None]
    if dist.is_main_process():
        try:
            box[0] = fn()
        except Exception as e:  # noqa: BLE001 - re-raised below
            box[1] = f'{type(e).__name__}: {e}'
            err = e
    dist.broadcast_object_list(box, src=0)
    if box[1] is not None:
        if dist.is_main_process():
            raise err
        raise RuntimeError(f'rank 0 failed: {box[1]}')
    return box[0]


class ClassCountsMixin:
    """Per-class training counts for a loss module (an ``nn.Module``).

    Subclasses call :meth:`_init_class_counts` in ``__init__``, implement
    :meth:`_on_class_counts` to recompute whatever they derive from the
    counts (weights, margins) and call :meth:`_require_counts` where they
    need them. Until counts are known, :attr:`has_counts` is False and
    :meth:`_require_counts` raises a clear error. Whether they are known is
    also kept on the host, so the forward never reads the ``_counts_set``
    buffer back from the device.
    """

    def _init_class_counts(self, num_classes: int,
                           class_counts: Optional[CountsLike]) -> None:
        self.num_classes = num_classes
        self.register_buffer('class_counts',
                             torch.zeros(num_classes, dtype=torch.float32))
        self.register_buffer('_counts_set',
                             torch.zeros((), dtype=torch.bool))
        self._counts_known = False
        if class_counts is not None:
            self.set_class_counts(class_counts)

    @property
    def has_counts(self) -> bool:
        """Whether the class counts are known."""
        return self._counts_known

    def set_class_counts(self, counts: CountsLike) -> None:
        """Set the per-class training counts (e.g. from the train set)."""
        t = to_class_counts(counts, self.num_classes)
        self.class_counts.copy_(t.to(self.class_counts))
        self._counts_set.fill_(True)
        self._on_class_counts(t)
        self._counts_known = True

    def _on_class_counts(self, counts: Tensor) -> None:
        """Recompute derived quantities from float64 counts (override)."""

    def _require_counts(self) -> None:
        """Raise unless the class counts are known (a host-side check)."""
        if not self._counts_known:
            raise RuntimeError(
                f'{type(self).__name__} needs the per-class training counts: '
                'pass class_counts=[...] or add '
                "dict(type='mmghm.ClassCountsHook') to custom_hooks.")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, *args, **kwargs)
        # The counts are data, not learned: a checkpoint of a model without
        # them (a cross-entropy checkpoint tested with a logit-adjusted
        # head) is not missing anything. The module keeps the counts it has
        # (the constructor's, or ClassCountsHook's before the test). Only
        # both keys absent is allowed; one of the two is a broken file.
        own = [prefix + 'class_counts', prefix + '_counts_set']
        if not any(k in state_dict for k in own):
            missing_keys[:] = [k for k in missing_keys if k not in own]
        self._counts_known = bool(self._counts_set)
        if self._counts_known:
            self._on_class_counts(self.class_counts.to(torch.float64))
