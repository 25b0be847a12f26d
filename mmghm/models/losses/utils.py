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
