"""Accuracy by frequency group (Many / Medium / Few / Rare).

Long-tailed papers report top-1 accuracy overall and averaged over the
classes of each frequency group, the groups being defined by the number of
TRAINING images of each class; the GHM-CWAP paper's Table 2 uses
Many / Medium / Few / Rare without stating thresholds.
"""
import math
import os
import os.path as osp
from numbers import Real
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmghm.registry import METRICS
from mmghm.utils.checks import check_int
from mmghm.utils.class_counts import to_class_counts
from mmghm.utils.files import atomic_json_dump

MODES = ('threshold', 'four', 'quantile')
#: Decoupling convention (Kang et al., ICLR 2020): Many > 100 training
#: images, Medium 20..100, Few < 20.
THREE_GROUP_THRESHOLDS = (100, 20)
#: Four groups: the three above with Few split at 10 (see GroupAccuracy).
FOUR_GROUP_THRESHOLDS = (100, 20, 10)
_DEFAULT_NAMES = {
    2: ('head', 'tail'),
    3: ('many', 'medium', 'few'),
    4: ('many', 'medium', 'few', 'rare'),
}


def _nan_mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float('nan')


@METRICS.register_module()
class GroupAccuracy(BaseMetric):
    """Top-1, mean per-class and per-group accuracy (in %) of a classifier.

    Groups are defined by the per-class counts of the training set, which
    :class:`mmghm.engine.ClassCountsHook` passes in (:meth:`set_class_counts`)
    or ``class_counts`` gives. Three modes:

    * ``'threshold'`` (default, thresholds ``(100, 20)``): Many ``n > 100``,
      Medium ``20 <= n <= 100``, Few ``n < 20``, the convention of
      Decoupling (Kang et al., 2020) and OLTR for ImageNet-LT / iNaturalist.
      In general, with decreasing thresholds ``t1 > t2 > ...``, the first
      group holds ``n > t1`` and group ``j`` holds ``t_{j+1} <= n`` (and not
      an earlier group); the last group holds the rest.
    * ``'four'``: the paper's Many / Medium / Few / Rare (Table 2). The paper
      does not state its thresholds; the default ``(100, 20, 10)`` keeps Many
      and Medium as in the three-group convention and splits Few at 10
      images, so Few is 10..19 and Rare < 10 (ImageNet-LT has 5..1,280
      images a class, so every group is populated).
    * ``'quantile'``: classes sorted by training count (descending, ties by
      class index) and cut into ``num_groups`` groups of equal size (sizes
      differ by at most one, larger groups first), for few classes such as
      CIFAR-10-LT, where fixed thresholds leave groups empty (CIFAR-10 with
      IF 100: 4 / 3 / 3 classes).

    Reported keys (prefix ``group_accuracy/``): ``top1``, ``mean_class``
    (mean over classes with test samples) and one per group (``many``, ...);
    a group with no class, or whose classes have no test sample, is NaN.
    Per-class accuracies stay out of the log (thousands of classes); they are
    in :attr:`last_result` and, with ``out_file``, written as JSON for
    ``tools/analysis/plot_class_accuracy.py``.

    Args:
        class_counts: Training images per class. Usually left None and set by
            ``ClassCountsHook`` (which also restores them from the checkpoint
            in ``tools/test.py``).
        mode: ``'threshold'``, ``'four'`` or ``'quantile'``.
        thresholds: Strictly decreasing positive numbers for the threshold
            modes; defaults ``(100, 20)`` / ``(100, 20, 10)``.
        num_groups: Number of groups in ``'quantile'`` mode. Defaults to 3.
        group_names: One name per group. Defaults: 3 groups many, medium,
            few; 4 groups add rare; 2 groups head, tail.
        out_file: JSON file for the per-class results of each evaluation. A
            relative path is taken in the work dir when ``ClassCountsHook``
            is used, else in the current directory.
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Key prefix. Defaults to ``'group_accuracy'``.
    """

    default_prefix: Optional[str] = 'group_accuracy'

    def __init__(self,
                 class_counts: Optional[Sequence[int]] = None,
                 mode: str = 'threshold',
                 thresholds: Optional[Sequence[Real]] = None,
                 num_groups: int = 3,
                 group_names: Optional[Sequence[str]] = None,
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.mode, self.thresholds, self.num_groups, self.group_names = \
            self._check_grouping(mode, thresholds, num_groups, group_names)
        self.out_file = out_file
        self.work_dir: Optional[str] = None
        self.class_counts: Optional[np.ndarray] = None
        #: Full result of the last evaluation (see :meth:`calculate`).
        self.last_result: Optional[dict] = None
        if class_counts is not None:
            self.set_class_counts(class_counts)

    @staticmethod
    def _check_grouping(
        mode: str, thresholds: Optional[Sequence[Real]], num_groups: int,
        group_names: Optional[Sequence[str]]
    ) -> Tuple[str, Optional[Tuple[float, ...]], int, Tuple[str, ...]]:
        if mode not in MODES:
            raise ValueError(
                f'mode must be one of {MODES}, but got {mode!r}.')
        if mode == 'quantile':
            if thresholds is not None:
                raise ValueError("thresholds apply to mode 'threshold' or "
                                 "'four', not 'quantile' (use num_groups).")
            num_groups = check_int('num_groups', num_groups, 1)
        else:
            if thresholds is None:
                thresholds = FOUR_GROUP_THRESHOLDS if mode == 'four' \
                    else THREE_GROUP_THRESHOLDS
            try:
                thresholds = tuple(float(t) for t in thresholds)
            except (TypeError, ValueError):
                raise ValueError('thresholds must be a sequence of numbers, '
                                 f'but got {thresholds!r}.') from None
            pairs = zip(thresholds, thresholds[1:])
            if (not thresholds
                    or any(not t > 0 or math.isinf(t) for t in thresholds)
                    or any(a <= b for a, b in pairs)):
                raise ValueError(
                    'thresholds must be finite positive numbers in strictly '
                    f'decreasing order, but got {thresholds!r}.')
            if mode == 'four' and len(thresholds) != 3:
                raise ValueError("mode 'four' needs 3 thresholds "
                                 '(Many/Medium, Medium/Few, Few/Rare), but '
                                 f'got {thresholds!r}.')
            num_groups = len(thresholds) + 1
        if group_names is None:
            group_names = _DEFAULT_NAMES.get(
                num_groups, tuple(f'group{i}' for i in range(num_groups)))
        group_names = tuple(str(n) for n in group_names)
        if len(group_names) != num_groups or len(set(group_names)) != len(
                group_names):
            raise ValueError(
                f'group_names must be {num_groups} distinct names, but got '
                f'{group_names!r}.')
        reserved = {'top1', 'mean_class'} & set(group_names)
        if reserved:
            raise ValueError(f'group_names may not use {sorted(reserved)}.')
        return mode, thresholds, num_groups, group_names

    def set_class_counts(self, counts: Union[Sequence[int],
                                             torch.Tensor]) -> None:
        """Set the training images per class that define the groups."""
        self.class_counts = to_class_counts(counts).numpy()

    def set_work_dir(self, work_dir: str) -> None:
        """Directory for a relative ``out_file`` (set by ClassCountsHook)."""
        self.work_dir = work_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the top-1 prediction and the label of each sample."""
        for sample in data_samples:
            if 'pred_score' in sample:
                score = torch.as_tensor(sample['pred_score'])
                pred, width = int(score.argmax()), int(score.numel())
            else:
                pred, width = int(torch.as_tensor(
                    sample['pred_label']).reshape(-1)[0]), -1
            gt = int(torch.as_tensor(sample['gt_label']).reshape(-1)[0])
            self.results.append(dict(pred=pred, gt=gt, width=width))

    @staticmethod
    def assign_groups(class_counts: Sequence[Real],
                      mode: str = 'threshold',
                      thresholds: Optional[Sequence[Real]] = None,
                      num_groups: int = 3) -> np.ndarray:
        """Group index of each class (0 = most frequent group).

        Args:
            class_counts: Training images per class, shape (C,).
            mode, thresholds, num_groups: As in :class:`GroupAccuracy`.

        Returns:
            np.ndarray: int64, shape (C,).
        """
        mode, thresholds, num_groups, _ = GroupAccuracy._check_grouping(
            mode, thresholds, num_groups, None)
        counts = np.asarray(class_counts, dtype=np.float64)
        if mode == 'quantile':
            order = np.lexsort((np.arange(counts.size), -counts))
            group = np.empty(counts.size, dtype=np.int64)
            for g, part in enumerate(np.array_split(order, num_groups)):
                group[part] = g
            return group
        # Group 0: n > t1; group j >= 1: the first j with n >= t_{j+1}.
        group = np.full(counts.size, len(thresholds), dtype=np.int64)
        for j in range(len(thresholds) - 1, 0, -1):
            group[counts >= thresholds[j]] = j
        group[counts > thresholds[0]] = 0
        return group

    @staticmethod
    def calculate(pred: Union[Sequence[int], np.ndarray, torch.Tensor],
                  target: Union[Sequence[int], np.ndarray, torch.Tensor],
                  class_counts: Sequence[Real],
                  mode: str = 'threshold',
                  thresholds: Optional[Sequence[Real]] = None,
                  num_groups: int = 3,
                  group_names: Optional[Sequence[str]] = None) -> dict:
        """Accuracies from predicted and true labels.

        Args:
            pred: Predicted label of each sample, shape (N,).
            target: True label of each sample, shape (N,).
            class_counts: Training images per class, shape (C,); labels must
                lie in ``0 .. C-1``.
            mode, thresholds, num_groups, group_names: As in
                :class:`GroupAccuracy`.

        Returns:
            dict: ``top1``, ``mean_class`` (floats, %), ``groups`` (name ->
            %, NaN when empty), ``per_class`` (C,) in % with NaN for classes
            without test samples, ``num_samples`` (C,) test samples a class,
            ``group_of_class`` (C,) and ``group_names``.
        """
        mode, thresholds, num_groups, group_names = \
            GroupAccuracy._check_grouping(mode, thresholds, num_groups,
                                          group_names)
        counts = to_class_counts(class_counts).numpy()
        num_classes = counts.size
        pred = np.asarray(torch.as_tensor(pred).cpu()).reshape(-1)
        target = np.asarray(torch.as_tensor(target).cpu()).reshape(-1)
        if pred.shape != target.shape:
            raise ValueError(f'pred has {pred.size} labels but target has '
                             f'{target.size}.')
        if pred.size == 0:
            raise ValueError('GroupAccuracy got no sample to evaluate.')
        for name, labels in (('predicted', pred), ('true', target)):
            bad = labels[(labels < 0) | (labels >= num_classes)]
            if bad.size:
                raise ValueError(
                    f'A {name} label is {int(bad[0])}, but training class '
                    f'counts are known for {num_classes} classes only '
                    f'(0..{num_classes - 1}).')
        correct = pred == target
        num_samples = np.bincount(target, minlength=num_classes)
        num_correct = np.bincount(target, weights=correct,
                                  minlength=num_classes)
        with np.errstate(invalid='ignore', divide='ignore'):
            per_class = np.where(num_samples > 0,
                                 100.0 * num_correct / num_samples, np.nan)
        group_of_class = GroupAccuracy.assign_groups(counts, mode, thresholds,
                                                     num_groups)
        groups = {
            name: _nan_mean(per_class[group_of_class == g])
            for g, name in enumerate(group_names)
        }
        return dict(
            top1=100.0 * float(correct.mean()),
            mean_class=_nan_mean(per_class),
            groups=groups,
            per_class=per_class,
            num_samples=num_samples,
            group_of_class=group_of_class,
            group_names=list(group_names))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if self.class_counts is None:
            raise RuntimeError(
                'GroupAccuracy needs the per-class training counts: add '
                "dict(type='mmghm.ClassCountsHook') to custom_hooks (it "
                'reads them from the train set, or from the checkpoint in '
                'tools/test.py) or pass class_counts=[...].')
        num_classes = len(self.class_counts)
        widths = {r['width'] for r in results} - {-1}
        if widths - {num_classes}:
            raise ValueError(
                f'The model scores {sorted(widths - {num_classes})[0]} '
                f'classes, but training class counts are known for '
                f'{num_classes} classes.')
        res = self.calculate([r['pred'] for r in results],
                             [r['gt'] for r in results], self.class_counts,
                             self.mode, self.thresholds, self.num_groups,
                             self.group_names)
        self.last_result = res
        if self.out_file:
            self._dump(res)
        metrics = dict(top1=res['top1'], mean_class=res['mean_class'])
        metrics.update(res['groups'])
        return metrics

    def _dump(self, res: dict) -> None:
        path = self.out_file
        if not osp.isabs(path) and self.work_dir:
            path = osp.join(self.work_dir, path)
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)

        def clean(x):
            return None if isinstance(x, float) and math.isnan(x) else x

        payload = dict(
            top1=res['top1'],
            mean_class=clean(res['mean_class']),
            groups={k: clean(v)
                    for k, v in res['groups'].items()},
            group_names=res['group_names'],
            mode=self.mode,
            thresholds=list(self.thresholds) if self.thresholds else None,
            classes=list((self.dataset_meta or {}).get('classes', []))
            or None,
            class_counts=self.class_counts.tolist(),
            per_class_accuracy=[clean(float(a)) for a in res['per_class']],
            num_test_samples=res['num_samples'].tolist(),
            group_of_class=res['group_of_class'].tolist())
        atomic_json_dump(payload, path, indent=1)
        MMLogger.get_current_instance().info(
            f'GroupAccuracy: per-class results written to {path}')
