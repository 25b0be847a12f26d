"""Softmax equalization loss (EQL) for image classification.

Tan et al., "Equalization Loss for Long-Tailed Object Recognition", CVPR
2020, Sec. 5 ("Softmax equalization loss"), the form they use for image
classification (CIFAR-100-LT, ImageNet-LT):

    L = -log( exp(z_y) / sum_k w_k exp(z_k) ),
    w_k = 1 - beta * T_lambda(f_k) * (1 - y_k),

where ``f_k`` is the frequency of class k in the training set (its share of
the training images), ``T_lambda(f) = 1`` if ``f < lambda`` else 0, and
``beta`` is a Bernoulli random variable that is 1 with probability
``gamma``, drawn anew for every (example, class) pair (as the authors'
released softmax-EQL snippet does). So with probability ``gamma`` a rare
class other than the label is left out of the softmax denominator: its logit
receives no discouraging gradient from this example.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_int, check_number
from mmghm.utils.class_counts import ClassCountsMixin, CountsLike
from .base import BaseClsLoss

__all__ = ['EqualizationLoss']


@MODELS.register_module()
class EqualizationLoss(ClassCountsMixin, BaseClsLoss):
    """Softmax equalization loss (Tan et al., CVPR 2020, Sec. 5).

    Defaults ``lambda_ = 5e-3`` and ``gamma = 0.9`` are the CIFAR-LT
    setting of BagofTricks-LT (Zhang et al., AAAI 2021), a public
    re-implementation of softmax EQL that points to the EQL paper's softmax
    ablation for them (the paper's text was not available to check the
    exact numbers). ``lambda_`` is a frequency (share of training images):
    tune it per data set, e.g. so that the tail ratio :attr:`tail_ratio`
    (the share of classes with ``f < lambda``) matches the paper's choice.
    With ``gamma = 0`` the loss is cross-entropy, with ``gamma = 1`` rare
    classes are always dropped from the denominator.

    The drop is random (PyTorch's global generator, so ``torch.manual_seed``
    makes it reproducible) in training and evaluation alike: it is part of
    the loss's definition.

    Args:
        num_classes: Number of classes C.
        class_counts: Per-class training counts, or None to receive them from
            :class:`mmghm.engine.hooks.ClassCountsHook`. Classes with zero
            examples have frequency 0 (rare).
        lambda_: Frequency threshold of ``T_lambda``, in [0, 1].
        gamma: Probability that ``beta = 1`` (a rare negative is dropped),
            in [0, 1].
        reduction, loss_weight, ignore_index, loss_name: See
            :class:`BaseClsLoss`.
    """

    default_loss_name = 'loss_eql'

    def __init__(self,
                 num_classes: int,
                 class_counts: Optional[CountsLike] = None,
                 lambda_: float = 5e-3,
                 gamma: float = 0.9,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            reduction=reduction, loss_weight=loss_weight,
            ignore_index=ignore_index, loss_name=loss_name)
        check_int('num_classes', num_classes, 2)
        # lambda_ is a class frequency, gamma a probability.
        self.lambda_ = check_number('lambda_', lambda_, low=0.0, high=1.0)
        self.gamma = check_number('gamma', gamma, low=0.0, high=1.0)
        # T_lambda(f_k), derived from the counts.
        self.register_buffer(
            'rare', torch.zeros(num_classes, dtype=torch.bool),
            persistent=False)
        self.register_buffer(
            '_keep_bias', torch.zeros(num_classes), persistent=False)
        self._init_class_counts(num_classes, class_counts)

    def _on_class_counts(self, counts: Tensor) -> None:
        total = counts.sum()
        freq = counts / total if total > 0 else torch.zeros_like(counts)
        self.rare.copy_(freq < self.lambda_)
        self._keep_bias.copy_((~self.rare).float() * 2)

    @property
    def tail_ratio(self) -> float:
        """Share of classes with ``f < lambda`` (the paper's TR)."""
        self._require_counts()
        return float(self.rare.float().mean())

    def _per_example_loss(self, logits, label, valid, weight):
        self._require_counts()
        if self.gamma > 0:
            # beta = 1 where u < gamma; frequent classes and the label get
            # u >= 1 so they are never dropped (float ops: cheaper than
            # combining boolean masks on CPU).
            u = torch.rand(logits.shape, device=logits.device)
            u.add_(self._keep_bias.to(u.dtype))
            u.scatter_(1, label.unsqueeze(1), 2.0)
            logits = logits.masked_fill(u < self.gamma, float('-inf'))
        return F.cross_entropy(logits, label, reduction='none')

    def extra_repr(self) -> str:
        return (f'lambda_={self.lambda_}, gamma={self.gamma}, ' +
                super().extra_repr())
