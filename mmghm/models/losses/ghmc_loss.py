"""GHM-C, the gradient harmonizing classification loss (sigmoid form).

Li, Liu and Wang, "Gradient Harmonized Single-stage Detector", AAAI 2019,
Sec. 3-4: for every binary (example, class) term with logit ``z`` and target
``t``, the gradient norm is ``g = |sigmoid(z) - t|``. ``[0, 1]`` is cut into
``bins`` unit regions; the gradient density of a region is the number of
terms that fall in it, smoothed across iterations by an exponential moving
average (EMA, momentum). Each term gets the weight ``beta = tot / (GD * n)``
with ``tot`` the number of valid terms, ``GD`` the (EMA) count of its region
and ``n`` the number of regions that are non-empty in this batch, and the
loss is ``sum(beta * BCE) / tot`` (their Eq. 8-9 with the unit-region
approximation of Sec. 4; the same normalisation as MMDetection's GHMC).

MMDetection's version loops over the bins in Python with ``.item()``; here
binning is one multiply-and-truncate and counting one ``scatter_add_``, and
the EMA lives in a buffer (saved in checkpoints).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_int, check_number
from .base import BaseClsLoss
from .utils import keep_for_backward

__all__ = ['GHMCLoss']


class _WeightedOneHotBCE(torch.autograd.Function):
    """Per-example ``sum_c beta_c * BCE(z_c, [c = y])`` for constant beta.

    The gradient is ``beta * (sigmoid(z) - onehot) = beta * g * sign`` with
    ``g`` the gradient norm already computed for the binning (sign -1 at the
    label), so the backward is one multiplication instead of autograd's
    softplus and product backwards.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, label: Tensor, beta: Tensor,
                g: Tensor) -> Tensor:
        idx = label.unsqueeze(1)
        # BCE(z, onehot) = softplus(z) - z * onehot, weighted and summed.
        loss = torch.bmm(beta.unsqueeze(1),
                         F.softplus(logits).unsqueeze(2)).view(-1)
        loss -= (beta.gather(1, idx) * logits.gather(1, idx)).squeeze(1)
        grad = g.mul_(beta)  # g is a temporary of the caller: reuse it
        grad.scatter_(1, idx, grad.gather(1, idx).neg_())
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    def backward(ctx, grad_loss: Tensor):
        grad, = ctx.saved_tensors
        return grad * grad_loss.unsqueeze(1), None, None, None


@MODELS.register_module()
class GHMCLoss(BaseClsLoss):
    """Original sigmoid GHM-C of Li et al. (AAAI 2019) for C-way labels.

    A label ``y`` becomes C binary targets (one-hot). The per-example loss is
    ``(1 / C) * sum_c beta_c * BCE(z_c, [c = y])``, so that the mean over the
    examples equals GHM-C's ``sum(beta * BCE) / tot`` with ``tot = M * C``.

    The EMA ``acc_sum`` of the per-region counts is updated only in training
    mode with gradients enabled (a validation forward changes no state);
    as in the original, a region is updated only when this batch has terms
    in it. Ignored labels and examples of ``weight`` 0 are neither counted
    nor part of ``tot`` (MMDetection's ``label_weight > 0`` validity). Under
    DDP each rank keeps its own EMA, as in the original implementation.

    Args:
        bins: Number of unit regions (paper: 30).
        momentum: EMA momentum of the region counts (paper: 0.75); 0 uses
            the counts of the current batch only.
        num_classes: Optional C, checked against the logits.
        reduction, loss_weight, ignore_index, loss_name: See
            :class:`BaseClsLoss`.
    """

    default_loss_name = 'loss_ghmc'
    keep_dtype_buffers = {'acc_sum': torch.float32}

    def __init__(self,
                 bins: int = 30,
                 momentum: float = 0.75,
                 num_classes: Optional[int] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            reduction=reduction, loss_weight=loss_weight,
            ignore_index=ignore_index, loss_name=loss_name)
        self.bins = check_int('bins', bins, 1)
        self.momentum = check_number('momentum', momentum, low=0.0,
                                     high=1.0, high_open=True)
        if num_classes is not None:
            check_int('num_classes', num_classes, 1)
        self.num_classes = num_classes
        self.register_buffer('acc_sum', torch.zeros(bins))

    @torch.no_grad()
    def _term_weights(self, logits: Tensor, label: Tensor,
                      rows: Optional[Tensor],
                      update: bool) -> Tuple[Tensor, Tensor]:
        """``beta / C`` and ``g`` for every (example, class) term (M, C)."""
        C = logits.shape[1]
        # g = |sigmoid(z) - t|: sigmoid(z) for negatives, 1 - it for y.
        g = torch.sigmoid(logits)
        idx = label.unsqueeze(1)
        g.scatter_(1, idx, 1.0 - g.gather(1, idx))
        # Region i is [i / bins, (i + 1) / bins); g = 1 goes to the last.
        # floor(g * bins) in the input precision: a g within one rounding
        # step of an edge may land on either side of it, as with
        # MMDetection's float32 edges (a float64 product would be exact
        # but costs two large temporaries: ~15x the time on a CPU).
        bin_idx = (g * self.bins).long().clamp_(max=self.bins - 1)
        # Counts by scatter_add_ into a fixed-size vector: no host sync
        # (torch.bincount reads the maximum back to size its output).
        if rows is None:
            tot = float(max(g.numel(), 1))
        else:
            # Terms of left-out examples go to a spare slot, dropped below.
            bin_idx = bin_idx.masked_fill(~rows.unsqueeze(1), self.bins)
            tot = rows.sum().to(g.dtype) * C
        flat = bin_idx.view(-1)
        counts = g.new_zeros(self.bins + 1, dtype=torch.float32).scatter_add_(
            0, flat, g.new_ones((), dtype=torch.float32).expand_as(flat))
        counts = counts[:self.bins]
        nonempty = counts > 0
        if self.momentum > 0:
            acc = torch.where(
                nonempty,
                self.momentum * self.acc_sum + (1 - self.momentum) * counts,
                self.acc_sum)
            if update:
                self.acc_sum.copy_(acc)
            density = acc
        else:
            density = counts
        n = nonempty.sum().clamp(min=1)
        # beta / C: the per-example loss is the mean over the C terms.
        per_bin = torch.where(
            nonempty,
            tot / density.clamp(min=1e-12) / (n * C),
            torch.zeros_like(density)).to(logits.dtype)
        if rows is not None:  # the spare slot has weight 0
            per_bin = torch.cat([per_bin, per_bin.new_zeros(1)])
        # Pinned: under torch.compile the backward must not recompute the
        # weights from acc_sum, which this forward rewrites.
        return keep_for_backward(per_bin).take(bin_idx), g

    def _per_example_loss(self, logits, label, valid, weight):
        rows = valid
        if weight is not None:
            rows = weight != 0 if rows is None else rows & (weight != 0)
        # Decided here: _term_weights runs under no_grad.
        update = self.training and torch.is_grad_enabled()
        beta, g = self._term_weights(logits, label, rows, update)
        return _WeightedOneHotBCE.apply(logits, label, beta, g)

    def extra_repr(self) -> str:
        return (f'bins={self.bins}, momentum={self.momentum}, ' +
                super().extra_repr())
