"""Post-hoc logit shifts: the head / tail trade a trained model allows.

Every re-balancing loss moves a model along a trade between the accuracy
of the frequent (head) and the rare (tail) classes. A post-hoc shift of
the test-time logits by ``-tau * log n_c`` (``n_c``: training images of
class c) moves a *fixed* trained model along that trade: ``tau > 0``
favours the rare classes (``tau = 1`` is the post-hoc logit adjustment of
Menon et al., ICLR 2021, for a model trained with cross-entropy), ``tau <
0`` the frequent ones (``tau = -1`` undoes a Balanced-Softmax-style
adjustment). Sweeping ``tau`` gives the curve of group accuracies one
trained model can reach without training again; comparing the curves of
several losses says which representation allows the better trade.

The scores are probabilities (what MMPretrain's ``pred_score`` and
``tools/test.py --out`` hold); their log differs from the logits by a
constant per sample, which no shift of the class scores can change.
"""
from numbers import Real
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .metrics.group_accuracy import GroupAccuracy

__all__ = ['shifted_predictions', 'logit_shift_curve', 'mean_curve',
           'best_shift']


def _log_inputs(scores, class_counts: Sequence[Real]):
    """Checked ``(log p (N, C), log n (C,))``, float64."""
    scores = np.asarray(torch.as_tensor(scores, dtype=torch.float64).cpu())
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError('scores must have shape (samples, classes) with at '
                         f'least 2 classes, got {scores.shape}.')
    if not np.isfinite(scores).all() or (scores < 0).any():
        raise ValueError('scores must be probabilities (finite, >= 0).')
    counts = np.asarray(class_counts, dtype=np.float64).reshape(-1)
    if counts.size != scores.shape[1]:
        raise ValueError(f'class_counts has {counts.size} classes but the '
                         f'scores have {scores.shape[1]}.')
    if not (counts > 0).all():
        raise ValueError('class_counts must all be > 0 (log n_c is taken).')
    # A probability that underflowed to 0 stays the lowest score.
    return (np.log(np.maximum(scores, np.finfo(np.float64).tiny)),
            np.log(counts))


def shifted_predictions(scores, class_counts: Sequence[Real],
                        tau: float) -> np.ndarray:
    """``argmax_c (log p_c - tau * log n_c)`` for each sample.

    Args:
        scores: Probabilities, shape (N, C).
        class_counts: Training images per class, shape (C,), all > 0.
        tau: Shift strength; 0 gives the model's own predictions.

    Returns:
        np.ndarray: int64, shape (N,).
    """
    log_p, log_n = _log_inputs(scores, class_counts)
    return np.argmax(log_p - tau * log_n, axis=1)


def logit_shift_curve(scores, target, class_counts: Sequence[Real],
                      taus: Sequence[float], mode: str = 'quantile',
                      thresholds: Optional[Sequence[Real]] = None,
                      num_groups: int = 3,
                      group_names: Optional[Sequence[str]] = None
                      ) -> List[Dict]:
    """Group accuracies of one model at each shift ``tau``.

    Groups are :class:`~mmghm.evaluation.GroupAccuracy`'s (same arguments).

    Returns:
        list of dict: per tau, ``tau``, ``top1``, ``mean_class`` and one
        key per group name (all in %).
    """
    log_p, log_n = _log_inputs(scores, class_counts)  # once, not per tau
    curve = []
    for tau in taus:
        pred = np.argmax(log_p - float(tau) * log_n, axis=1)
        res = GroupAccuracy.calculate(pred, target, class_counts, mode,
                                      thresholds, num_groups, group_names)
        curve.append(dict(tau=float(tau), top1=res['top1'],
                          mean_class=res['mean_class'], **res['groups']))
    return curve


def mean_curve(curves: Sequence[List[Dict]]) -> List[Dict]:
    """The mean over runs (e.g. seeds) of curves with the same taus."""
    if not curves:
        raise ValueError('mean_curve needs at least one curve.')
    taus = [row['tau'] for row in curves[0]]
    for curve in curves[1:]:
        if [row['tau'] for row in curve] != taus:
            raise ValueError('the curves to average have different taus.')
    return [{key: float(np.mean([c[i][key] for c in curves]))
             for key in curves[0][i]} for i in range(len(taus))]


def best_shift(curve: Sequence[Dict], keep: str, floor: float,
               gain: str) -> Optional[Dict]:
    """The point of ``curve`` with the highest ``gain`` accuracy among those
    whose ``keep`` accuracy is at least ``floor`` (ties: the smaller
    ``|tau|``); None when no point keeps the floor."""
    for key in (keep, gain):
        if key not in curve[0]:
            raise KeyError(f'{key!r} is not a column of the curve; it has '
                           f'{sorted(curve[0])}.')
    ok = [row for row in curve if row[keep] >= floor]
    if not ok:
        return None
    return max(ok, key=lambda row: (row[gain], -abs(row['tau'])))
