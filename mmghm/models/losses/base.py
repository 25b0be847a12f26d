"""The interface shared by mmghm's baseline losses.

Every baseline is a thin :class:`BaseClsLoss` subclass that only defines the
per-example loss of its paper; this class does everything the host heads
expect around it, the same way for all of them:

- ``forward(cls_score, label, weight=None, avg_factor=None,
  reduction_override=None, ignore_index=None, **kwargs)``, the call of
  MMPretrain's ``ClsHead`` (which passes ``avg_factor=N``), MMDetection's
  softmax bbox heads and MMSegmentation's decode heads (``(N, C, H, W)``
  logits are flattened to one example per pixel, and ``ignore_index``).
- ``reduction`` ('mean', 'sum', 'none') and ``loss_weight``; the reduction is
  MMPretrain's :func:`weight_reduce_loss`. Ignored examples give 0 and, for
  'mean' without ``avg_factor``, are left out of the divisor (as PyTorch's
  ``F.cross_entropy(ignore_index=...)``).
- a ``loss_name`` property starting with ``'loss_'``.
- inputs checked up front by :func:`check_cls_inputs` (clear errors); half
  precision logits computed in float32.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.losses.utils import weight_reduce_loss
from torch import Tensor

from .utils import check_cls_inputs, check_reduction

__all__ = ['BaseClsLoss']


class BaseClsLoss(nn.Module):
    """Base of mmghm's baseline classification losses.

    Subclasses implement :meth:`_per_example_loss` and, if they accept soft
    ``(N, C)`` targets (Mixup/CutMix), set ``supports_soft_target = True``
    and implement :meth:`_soft_per_example_loss`.

    Args:
        reduction: 'mean', 'sum' or 'none'.
        loss_weight: Multiplier of the loss.
        ignore_index: Label value to ignore (e.g. 255 in segmentation), or
            None. The ``ignore_index`` argument of :meth:`forward` overrides
            it.
        loss_name: Name of the loss term; must start with ``'loss_'``
            (MMSegmentation's decode heads log losses under it). None uses
            the class default.
    """

    #: Name used when ``loss_name`` is not given.
    default_loss_name = 'loss_cls'
    #: Whether soft (N, C) targets are supported.
    supports_soft_target = False
    #: Buffers whose dtype survives ``.half()``/``.to(dtype)`` (counts in
    #: float16 lose precision and overflow past 65504).
    keep_dtype_buffers = {'class_counts': torch.float32}

    def __init__(self,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: Optional[str] = None) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        try:
            self.loss_weight = float(loss_weight)
        except (TypeError, ValueError):
            raise ValueError('loss_weight must be a number, but got '
                             f'{loss_weight!r}.') from None
        if ignore_index is not None and (isinstance(ignore_index, bool) or
                                         not isinstance(ignore_index, int)):
            raise ValueError('ignore_index must be an int or None, but got '
                             f'{ignore_index!r}.')
        self.ignore_index = ignore_index
        if loss_name is None:
            loss_name = self.default_loss_name
        if not (isinstance(loss_name, str) and loss_name.startswith('loss_')):
            raise ValueError("loss_name must be a str starting with 'loss_' "
                             f'(MMSegmentation logs it), got {loss_name!r}.')
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of the loss term (MMSegmentation's decode heads use it)."""
        return self._loss_name

    #: Number of classes the loss was built for (None: any).
    num_classes: Optional[int] = None

    # ------------------------------------------------------------------
    # to implement
    # ------------------------------------------------------------------
    def _per_example_loss(self, logits: Tensor, label: Tensor,
                          valid: Optional[Tensor],
                          weight: Optional[Tensor]) -> Tensor:
        """Loss of each example, before ``weight`` and reduction.

        Args:
            logits: (M, C) float32/float64 logits.
            label: (M,) int64 labels in [0, C) (ignored ones replaced by 0).
            valid: (M,) bool, False for ignored examples, or None when
                nothing is ignored. Losses with state must not count
                invalid examples.
            weight: (M,) per-example weights or None; applied by the base
                class afterwards (given for losses whose statistics skip
                examples of weight 0).

        Returns:
            Tensor: (M,) per-example losses (values at invalid examples are
            discarded).
        """
        raise NotImplementedError

    def _soft_per_example_loss(self, logits: Tensor,
                               target: Tensor) -> Tensor:
        """Per-example loss for soft (M, C) targets (if supported)."""
        raise NotImplementedError

    def _counts_ready(self) -> None:
        """Raise unless the class counts are known (ClassCountsMixin).

        Subclasses set ``_has_derived = True`` in ``_on_class_counts``; the
        host-side flag spares a device sync on the ``_counts_set`` buffer
        in every forward.
        """
        if not getattr(self, '_has_derived', False):
            self._require_counts()  # raises with the hint to the hook
            self._has_derived = True

    def _reduce(self, loss: Tensor, label: Tensor, valid: Optional[Tensor],
                weight: Optional[Tensor], reduction: str,
                avg_factor) -> Tensor:
        """Apply ``weight`` and reduce (MMPretrain's weight_reduce_loss)."""
        return weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def _is_soft(self, cls_score: Tensor, label: Tensor) -> bool:
        return (torch.is_tensor(label) and torch.is_tensor(cls_score)
                and label.dtype.is_floating_point and cls_score.dim() == 2
                and label.shape == cls_score.shape)

    def _check_weight(self, weight: Optional[Tensor], num: int,
                      dtype: torch.dtype) -> Optional[Tensor]:
        if weight is None:
            return None
        if not torch.is_tensor(weight) or weight.numel() != num:
            raise ValueError(
                f'weight must be a tensor with one value per example ({num}'
                f'), got {type(weight).__name__} of shape '
                f'{tuple(getattr(weight, "shape", ()))}.')
        return weight.reshape(-1).to(dtype)

    def _flatten(self, cls_score: Tensor,
                 label: Tensor) -> Tuple[Tensor, Tensor]:
        """(N, C, d1, ...) -> (N * d1 * ..., C) logits and flat labels."""
        C = cls_score.shape[1]
        if cls_score.dim() > 2:
            return cls_score.movedim(1, -1).reshape(-1, C), label.reshape(-1)
        return cls_score, label

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                ignore_index: Optional[int] = None,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            cls_score: Logits, (N, C) or (N, C, d1, ...).
            label: Integer labels, (N,) or (N, d1, ...); soft (N, C) targets
                only where the loss supports them.
            weight: Optional per-example weights (one per label).
            avg_factor: Divisor of the summed loss for 'mean' (default: the
                number of non-ignored examples). MMPretrain's ClsHead passes
                the batch size.
            reduction_override: 'none', 'mean' or 'sum'.
            ignore_index: Overrides the constructor's ``ignore_index``.
            **kwargs: Accepted and ignored (host heads pass extra keys).

        Returns:
            Tensor: the loss, a scalar unless the reduction is 'none' (then
            one value per example, in the shape of ``label``).
        """
        reduction = check_reduction(reduction_override or self.reduction)
        if ignore_index is None:
            ignore_index = self.ignore_index
        soft = self._is_soft(cls_score, label)
        if soft and not self.supports_soft_target:
            check_cls_inputs(cls_score, label, self.num_classes)  # raises
        if not soft:
            check_cls_inputs(cls_score, label, self.num_classes, ignore_index)
        elif self.num_classes is not None and \
                cls_score.shape[1] != self.num_classes:
            raise ValueError(
                f'cls_score has {cls_score.shape[1]} classes (dim 1) but the '
                f'loss was built with num_classes={self.num_classes}.')

        # Statistics and losses in float32 (float64 kept) under AMP.
        dtype = torch.float64 if cls_score.dtype == torch.float64 \
            else torch.float32
        with torch.autocast(cls_score.device.type, enabled=False):
            if soft:
                logits = cls_score.to(dtype)
                weight = self._check_weight(weight, logits.shape[0], dtype)
                loss = self._soft_per_example_loss(logits, label.to(dtype))
                label_flat, valid = None, None
            else:
                logits, label_flat = self._flatten(cls_score, label)
                logits = logits.to(dtype)
                label_flat = label_flat.long()
                weight = self._check_weight(weight, label_flat.numel(), dtype)
                if ignore_index is not None:
                    valid = label_flat != ignore_index
                    label_flat = torch.where(valid, label_flat, 0)
                else:
                    valid = None
                loss = self._per_example_loss(logits, label_flat, valid,
                                              weight)
                if valid is not None:
                    loss = torch.where(valid, loss, loss.new_zeros(()))
                    if avg_factor is None and reduction == 'mean':
                        avg_factor = valid.sum().clamp(min=1).to(dtype)
            if avg_factor is None and reduction == 'mean':
                # An empty batch gives 0 (with a graph), not NaN.
                avg_factor = max(loss.numel(), 1)
            loss = self._reduce(loss, label_flat, valid, weight, reduction,
                                avg_factor)
        if reduction == 'none' and not soft and cls_score.dim() > 2:
            loss = loss.view(label.shape)
        return self.loss_weight * loss

    def _apply(self, fn, *args, **kwargs):
        dtypes = {
            name: dtype
            for name, dtype in self.keep_dtype_buffers.items()
            if self._buffers.get(name) is not None
        }
        super()._apply(fn, *args, **kwargs)
        for name, dtype in dtypes.items():
            buf = self._buffers[name]
            if buf.dtype != dtype:
                self._buffers[name] = buf.to(dtype)
        return self

    def extra_repr(self) -> str:
        return (f'reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}, '
                f'loss_name={self.loss_name!r}')
