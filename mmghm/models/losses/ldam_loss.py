"""LDAM loss with deferred re-weighting (LDAM-DRW).

Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware
Margin Loss", NeurIPS 2019:

- LDAM (Eq. 13): ``L = CE(s * (z - m_y e_y), y)`` with class margins
  ``m_c ∝ n_c^(-1/4)``, scaled so that the largest margin is ``max_m``, and
  ``z`` the cosine logits of a normed linear classifier
  (:class:`mmghm.models.heads.NormedLinearClsHead`), ``s`` the scale.
- DRW (Algorithm 1): train unweighted, then from epoch ``drw_start_epoch``
  on weigh each example by the class-balanced weight of Cui et al. 2019,
  ``(1 - beta) / (1 - beta^n_y)`` normalised to sum to C, ``beta = 0.9999``
  (the released code's ``betas = [0, 0.9999]`` switched at epoch 160 of
  200, with the learning rate decayed at 160 and 180).

:class:`mmghm.engine.hooks.LossEpochHook` calls :meth:`LDAMLoss.set_epoch`
before every training epoch.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_bool, check_int, check_number
from mmghm.utils.class_counts import ClassCountsMixin, CountsLike
from .base import BaseClsLoss
from .class_balanced_loss import effective_number_weights

__all__ = ['LDAMLoss', 'ldam_margins']


def ldam_margins(counts: Tensor, max_m: float) -> Tensor:
    """``m_c = max_m * n_c^(-1/4) / max_k n_k^(-1/4)`` (Cao et al., Eq. 13).

    Classes without examples count as having one (finite margin).
    """
    m = counts.to(torch.float64).clamp(min=1).pow(-0.25)
    return m * (max_m / m.max())


@MODELS.register_module()
class LDAMLoss(ClassCountsMixin, BaseClsLoss):
    """Label-distribution-aware margin loss with deferred re-weighting.

    ``loss = w_y * CE(s * (z - m_y e_y), y)`` with ``w = 1`` before
    ``drw_start_epoch`` and the effective-number weights (``drw_beta``)
    from then on. Hyper-parameters as published: ``max_m = 0.5``,
    ``s = 30``, DRW at epoch 160 with ``beta = 0.9999``. Use it with
    :class:`mmghm.models.heads.NormedLinearClsHead` (cosine logits, as the
    authors do for CIFAR) and add ``dict(type='mmghm.LossEpochHook')`` to
    ``custom_hooks``; without the hook the epoch stays 0 and DRW never
    starts (the first training step logs a warning naming the hook).

    As in the released code (PyTorch's ``F.cross_entropy(weight=...)``),
    the 'mean' of the re-weighted loss divides by the sum of the examples'
    class weights rather than by their number (``weighted_mean=True``); a
    given ``avg_factor`` (ClsHead passes the batch size) is rescaled by the
    batch's mean class weight. ``weighted_mean=False`` gives the plain mean
    of MMPretrain's ``CrossEntropyLoss(class_weight=...)``. Before DRW both
    are the ordinary mean.

    Args:
        num_classes: Number of classes C.
        class_counts: Per-class training counts, or None to receive them from
            :class:`mmghm.engine.hooks.ClassCountsHook`. A class with zero
            examples counts as one.
        max_m: Largest margin, > 0 (paper: 0.5).
        s: Logit scale, > 0 (paper: 30, for cosine logits).
        drw_start_epoch: First (0-based) epoch of re-weighting (paper: 160),
            or None for LDAM without DRW.
        drw_beta: Effective-number beta of the DRW weights, in [0, 1).
        weighted_mean: See above.
        reduction, loss_weight, ignore_index, loss_name: See
            :class:`BaseClsLoss`.
    """

    default_loss_name = 'loss_ldam'
    keep_dtype_buffers = {
        'class_counts': torch.float32,
        'margins': torch.float64,
        'drw_weight': torch.float64
    }

    def __init__(self,
                 num_classes: int,
                 class_counts: Optional[CountsLike] = None,
                 max_m: float = 0.5,
                 s: float = 30.0,
                 drw_start_epoch: Optional[int] = 160,
                 drw_beta: float = 0.9999,
                 weighted_mean: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            reduction=reduction, loss_weight=loss_weight,
            ignore_index=ignore_index, loss_name=loss_name)
        check_int('num_classes', num_classes, 2)
        self.max_m = check_number('max_m', max_m, low=0.0, low_open=True)
        self.s = check_number('s', s, low=0.0, low_open=True)
        if drw_start_epoch is not None:
            check_int('drw_start_epoch', drw_start_epoch, 0)
        self.drw_start_epoch = drw_start_epoch
        self.drw_beta = check_number('drw_beta', drw_beta, low=0.0, high=1.0,
                                     high_open=True)
        self.weighted_mean = check_bool('weighted_mean', weighted_mean)
        self.register_buffer(
            'margins', torch.zeros(num_classes, dtype=torch.float64),
            persistent=False)
        self.register_buffer(
            'drw_weight', torch.ones(num_classes, dtype=torch.float64),
            persistent=False)
        # The epoch last set by the hook (saved, so a checkpoint knows
        # whether DRW was on).
        self.register_buffer('epoch', torch.zeros((), dtype=torch.long))
        self._epoch = 0
        if drw_start_epoch is not None:
            self._require_hook(
                'mmghm.LossEpochHook', "dict(type='mmghm.LossEpochHook')",
                'calls set_epoch() before every epoch; without it the '
                f'deferred re-weighting (drw_start_epoch={drw_start_epoch}) '
                'never starts')
        self._init_class_counts(num_classes, class_counts)

    def _on_class_counts(self, counts: Tensor) -> None:
        self.margins.copy_(ldam_margins(counts, self.max_m))
        self.drw_weight.copy_(effective_number_weights(counts, self.drw_beta))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._epoch = int(self.epoch)

    def set_epoch(self, epoch: int) -> None:
        """Tell the loss the current 0-based training epoch (DRW switch)."""
        epoch = check_int('epoch', epoch, 0)
        self.epoch.fill_(epoch)
        self._epoch = epoch  # host copy: no device sync in forward
        if 'mmghm.LossEpochHook' not in self.claimed_by:
            self.claim('mmghm.LossEpochHook')  # whoever calls it drives it

    @property
    def drw_active(self) -> bool:
        """Whether the deferred re-weighting is on at the current epoch."""
        return self.drw_start_epoch is not None and \
            self._epoch >= self.drw_start_epoch

    def graph_state(self) -> tuple:
        """The DRW switch only: the epoch changes nothing else a step
        computes (see :meth:`BaseClsLoss.graph_state`)."""
        return ('drw', bool(self.drw_active))

    def _class_weight(self, dtype: torch.dtype) -> Optional[Tensor]:
        return self.drw_weight.to(dtype) if self.drw_active else None

    def _per_example_loss(self, logits, label, valid, weight):
        self._require_counts()
        idx = label.unsqueeze(1)
        m = self.margins.to(logits.dtype)[label].unsqueeze(1)
        # z - m_y e_y: only the label's logit moves.
        shifted = logits.scatter(1, idx, logits.gather(1, idx) - m)
        return F.cross_entropy(
            shifted * self.s, label, weight=self._class_weight(logits.dtype),
            reduction='none')

    def _reduce(self, loss, label, valid, weight, reduction, avg_factor):
        cw = self._class_weight(loss.dtype)
        if (reduction == 'mean' and self.weighted_mean and cw is not None
                and label is not None):
            w_y = cw[label]
            if valid is not None:
                w_y = torch.where(valid, w_y, w_y.new_zeros(()))
                n = valid.sum().clamp(min=1)
            else:
                n = max(label.numel(), 1)
            # sum(w_y * l) / sum(w_y) when avg_factor is the example count.
            avg_factor = avg_factor * (w_y.sum() / n).clamp(min=1e-12)
        return super()._reduce(loss, label, valid, weight, reduction,
                               avg_factor)

    def extra_repr(self) -> str:
        return (f'max_m={self.max_m}, s={self.s}, drw_start_epoch='
                f'{self.drw_start_epoch}, drw_beta={self.drw_beta}, ' +
                super().extra_repr())
