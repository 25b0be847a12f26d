"""Class re-weighting baselines: inverse frequency and effective number.

- :class:`ClassBalancedLoss`: softmax cross-entropy weighted by the inverse
  class frequency, ``w_c ∝ 1 / n_c`` ("Class Balanced" of the paper's
  Tables 1-2).
- :class:`EffectiveNumberLoss`: the class-balanced loss of Cui et al.,
  "Class-Balanced Loss Based on Effective Number of Samples", CVPR 2019
  ("Effective Number" of Tables 1-2), ``w_c ∝ (1 - beta) / (1 - beta^n_c)``
  (Eq. 5-6 of Cui et al.) on a softmax, sigmoid or focal loss (their Eq.
  7-9).

Both normalise the weights to sum to C, as Cui et al.'s released code does,
so the loss scale stays that of the unweighted loss.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmpretrain.models.losses.cross_entropy_loss import soft_cross_entropy
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_int, check_number
from mmghm.utils.class_counts import ClassCountsMixin, CountsLike
from .base import BaseClsLoss

__all__ = [
    'ClassBalancedLoss', 'EffectiveNumberLoss', 'inverse_frequency_weights',
    'effective_number_weights'
]


def inverse_frequency_weights(counts: Tensor) -> Tensor:
    """``w_c = (1 / n_c) / sum_k (1 / n_k) * C``.

    A class without training examples is treated as having one, so its
    weight is finite (it is never a label during training anyway).

    Args:
        counts: (C,) per-class training counts.

    Returns:
        Tensor: (C,) float64 weights summing to C.
    """
    inv = counts.to(torch.float64).clamp(min=1).reciprocal()
    return inv / inv.sum() * counts.numel()


def effective_number_weights(counts: Tensor, beta: float) -> Tensor:
    """Cui et al. 2019, Eq. 5-6: ``w_c ∝ (1 - beta) / (1 - beta^n_c)``.

    ``(1 - beta^n) / (1 - beta)`` is the effective number of samples of a
    class with ``n`` examples; the weights are its inverse, normalised to sum
    to C. ``beta = 0`` gives equal weights, ``beta -> 1`` inverse frequency.
    Classes without examples count as having one (finite weights).

    Args:
        counts: (C,) per-class training counts.
        beta: Hyper-parameter in [0, 1).

    Returns:
        Tensor: (C,) float64 weights summing to C.
    """
    n = counts.to(torch.float64).clamp(min=1)
    # (1 - beta) / (1 - beta^n), with 1 - beta^n = -expm1(n log beta):
    # accurate for beta close to 1 (0.9999) and small n.
    if beta == 0:
        w = torch.ones_like(n)
    else:
        w = (1.0 - beta) / -torch.expm1(n * torch.log(
            torch.tensor(beta, dtype=torch.float64)))
    return w / w.sum() * counts.numel()


class _ClassWeightedLoss(ClassCountsMixin, BaseClsLoss):
    """Shared body: a per-class weight vector derived from the counts."""

    supports_soft_target = True
    keep_dtype_buffers = {
        'class_counts': torch.float32,
        'class_weight': torch.float64
    }

    def __init__(self, num_classes: int, class_counts: Optional[CountsLike],
                 **kwargs) -> None:
        super().__init__(**kwargs)
        check_int('num_classes', num_classes, 2)
        # Derived from the counts (not saved; recomputed on load).
        self.register_buffer(
            'class_weight', torch.ones(num_classes, dtype=torch.float64),
            persistent=False)
        self._init_class_counts(num_classes, class_counts)

    def _weights_from_counts(self, counts: Tensor) -> Tensor:
        raise NotImplementedError

    def _on_class_counts(self, counts: Tensor) -> None:
        self.class_weight.copy_(self._weights_from_counts(counts))

    def _weights(self, dtype: torch.dtype) -> Tensor:
        self._require_counts()
        return self.class_weight.to(dtype)

    def _per_example_loss(self, logits, label, valid, weight):
        w = self._weights(logits.dtype)
        # F.cross_entropy(weight=w, reduction='none') = w_y * CE (Eq. 7).
        return F.cross_entropy(logits, label, weight=w, reduction='none')

    def _soft_per_example_loss(self, logits, target):
        # -sum_c t_c w_c log p_c, MMPretrain's soft cross-entropy.
        return soft_cross_entropy(
            logits, target, reduction='none',
            class_weight=self._weights(logits.dtype))


@MODELS.register_module()
class ClassBalancedLoss(_ClassWeightedLoss):
    """Softmax cross-entropy weighted by inverse class frequency.

    ``loss = w_y * CE(z, y)`` with ``w_c = (1/n_c) / sum_k (1/n_k) * C``
    (weights proportional to the inverse training frequency, normalised to
    sum to C). "Class Balanced" in Tables 1-2 of the paper. Soft (N, C)
    targets (Mixup/CutMix) are supported as ``-sum_c t_c w_c log p_c``.

    Args:
        num_classes: Number of classes C.
        class_counts: Per-class training counts, or None to receive them
            from :class:`mmghm.engine.hooks.ClassCountsHook` before training.
            A class with zero examples counts as one.
        reduction, loss_weight, ignore_index, loss_name: See
            :class:`BaseClsLoss`.
    """

    default_loss_name = 'loss_cb'

    def __init__(self,
                 num_classes: int,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            num_classes, class_counts, reduction=reduction,
            loss_weight=loss_weight, ignore_index=ignore_index,
            loss_name=loss_name)

    def _weights_from_counts(self, counts: Tensor) -> Tensor:
        return inverse_frequency_weights(counts)


@MODELS.register_module()
class EffectiveNumberLoss(_ClassWeightedLoss):
    """Class-balanced loss based on the effective number of samples.

    Cui et al., CVPR 2019. With ``w_c = (1 - beta) / (1 - beta^{n_c})``
    normalised to sum to C and ``p`` the model's probabilities:

    - ``'softmax'`` (Eq. 7): ``w_y * CE(z, y)``.
    - ``'sigmoid'`` (Eq. 8): ``w_y * sum_c BCE(z_c, [c = y])``.
    - ``'focal'`` (Eq. 9): ``w_y * sum_c (1 - p^t_c)^gamma BCE(z_c, [c = y])``
      with ``p^t_c = sigmoid(z_c)`` for the label and ``1 - sigmoid(z_c)``
      otherwise (no alpha: the class weight replaces it).

    The sigmoid and focal forms sum over the C binary terms and average over
    examples, which is the normalisation of the released code (divide by the
    number of positive labels). Cui et al. also initialise the last layer's
    bias to ``-log((1 - pi) / pi)``, ``pi = 0.1``, for these two forms; set
    it in the head's ``init_cfg``: ``dict(type='Normal', layer='Linear',
    std=0.01, bias=-2.1972)``.

    Hyper-parameters: ``beta = 0.9999`` (the paper's choice for long-tailed
    CIFAR; Cui et al. tune it in {0.9, 0.99, 0.999, 0.9999} per data set),
    focal ``gamma = 1.0`` (the released CIFAR script's default; their
    Table 2 picks gamma in {0.5, 1.0, 2.0} per data set).

    Args:
        num_classes: Number of classes C.
        class_counts: Per-class training counts, or None to receive them from
            :class:`mmghm.engine.hooks.ClassCountsHook`. A class with zero
            examples counts as one.
        beta: Effective-number hyper-parameter in [0, 1).
        loss_type: ``'softmax'``, ``'sigmoid'`` or ``'focal'``.
        gamma: Focusing parameter of the ``'focal'`` form, >= 0.
        reduction, loss_weight, ignore_index, loss_name: See
            :class:`BaseClsLoss`.

    Soft (N, C) targets are supported by the softmax form only.
    """

    default_loss_name = 'loss_effective_number'

    def __init__(self,
                 num_classes: int,
                 class_counts: Optional[CountsLike] = None,
                 beta: float = 0.9999,
                 loss_type: str = 'softmax',
                 gamma: float = 1.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        beta = check_number('beta', beta, low=0.0, high=1.0, high_open=True)
        if loss_type not in ('softmax', 'sigmoid', 'focal'):
            raise ValueError("loss_type must be 'softmax', 'sigmoid' or "
                             f"'focal', but got {loss_type!r}.")
        self.beta = beta
        self.loss_type = loss_type
        self.gamma = check_number('gamma', gamma, low=0.0)
        super().__init__(
            num_classes, class_counts, reduction=reduction,
            loss_weight=loss_weight, ignore_index=ignore_index,
            loss_name=loss_name)
        self.supports_soft_target = loss_type == 'softmax'

    def _weights_from_counts(self, counts: Tensor) -> Tensor:
        return effective_number_weights(counts, self.beta)

    def _per_example_loss(self, logits, label, valid, weight):
        if self.loss_type == 'softmax':
            return super()._per_example_loss(logits, label, valid, weight)
        w = self._weights(logits.dtype)
        # signed_c = z_c for the label, -z_c otherwise, so that
        # BCE_c = softplus(-signed_c) and 1 - p^t_c = sigmoid(-signed_c).
        signed = logits.neg().scatter_(1, label.unsqueeze(1),
                                       logits.gather(1, label.unsqueeze(1)))
        bce = F.softplus(signed.neg())
        if self.loss_type == 'focal' and self.gamma > 0:
            # (1 - p^t)^gamma = exp(-gamma * softplus(signed)), stable.
            bce = bce * torch.exp(F.softplus(signed).mul_(-self.gamma))
        return bce.sum(dim=1) * w[label]

    def extra_repr(self) -> str:
        return (f'beta={self.beta}, loss_type={self.loss_type!r}, '
                f'gamma={self.gamma}, ' + super().extra_repr())
