"""Helpers shared by mmghm's losses: argument checks and class statistics.

Losses that depend on per-class training counts (class-balanced, effective
number, equalization, LDAM, balanced softmax, ...) inherit
:class:`ClassCountsMixin`. The counts either come from the ``class_counts``
argument or are pushed in before training by
:class:`mmghm.engine.hooks.ClassCountsHook`, which calls
:meth:`ClassCountsMixin.set_class_counts` on every module that has it. The
counts live in a buffer, so they are saved in checkpoints.

Label values and the host: a per-batch check that every label lies in
``[0, C)`` needs the values on the host. :func:`check_cls_inputs` does it
only for CPU tensors outside ``torch.compile``, where it costs nothing but a
reduction. On CUDA (and other devices) the forward never waits for the
device: the training labels are checked once, against the model's classes,
by ``ClassCountsHook`` before training, and a stray label in a batch still
stops training through the device-side bounds checks of the indexing
kernels (``gather``, ``cross_entropy``), as with PyTorch's own losses.
"""
import math
import numbers
from typing import Optional

import torch
from torch import Tensor

from mmghm.utils.class_counts import CountsLike, to_class_counts

__all__ = [
    'check_number', 'check_int', 'check_positive_int', 'check_non_negative',
    'check_bool', 'check_reduction', 'check_cls_inputs', 'check_label_range',
    'ClassCountsMixin', 'CountsLike', 'to_class_counts', 'keep_for_backward'
]


def _interval(low, high, low_open, high_open) -> str:
    if low is None and high is None:
        return ''
    if high is None:
        return f' {">" if low_open else ">="} {low:g}'
    if low is None:
        return f' {"<" if high_open else "<="} {high:g}'
    return (f' in {"(" if low_open else "["}{low:g}, '
            f'{high:g}{")" if high_open else "]"}')


def check_number(name: str,
                 value,
                 low: Optional[float] = None,
                 high: Optional[float] = None,
                 low_open: bool = False,
                 high_open: bool = False) -> float:
    """Return ``float(value)`` if it is a finite real number in range.

    Accepts Python and NumPy ints and floats, not bools, strings, tensors,
    NaN or infinities.

    Args:
        name: The argument's name, for the error message.
        value: The value given.
        low, high: Bounds (None: unbounded).
        low_open, high_open: Exclude the bound itself.

    Raises:
        ValueError: Naming the argument, what was given and what is allowed.
    """
    allowed = 'a finite number' + _interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f'{name} must be {allowed}, but got {value!r} '
                         f'({type(value).__name__}).')
    fval = float(value)
    if (not math.isfinite(fval)
            or (low is not None and (fval <= low if low_open else fval < low))
            or (high is not None
                and (fval >= high if high_open else fval > high))):
        raise ValueError(f'{name} must be {allowed}, but got {value!r}.')
    return fval


def check_int(name: str, value, minimum: Optional[int] = None) -> int:
    """Return ``int(value)`` if it is an integer (not a bool) >= minimum."""
    allowed = 'an int' + ('' if minimum is None else f' >= {minimum}')
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or (minimum is not None and value < minimum):
        raise ValueError(f'{name} must be {allowed}, but got {value!r} '
                         f'({type(value).__name__}).')
    return int(value)


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise."""
    return check_int(name, value, minimum)


def check_non_negative(name: str, value) -> float:
    """Return ``float(value)`` if it is a finite number >= 0, else raise."""
    return check_number(name, value, low=0.0)


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is a bool, else raise."""
    if not isinstance(value, bool):
        raise ValueError(f'{name} must be a bool, but got {value!r}.')
    return value


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is 'none', 'mean' or 'sum', else raise."""
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError("reduction must be one of 'none', 'mean', 'sum', "
                         f'but got {reduction!r}.')
    return reduction


class ClassCountsMixin:
    """Per-class training counts for a loss module (an ``nn.Module``).

    Subclasses call :meth:`_init_class_counts` in ``__init__``, implement
    :meth:`_on_class_counts` to recompute whatever they derive from the
    counts (weights, margins) and call :meth:`_require_counts` where they
    need them. Until counts are known, :attr:`has_counts` is False and
    :meth:`_require_counts` raises a clear error. Whether they are known is
    also kept on the host, so the forward never reads the ``_counts_set``
    buffer back from the device.
    """

    def _init_class_counts(self, num_classes: int,
                           class_counts: Optional[CountsLike]) -> None:
        self.num_classes = num_classes
        self.register_buffer('class_counts',
                             torch.zeros(num_classes, dtype=torch.float32))
        self.register_buffer('_counts_set',
                             torch.zeros((), dtype=torch.bool))
        self._counts_known = False
        if class_counts is not None:
            self.set_class_counts(class_counts)

    @property
    def has_counts(self) -> bool:
        """Whether the class counts are known."""
        return self._counts_known

    def set_class_counts(self, counts: CountsLike) -> None:
        """Set the per-class training counts (e.g. from the train set)."""
        t = to_class_counts(counts, self.num_classes)
        self.class_counts.copy_(t.to(self.class_counts))
        self._counts_set.fill_(True)
        self._on_class_counts(t)
        self._counts_known = True

    def _on_class_counts(self, counts: Tensor) -> None:
        """Recompute derived quantities from float64 counts (override)."""

    def _require_counts(self) -> None:
        """Raise unless the class counts are known (a host-side check)."""
        if not self._counts_known:
            raise RuntimeError(
                f'{type(self).__name__} needs the per-class training counts: '
                'pass class_counts=[...] or add '
                "dict(type='mmghm.ClassCountsHook') to custom_hooks.")

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._counts_known = bool(self._counts_set)
        if self._counts_known:
            self._on_class_counts(self.class_counts.to(torch.float64))


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
