"""Seesaw loss, vectorised and correct under distributed training.

Wang et al., "Seesaw Loss for Long-Tailed Instance Segmentation", CVPR 2021,
Eq. 2-6: for an example of class i, every other logit j is shifted by
``log S_ij``:

    S_ij = M_ij * C_ij,
    M_ij = (N_j / N_i)^p if N_j < N_i else 1     (mitigation, Eq. 4)
    C_ij = (sigma_j / sigma_i)^q if sigma_j > sigma_i else 1
                                                  (compensation, Eq. 5)

with ``N`` the cumulative number of training examples of each class seen so
far and ``sigma`` the softmax of the (detached) logits.

MMPretrain's ``SeesawLoss`` builds the C x C ratio matrix at every forward
and counts labels in a Python loop with ``.item()`` (41-88x slower than
cross-entropy at 1,000-8,142 classes on a CPU), and each DDP rank counts only
its own shard, so ranks disagree on ``N``. Here ``log S`` is computed only
for the rows that are used, with B x C work:
``log M_ij = p * min(0, log N_j - log N_i)`` needs only the label's
``log N_i``, and ``log C_ij = q * max(0, log sigma_j - log max(sigma_i,
eps))``. The per-batch label counts are all-reduced over ranks before they
are added to ``cum_samples``, so every rank holds the global counts.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine import dist
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_bool, check_int, check_number
from .base import BaseClsLoss
from .utils import keep_for_backward

__all__ = ['DistSeesawLoss', 'seesaw_log_factors']


@torch.no_grad()
def seesaw_log_factors(logits: Tensor, label: Tensor, cum_samples: Tensor,
                       p: float, q: float, eps: float) -> Tensor:
    """``log S_ij`` (M, C) for each example's row i = y; 0 at j = y.

    Args:
        logits: (M, C) logits (used detached).
        label: (M,) int64 labels.
        cum_samples: (C,) cumulative per-class counts.
        p: Mitigation exponent, >= 0.
        q: Compensation exponent, >= 0.
        eps: Lower bound of ``sigma_i`` in the compensation ratio.

    Returns:
        Tensor: (M, C) additive logit offsets, constant for autograd.
    """
    idx = label.unsqueeze(1)
    out = logits.new_zeros(logits.shape)
    if p > 0:
        # Pinned: under torch.compile the backward must not recompute it
        # from cum_samples, which the training forward has just added to.
        log_n = keep_for_backward(
            cum_samples.to(logits.dtype).clamp(min=1).log())
        out = (log_n.unsqueeze(0) - log_n[label].unsqueeze(1)).clamp_(max=0)
        out.mul_(p)
    if q > 0:
        log_sigma = F.log_softmax(logits.detach(), dim=1)
        self_log = log_sigma.gather(1, idx).clamp_(min=math.log(eps))
        log_sigma.sub_(self_log).clamp_(min=0).mul_(q)
        out.add_(log_sigma)
    # The label's own logit is not shifted.
    return out.scatter_(1, idx, 0.0)


@MODELS.register_module()
class DistSeesawLoss(BaseClsLoss):
    """Seesaw loss (Wang et al., CVPR 2021), vectorised and DDP-correct.

    Same values and gradients as MMPretrain's ``SeesawLoss`` on a single
    process (tested), with ``p = 0.8``, ``q = 2.0``, ``eps = 1e-2`` as
    published. Differences, all deliberate:

    - B x C work per forward, no C x C matrix and no Python loop.
    - The batch's label counts are summed over all ranks
      (``mmengine.dist.all_reduce``, a no-op without a process group), so
      ``cum_samples`` is the global count on every rank. This is a
      collective: every rank must run the training forward the same number
      of times (as DDP requires anyway). Set ``sync_counts=False`` for the
      per-rank counts of the original.
    - Counts accumulate only in training mode with gradients enabled (a
      validation forward changes no state); ignored labels are not counted.
    - ``cum_samples`` is float64, so large counts (segmentation pixels) stay
      exact; it loads from MMPretrain ``SeesawLoss`` checkpoints unchanged.

    Args:
        num_classes: Number of classes C.
        p: Mitigation exponent (paper: 0.8), >= 0; 0 disables it.
        q: Compensation exponent (paper: 2.0), >= 0; 0 disables it.
        eps: Lower bound of the label's probability in the compensation
            ratio (MMPretrain/MMDetection: 1e-2), > 0.
        sync_counts: All-reduce the label counts over ranks.
        reduction, loss_weight, ignore_index, loss_name: See
            :class:`BaseClsLoss`.
    """

    default_loss_name = 'loss_seesaw'
    keep_dtype_buffers = {'cum_samples': torch.float64}

    def __init__(self,
                 num_classes: int,
                 p: float = 0.8,
                 q: float = 2.0,
                 eps: float = 1e-2,
                 sync_counts: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            reduction=reduction, loss_weight=loss_weight,
            ignore_index=ignore_index, loss_name=loss_name)
        self.num_classes = check_int('num_classes', num_classes, 2)
        self.p = check_number('p', p, low=0.0)
        self.q = check_number('q', q, low=0.0)
        self.eps = check_number('eps', eps, low=0.0, high=1.0, low_open=True)
        self.sync_counts = check_bool('sync_counts', sync_counts)
        self.register_buffer('cum_samples',
                             torch.zeros(num_classes, dtype=torch.float64))

    @torch.no_grad()
    def _count(self, label: Tensor, valid: Optional[Tensor]) -> None:
        # index_add_ into a fixed-size vector: no host sync (bincount
        # reads the maximum back to size its output).
        ones = self.cum_samples.new_ones(()).expand(label.shape)
        counts = torch.zeros_like(self.cum_samples).index_add_(
            0, label, ones if valid is None else valid.to(ones.dtype))
        if self.sync_counts:
            dist.all_reduce(counts, op='sum')
        self.cum_samples.add_(counts)

    def _per_example_loss(self, logits, label, valid, weight):
        if self.training and torch.is_grad_enabled():
            # Counted before the loss, as in the original: the current
            # batch is part of N.
            self._count(label, valid)
        offsets = seesaw_log_factors(logits, label, self.cum_samples,
                                     self.p, self.q, self.eps)
        return F.cross_entropy(logits + offsets, label, reduction='none')

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, p={self.p}, q={self.q}, '
                f'eps={self.eps}, sync_counts={self.sync_counts}, ' +
                super().extra_repr())
