"""Balanced Softmax / logit-adjusted loss.

Ren et al., "Balanced Meta-Softmax for Long-Tailed Visual Recognition",
NeurIPS 2020, Eq. 4: ``CE(z + log n, y)``; Menon et al., "Long-Tail
Learning via Logit Adjustment", ICLR 2021, Eq. 10: ``CE(z + tau * log pi,
y)`` with ``pi`` the training class prior. With ``tau = 1`` the two are the
same loss (adding ``log n`` or ``log pi`` differs by a constant that the
softmax ignores). At test time the raw logits ``z`` are used unchanged.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_int, check_number
from mmghm.utils.class_counts import ClassCountsMixin, CountsLike
from .base import BaseClsLoss

__all__ = ['BalancedSoftmaxLoss']


@MODELS.register_module()
class BalancedSoftmaxLoss(ClassCountsMixin, BaseClsLoss):
    """Softmax cross-entropy of prior-adjusted logits ``z + tau * log pi``.

    ``tau = 1`` (default) is Balanced Softmax (Ren et al. 2020) and the
    logit-adjusted loss (Menon et al. 2021, who also study other ``tau``).
    Soft (N, C) targets are supported (``-sum_c t_c log softmax(z + tau log
    pi)_c``).

    Args:
        num_classes: Number of classes C.
        class_counts: Per-class training counts, or None to receive them from
            :class:`mmghm.engine.hooks.ClassCountsHook`. A class with zero
            examples counts as one (so its logit is not sent to -inf).
        tau: Strength of the adjustment, >= 0 (0 is cross-entropy).
        reduction, loss_weight, ignore_index, loss_name: See
            :class:`BaseClsLoss`.
    """

    default_loss_name = 'loss_balanced_softmax'
    supports_soft_target = True
    keep_dtype_buffers = {
        'class_counts': torch.float32,
        'log_prior': torch.float64
    }

    def __init__(self,
                 num_classes: int,
                 class_counts: Optional[CountsLike] = None,
                 tau: float = 1.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            reduction=reduction, loss_weight=loss_weight,
            ignore_index=ignore_index, loss_name=loss_name)
        check_int('num_classes', num_classes, 2)
        self.tau = check_number('tau', tau, low=0.0)
        self.register_buffer(
            'log_prior', torch.zeros(num_classes, dtype=torch.float64),
            persistent=False)
        self._init_class_counts(num_classes, class_counts)

    def _on_class_counts(self, counts: Tensor) -> None:
        n = counts.to(torch.float64).clamp(min=1)
        self.log_prior.copy_((n / n.sum()).log())

    def _adjusted(self, logits: Tensor) -> Tensor:
        self._require_counts()
        return logits + (self.tau * self.log_prior).to(logits.dtype)

    def _per_example_loss(self, logits, label, valid, weight):
        return F.cross_entropy(
            self._adjusted(logits), label, reduction='none')

    def _soft_per_example_loss(self, logits, target):
        return -(target * F.log_softmax(self._adjusted(logits), dim=1)).sum(1)

    def extra_repr(self) -> str:
        return f'tau={self.tau}, ' + super().extra_repr()
