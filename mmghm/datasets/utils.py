"""Data helpers: per-class training counts, and CIFAR-10 as JPEG files.

:func:`dataset_class_counts` is what :class:`mmghm.engine.ClassCountsHook`
uses to read the per-class counts of a training set, looking through
MMEngine's dataset wrappers.

:func:`find_cifar10_jpeg` / :func:`prepare_cifar10_jpeg` locate and unpack a
``cifar10-jpeg.zip`` (CIFAR-10 as ``train/<class>/NNNN.jpg`` and
``test/<class>/NNNN.jpg``, the layout MMPretrain's ``CustomDataset`` reads)
into a cache folder. The zip is wherever its user keeps it: named by
``$MMGHM_CIFAR10_ZIP`` or given as an argument (or ``data/cifar10-jpeg.zip``
under the working directory); nothing here knows of any other place.
"""
import os
import os.path as osp
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import List, Optional, Union

import numpy as np
from mmengine.dataset import (ClassBalancedDataset, ConcatDataset,
                              RepeatDataset)

CIFAR10_ZIP_NAME = 'cifar10-jpeg.zip'
#: Environment variable that overrides where the zip is looked for.
CIFAR10_ZIP_ENV = 'MMGHM_CIFAR10_ZIP'
_COMPLETE_MARKER = '.mmghm_unpacked'


def _as_label_array(labels, where: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype,
                                                         np.integer)):
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


def find_cifar10_jpeg() -> Optional[Path]:
    """Locate ``cifar10-jpeg.zip`` (CIFAR-10 as JPEG files).

    Looked for, in order: ``$MMGHM_CIFAR10_ZIP`` (when set, only there), and
    ``data/cifar10-jpeg.zip`` under the working directory.

    Returns:
        Path | None: The zip file, or None when it is nowhere to be found.
    """
    env = os.environ.get(CIFAR10_ZIP_ENV)
    if env:
        return Path(env) if osp.isfile(env) else None
    path = Path.cwd() / 'data' / CIFAR10_ZIP_NAME
    return path if path.is_file() else None


def default_cache_dir() -> Path:
    """``$MMGHM_CACHE_DIR/mmghm_cifar10``, or the same in the temp dir."""
    base = os.environ.get('MMGHM_CACHE_DIR', tempfile.gettempdir())
    return Path(base) / 'mmghm_cifar10'


def prepare_cifar10_jpeg(cache_dir: Union[str, Path, None] = None,
                         zip_path: Union[str, Path, None] = None) -> Path:
    """Unpack ``cifar10-jpeg.zip`` once and return the unpacked folder.

    The folder then holds ``train/<class>/*.jpg`` (5,000 a class) and
    ``test/<class>/*.jpg`` (1,000 a class); point a ``CustomDataset``'s
    ``data_prefix`` at ``<folder>/train`` or ``<folder>/test``. Unpacking goes
    to a private temporary folder that is renamed into place only when
    complete, so concurrent callers never see a half-unpacked copy.

    Args:
        cache_dir: Where to unpack. Defaults to :func:`default_cache_dir`.
        zip_path: The zip file. Defaults to :func:`find_cifar10_jpeg`.

    Returns:
        Path: ``cache_dir``, complete.

    Raises:
        FileNotFoundError: If the zip file cannot be found.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    if (cache_dir / _COMPLETE_MARKER).is_file():
        return cache_dir
    zip_path = Path(zip_path) if zip_path else find_cifar10_jpeg()
    if zip_path is None or not zip_path.is_file():
        raise FileNotFoundError(
            f'{CIFAR10_ZIP_NAME} not found (looked at '
            f'{zip_path or "$" + CIFAR10_ZIP_ENV + " and data/"}). '
            f'Set ${CIFAR10_ZIP_ENV} to its path, or pass zip_path.')
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=cache_dir.name + '.partial-',
                                dir=cache_dir.parent))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        (tmp / _COMPLETE_MARKER).write_text(str(zip_path) + '\n')
        if cache_dir.exists():  # an incomplete leftover, or another winner
            if (cache_dir / _COMPLETE_MARKER).is_file():
                return cache_dir
            shutil.rmtree(cache_dir, ignore_errors=True)
        try:
            os.replace(tmp, cache_dir)
        except OSError:  # another process renamed its copy first
            if not (cache_dir / _COMPLETE_MARKER).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return cache_dir
