"""Focal loss in its softmax form (Lin et al., ICCV 2017).

MMPretrain's ``FocalLoss`` is the sigmoid (one-vs-all) form of RetinaNet.
Single-label classification, the setting of the paper's Tables 1-2 ("Focal
[23]"), uses the softmax form that Lin et al. mention as the multi-class
extension: ``FL = -alpha_y (1 - p_y)^gamma log p_y`` with ``p =
softmax(z)``.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_int, check_number
from .base import BaseClsLoss

__all__ = ['SoftmaxFocalLoss', 'softmax_focal_loss']


def softmax_focal_loss(logits: Tensor,
                       label: Tensor,
                       gamma: float = 2.0,
                       alpha: Optional[Tensor] = None) -> Tensor:
    """Per-example ``-alpha_y (1 - p_y)^gamma log p_y``, ``p = softmax(z)``.

    The modulating factor is differentiated too (as in Lin et al.).

    Args:
        logits: (M, C) logits.
        label: (M,) int64 labels.
        gamma: Focusing parameter, >= 0 (0 gives cross-entropy).
        alpha: Optional per-class weights (C,).

    Returns:
        Tensor: (M,) losses.
    """
    ce = F.cross_entropy(logits, label, reduction='none')  # -log p_y
    if gamma > 0:
        # 1 - p_y = -expm1(log p_y), accurate near p_y = 1. The clamp keeps
        # the gradient of x^gamma finite at x = 0 for gamma < 1 (its
        # gradient is 0 there, where the loss is 0 anyway).
        one_minus_p = (-torch.expm1(-ce)).clamp(min=1e-30)
        loss = one_minus_p.pow(gamma) * ce
    else:
        loss = ce
    if alpha is not None:
        loss = loss * alpha[label]
    return loss


@MODELS.register_module()
class SoftmaxFocalLoss(BaseClsLoss):
    """Softmax focal loss ``-alpha_y (1 - p_y)^gamma log p_y``.

    Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017: gamma = 2
    (their best setting, the default here). Their ``alpha = 0.25`` weighs
    positives against the many background negatives of the sigmoid
    detector; the softmax form has no such negatives, so ``alpha`` defaults
    to None (no weighting). A float gives a constant factor (``0.25``
    reproduces the detector's scale), a sequence one weight per class.

    Args:
        gamma: Focusing parameter, >= 0 (0 is cross-entropy).
        alpha: None, a float > 0 or a sequence of C per-class weights >= 0.
        num_classes: Optional C, checked against the logits (and the length
            of a per-class ``alpha``).
        reduction, loss_weight, ignore_index, loss_name: See
            :class:`BaseClsLoss`.
    """

    default_loss_name = 'loss_focal'

    def __init__(self,
                 gamma: float = 2.0,
                 alpha: Union[None, float, Sequence[float]] = None,
                 num_classes: Optional[int] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            reduction=reduction, loss_weight=loss_weight,
            ignore_index=ignore_index, loss_name=loss_name)
        self.gamma = check_number('gamma', gamma, low=0.0)
        if num_classes is not None:
            check_int('num_classes', num_classes, 2)
        self.num_classes = num_classes
        self.alpha_scalar: Optional[float] = None
        alpha_vec = None
        if alpha is None:
            pass
        elif isinstance(alpha, (int, float)) and not isinstance(alpha, bool):
            if not alpha > 0 or alpha == float('inf'):
                raise ValueError(
                    f'alpha must be > 0 and finite, but got {alpha!r}.')
            self.alpha_scalar = float(alpha)
        else:
            try:
                alpha_vec = torch.as_tensor(alpha, dtype=torch.float64)
            except (TypeError, ValueError):
                alpha_vec = None
            if alpha_vec is None or alpha_vec.ndim != 1 or \
                    not torch.isfinite(alpha_vec).all() or \
                    (alpha_vec < 0).any():
                raise ValueError(
                    'alpha must be None, a float > 0 or a sequence of '
                    f'per-class weights >= 0, but got {alpha!r}.')
            if num_classes is not None and alpha_vec.numel() != num_classes:
                raise ValueError(
                    f'alpha has {alpha_vec.numel()} per-class weights but '
                    f'num_classes is {num_classes}.')
            self.num_classes = alpha_vec.numel()
        self.register_buffer('alpha', alpha_vec, persistent=False)

    def _per_example_loss(self, logits, label, valid, weight):
        alpha = None if self.alpha is None else self.alpha.to(logits.dtype)
        loss = softmax_focal_loss(logits, label, self.gamma, alpha)
        if self.alpha_scalar is not None:
            loss = loss * self.alpha_scalar
        return loss

    def extra_repr(self) -> str:
        alpha = self.alpha_scalar if self.alpha is None else 'per-class'
        return (f'gamma={self.gamma}, alpha={alpha}, ' +
                super().extra_repr())
