"""Helpers shared by mmghm's losses: input checks and compile pins.

General argument checks (:func:`~mmghm.utils.checks.check_number`, ...)
live in :mod:`mmghm.utils.checks`, the per-class counts of count-based
losses (:class:`~mmghm.utils.class_counts.ClassCountsMixin`) in
:mod:`mmghm.utils.class_counts`.

Label values and the host: a per-batch check that every label lies in
``[0, C)`` needs the values on the host. :func:`check_cls_inputs` does it
only for CPU tensors outside ``torch.compile``, where it costs nothing but a
reduction. On CUDA (and other devices) the forward never waits for the
device: the training labels are checked once, against the model's classes,
by ``ClassCountsHook`` before training, and a stray label in a batch still
stops training through the device-side bounds checks of the indexing
kernels (``gather``, ``cross_entropy``), as with PyTorch's own losses.
"""
from typing import Optional

import torch
from torch import Tensor

__all__ = [
    'check_reduction', 'check_cls_inputs', 'check_label_range',
    'keep_for_backward'
]


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is 'none', 'mean' or 'sum', else raise."""
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError("reduction must be one of 'none', 'mean', 'sum', "
                         f'but got {reduction!r}.')
    return reduction


def _is_compiling() -> bool:
    is_compiling = getattr(torch.compiler, 'is_compiling', None)
    return is_compiling is not None and is_compiling()


if hasattr(torch.library, 'custom_op'):

    @torch.library.custom_op('mmghm::keep_for_backward', mutates_args=())
    def _snapshot(x: Tensor) -> Tensor:
        return x.clone()

    @_snapshot.register_fake
    def _snapshot_fake(x: Tensor) -> Tensor:
        return torch.empty_like(x)

else:  # pragma: no cover - torch < 2.4 (no custom_op, no such partitioner)
    _snapshot = None


def keep_for_backward(x: Tensor) -> Tensor:
    """``x`` (computed from a loss's state, without gradient) for use in
    the differentiable part of the forward, pinned under ``torch.compile``.

    A stateful loss reads its buffers (margins, weights from histograms)
    and mutates them in the same forward. Eager autograd saves what the
    backward needs, but under ``torch.compile`` AOTAutograd's min-cut
    partitioner may instead *recompute* a cheap value in the backward from
    its sources; a buffer is an input, "free to save", so the recomputation
    reads the buffer after the forward (or a later forward, or an update)
    has rewritten it, and the gradient is silently wrong while the loss
    value is right (GHM-CWAP's margins before the first update, C >= 8;
    proposed upstream fix: pytorch/pytorch#197039). Outside of
    compilation this returns ``x`` itself; while compiling it returns a
    copy made by an opaque custom op, which the partitioner never
    recomputes, so the backward sees the value of this forward. The copy
    is of ``x`` only (a (C,) margin vector, a (B,) weight), not of a
    (B, C) tensor.
    """
    if _snapshot is None or not _is_compiling():
        return x
    return _snapshot(x.detach())


def _label_check_on_host(label: Tensor) -> bool:
    """Whether reading label values on the host is free: CPU tensors,
    outside torch.compile (where it would break the graph)."""
    if label.device.type != 'cpu':
        return False
    return not _is_compiling()


def check_label_range(label: Tensor,
                      num_classes: int,
                      ignore_index: Optional[int] = None) -> None:
    """Raise a clear error if a label is outside ``[0, C)`` (and not
    ``ignore_index``). Reads the values on the host: one reduction, and the
    slow search for the offending values only on the error path."""
    if label.numel() == 0:
        return
    checked = label if ignore_index is None else label.masked_fill(
        label == ignore_index, 0)
    low, high = torch.aminmax(checked)
    if int(low) < 0 or int(high) >= num_classes:
        bad = (label < 0) | (label >= num_classes)
        if ignore_index is not None:
            bad &= label != ignore_index
        values = torch.unique(label[bad])[:10].tolist()
        allowed = f'[0, {num_classes})' if ignore_index is None else \
            f'[0, {num_classes}) or ignore_index={ignore_index}'
        raise ValueError(f'label values {values} are outside {allowed}.')


def check_cls_inputs(cls_score: Tensor,
                     label: Tensor,
                     num_classes: Optional[int],
                     ignore_index: Optional[int] = None) -> None:
    """Check logits and hard labels of a classification loss.

    Accepts the call sites of MMPretrain's ``ClsHead`` (``(N, C)`` logits,
    ``(N,)`` labels), MMDetection's bbox heads (the same) and
    MMSegmentation's decode heads (``(N, C, d1, ...)`` logits, ``(N, d1,
    ...)`` labels). Label values are checked (:func:`check_label_range`)
    only where that needs no device sync: on CPU outside ``torch.compile``
    (see the module's docstring).

    Args:
        cls_score: Logits, ``(N, C)`` or ``(N, C, d1, ...)``.
        label: Integer class indices, ``(N,)`` or ``(N, d1, ...)``.
        num_classes: Expected C; None skips that check.
        ignore_index: A label value that is allowed outside [0, C).

    Raises:
        ValueError: Naming what was wrong: not a tensor, too few dims, a
            class count other than ``num_classes``, soft ``(N, C)`` targets
            (from Mixup/CutMix), non-integer labels, a label shape that does
            not match, or (CPU) label values outside [0, C) that are not
            ``ignore_index``.
    """
    if not torch.is_tensor(cls_score) or cls_score.dim() < 2 or \
            not cls_score.dtype.is_floating_point:
        raise ValueError(
            'cls_score must be a floating-point (N, C) or (N, C, ...) '
            f'tensor, got {type(cls_score).__name__} of shape '
            f'{tuple(getattr(cls_score, "shape", ()))} and dtype '
            f'{getattr(cls_score, "dtype", None)}.')
    C = cls_score.shape[1]
    if num_classes is not None and C != num_classes:
        raise ValueError(f'cls_score has {C} classes (dim 1) but the loss '
                         f'was built with num_classes={num_classes}.')
    if not torch.is_tensor(label):
        raise ValueError('label must be a tensor of class indices, got '
                         f'{type(label).__name__}.')
    if label.dtype.is_floating_point or label.dtype.is_complex or \
            label.dtype == torch.bool:
        if label.shape == cls_score.shape:
            raise ValueError(
                'this loss needs hard integer labels, but got soft targets '
                f'of shape {tuple(label.shape)} (Mixup/CutMix batch '
                'augments or label smoothing make them). Remove '
                "train_cfg.augments or use CrossEntropyLoss(use_soft=True).")
        raise ValueError(
            f'label must be an integer tensor, got dtype {label.dtype}.')
    expected = (cls_score.shape[0], ) + tuple(cls_score.shape[2:])
    if tuple(label.shape) != expected:
        raise ValueError(
            f'label has shape {tuple(label.shape)}; for cls_score of shape '
            f'{tuple(cls_score.shape)} it must be {expected}.')
    if _label_check_on_host(label):
        check_label_range(label, C, ignore_index)
