"""Helpers shared by mmghm's losses: argument checks and class statistics.

Losses that depend on per-class training counts (class-balanced, effective
number, equalization, LDAM, balanced softmax, ...) inherit
:class:`ClassCountsMixin`. The counts either come from the ``class_counts``
argument or are pushed in before training by
:class:`mmghm.engine.hooks.ClassCountsHook`, which calls
:meth:`ClassCountsMixin.set_class_counts` on every module that has it. The
counts live in a buffer, so they are saved in checkpoints.
"""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

CountsLike = Union[Sequence[int], Tensor]


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or \
            value < minimum:
        raise ValueError(
            f'{name} must be an int >= {minimum}, but got {value!r}.')
    return value


def check_non_negative(name: str, value) -> float:
    """Return ``float(value)`` if it is a finite number >= 0, else raise."""
    try:
        fval = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a number >= 0, '
                         f'but got {value!r}.') from None
    if isinstance(value, bool) or not (fval >= 0) or fval == float('inf'):
        raise ValueError(
            f'{name} must be a finite number >= 0, but got {value!r}.')
    return fval


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is 'none', 'mean' or 'sum', else raise."""
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError("reduction must be one of 'none', 'mean', 'sum', "
                         f'but got {reduction!r}.')
    return reduction


def to_class_counts(counts: CountsLike,
                    num_classes: Optional[int] = None) -> Tensor:
    """Validate per-class training counts and return them as float64.

    Args:
        counts: One non-negative count per class.
        num_classes: If given, the number of counts must equal it.

    Returns:
        Tensor: shape (C,), dtype float64, on the CPU.
    """
    t = torch.as_tensor(counts).detach().to('cpu', torch.float64)
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError('class_counts must be a non-empty 1-D sequence, '
                         f'but got shape {tuple(t.shape)}.')
    if num_classes is not None and t.numel() != num_classes:
        raise ValueError(f'class_counts has {t.numel()} entries but '
                         f'num_classes is {num_classes}.')
    if not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError('class_counts must be finite and >= 0, but got '
                         f'{t.tolist()}.')
    return t


class ClassCountsMixin:
    """Per-class training counts for a loss module (an ``nn.Module``).

    Subclasses call :meth:`_init_class_counts` in ``__init__`` and implement
    :meth:`_on_class_counts` to recompute whatever they derive from the
    counts (weights, margins). Until counts are known, :attr:`has_counts` is
    False and the loss raises a clear error when it needs them.
    """

    def _init_class_counts(self, num_classes: int,
                           class_counts: Optional[CountsLike]) -> None:
        self.num_classes = num_classes
        self.register_buffer('class_counts',
                             torch.zeros(num_classes, dtype=torch.float32))
        self.register_buffer('_counts_set',
                             torch.zeros((), dtype=torch.bool))
        if class_counts is not None:
            self.set_class_counts(class_counts)

    @property
    def has_counts(self) -> bool:
        return bool(self._counts_set)

    def set_class_counts(self, counts: CountsLike) -> None:
        """Set the per-class training counts (e.g. from the train set)."""
        t = to_class_counts(counts, self.num_classes)
        self.class_counts.copy_(t.to(self.class_counts))
        self._counts_set.fill_(True)
        self._on_class_counts(t)

    def _on_class_counts(self, counts: Tensor) -> None:
        """Recompute derived quantities from float64 counts (override)."""

    def _require_counts(self) -> None:
        if not self.has_counts:
            raise RuntimeError(
                f'{type(self).__name__} needs the per-class training counts: '
                'pass class_counts=[...] or add '
                "dict(type='mmghm.ClassCountsHook') to custom_hooks.")

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if bool(self._counts_set):
            self._on_class_counts(self.class_counts.to(torch.float64))


def check_cls_inputs(cls_score: Tensor,
                     label: Tensor,
                     num_classes: Optional[int],
                     ignore_index: Optional[int] = None) -> None:
    """Check logits and hard labels of a classification loss.

    Accepts the call sites of MMPretrain's ``ClsHead`` (``(N, C)`` logits,
    ``(N,)`` labels), MMDetection's bbox heads (the same) and
    MMSegmentation's decode heads (``(N, C, d1, ...)`` logits, ``(N, d1,
    ...)`` labels). Label values are checked with one host sync, before any
    state of the loss changes.

    Args:
        cls_score: Logits, ``(N, C)`` or ``(N, C, d1, ...)``.
        label: Integer class indices, ``(N,)`` or ``(N, d1, ...)``.
        num_classes: Expected C; None skips that check.
        ignore_index: A label value that is allowed outside [0, C).

    Raises:
        ValueError: Naming what was wrong: not a tensor, too few dims, a
            class count other than ``num_classes``, soft ``(N, C)`` targets
            (from Mixup/CutMix), non-integer labels, a label shape that does
            not match, or label values outside [0, C) that are not
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
    if label.numel() == 0:
        return
    # One reduction and one host sync in the common case; the slow search
    # for the offending values runs only on the error path.
    checked = label if ignore_index is None else label.masked_fill(
        label == ignore_index, 0)
    low, high = torch.aminmax(checked)
    if int(low) < 0 or int(high) >= C:
        bad = (label < 0) | (label >= C)
        if ignore_index is not None:
            bad &= label != ignore_index
        values = torch.unique(label[bad])[:10].tolist()
        allowed = f'[0, {C})' if ignore_index is None else \
            f'[0, {C}) or ignore_index={ignore_index}'
        raise ValueError(f'label values {values} are outside {allowed}.')
