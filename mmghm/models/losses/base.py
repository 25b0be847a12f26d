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
- inputs checked up front by :func:`check_cls_inputs` (clear errors, and no
  device sync on CUDA); half precision logits computed in float32; state
  buffers keep their dtype under ``.half()``.
- a checkpoint whose state does not fit the loss (a buffer of another shape:
  another ``num_classes`` or number of bins) is refused with an error that
  names it, instead of MMEngine's ``strict=False`` warning that silently
  keeps the fresh state.
- the hooks a stateful loss needs (GHM-CWAP's ``AURAHook``, the epoch
  switch of LDAM-DRW and of a deferred start): a loss declares them with
  :meth:`BaseClsLoss._require_hook`, the hook :meth:`~BaseClsLoss.claim` s
  the loss in ``before_train``, and a loss that trains unclaimed logs one
  warning at its first training step naming the ``custom_hooks`` entry to
  add (a host-side check: no device read, and under ``torch.compile`` it
  runs once, while the graph is traced).
"""
import itertools
from contextlib import nullcontext
from typing import Dict, FrozenSet, Optional, Set, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmpretrain.models.losses.utils import weight_reduce_loss
from torch import Tensor

from mmghm.utils.checks import check_int, check_number
from .utils import check_cls_inputs, check_reduction

__all__ = ['BaseClsLoss', 'module_graph_state']

#: Keys of the losses that warned about a missing hook (warn once each).
_WARNED: Set[str] = set()
_KEYS = itertools.count()


@torch.compiler.assume_constant_result
def _warn_missing_hook_once(key: str, message: str) -> bool:
    """Log ``message`` the first time ``key`` asks. Under ``torch.compile``
    Dynamo calls it once while tracing and keeps the result as a constant,
    so a compiled training step warns too (once) without a graph break."""
    if key not in _WARNED:
        _WARNED.add(key)
        print_log(message, logger='current', level=30)
    return True


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
        self.loss_weight = check_number('loss_weight', loss_weight, low=0.0)
        if ignore_index is not None:
            ignore_index = check_int('ignore_index', ignore_index)
        self.ignore_index = ignore_index
        if loss_name is None:
            loss_name = self.default_loss_name
        if not (isinstance(loss_name, str) and loss_name.startswith('loss_')):
            raise ValueError("loss_name must be a str starting with 'loss_' "
                             f'(MMSegmentation logs it), got {loss_name!r}.')
        self._loss_name = loss_name
        # {custom_hooks type: what the hook does for the loss}, the hooks
        # that claimed the loss, and the warning due while some are missing
        # (host-side state: the forward reads no device to decide).
        self._required_hooks: Dict[str, Tuple[str, str]] = {}
        self._claimed_by: FrozenSet[str] = frozenset()
        self._hook_warning: Optional[str] = None
        self._hook_warning_key = f'{type(self).__name__}-{next(_KEYS)}'

    # ------------------------------------------------------------------
    # the hooks a stateful loss needs
    # ------------------------------------------------------------------
    def _require_hook(self, hook: str, entry: str, why: str) -> None:
        """Declare that training needs ``hook`` (e.g. ``'mmghm.AURAHook'``).

        Args:
            hook: The hook's registered type, as in ``custom_hooks``.
            entry: The ``custom_hooks`` entry to add, e.g.
                ``"dict(type='mmghm.AURAHook')"``.
            why: What goes wrong without it (for the warning).
        """
        self._required_hooks[hook] = (entry, why)
        self._refresh_hook_warning()

    @property
    def required_hooks(self) -> Tuple[str, ...]:
        """The hook types this loss needs in training (``custom_hooks``)."""
        return tuple(self._required_hooks)

    @property
    def claimed_by(self) -> FrozenSet[str]:
        """The hook types that have claimed this loss."""
        return self._claimed_by

    def claim(self, hook: str) -> None:
        """Record that ``hook`` drives this loss.

        mmghm's hooks call it in ``before_train`` on every loss they
        drive. A training loop of one's own that does a hook's work itself
        (e.g. calls :meth:`GHMCWAPLoss.update` at every epoch end) calls
        ``loss.claim('mmghm.AURAHook')`` to say so.
        """
        if not isinstance(hook, str):
            raise TypeError(f'hook must be a hook type name (str), got '
                            f'{hook!r}.')
        self._claimed_by = self._claimed_by | {hook}
        self._refresh_hook_warning()

    def _refresh_hook_warning(self) -> None:
        missing = [(h, e, w) for h, (e, w) in self._required_hooks.items()
                   if h not in self._claimed_by]
        if not missing:
            self._hook_warning = None
            return
        name = type(self).__name__
        self._hook_warning = ' '.join(
            [f'{name} is training without {h}, which {w}.'
             for h, _, w in missing] +
            [f'Add {" and ".join(e for _, e, _ in missing)} to the '
             "config's custom_hooks (with custom_imports=dict(imports="
             "['mmghm'])). A training loop of your own that does the "
             "hook's work itself says so with loss.claim("
             f'{missing[0][0]!r}).'])

    def _check_hooks(self) -> None:
        """Warn once if a required hook has not claimed the loss."""
        if self._hook_warning is not None and self.training and \
                torch.is_grad_enabled():
            _warn_missing_hook_once(self._hook_warning_key,
                                    self._hook_warning)

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
            logits: (M, C) float32/float64 logits, or ``(N, C, d1, ...)``
                where :meth:`_flatten` keeps dense inputs dense.
            label: (M,) int64 labels in [0, C) (ignored ones replaced by 0),
                or ``(N, d1, ...)`` with dense logits.
            valid: bool in the shape of ``label``, False for ignored
                examples, or None when nothing is ignored. Losses with
                state must not count invalid examples.
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
        """(N, C, d1, ...) -> (N * d1 * ..., C) logits and flat labels.

        A subclass whose per-example loss works along dim 1 may keep dense
        logits and labels as they are, sparing the transposing copy; its
        per-example loss then comes out flat (``N * d1 * ...``).
        """
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
        self._check_hooks()
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
        with _autocast_off(cls_score.device.type):
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
                # flat in any case (views; dense only where _flatten kept
                # the labels dense)
                label_flat = label_flat.reshape(-1)
                if valid is not None:
                    valid = valid.reshape(-1)
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
        return loss if self.loss_weight == 1.0 else self.loss_weight * loss

    def _apply(self, fn, *args, **kwargs):
        # Keep the dtype of the state buffers under .half()/.to(dtype): the
        # original tensor is moved to the new device rather than cast back
        # (a float64 count through float16 would lose its low digits).
        before = {
            name: self._buffers[name]
            for name in self.keep_dtype_buffers
            if self._buffers.get(name) is not None
        }
        super()._apply(fn, *args, **kwargs)
        for name, old in before.items():
            new = self._buffers[name]
            if new.dtype != self.keep_dtype_buffers[name]:
                self._buffers[name] = old.to(
                    new.device, self.keep_dtype_buffers[name])
        return self

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        # MMEngine loads checkpoints with strict=False, where PyTorch only
        # reports a size mismatch and keeps the module's fresh state: a
        # resumed run would silently restart its statistics. Refuse it.
        for name, buf in self._buffers.items():
            key = prefix + name
            if buf is None or name in self._non_persistent_buffers_set \
                    or key not in state_dict:
                continue
            saved = state_dict[key]
            if torch.is_tensor(saved) and saved.shape != buf.shape:
                raise ValueError(
                    f'{type(self).__name__} at {prefix[:-1] or "<root>"}: '
                    f'the checkpoint\'s {name!r} has shape '
                    f'{tuple(saved.shape)} but this loss has '
                    f'{tuple(buf.shape)} ({self._describe_shapes()}); the '
                    'checkpoint was saved with another configuration. Build '
                    'the loss as it was saved, or drop the keys starting '
                    f'with {prefix!r} from the checkpoint to start its '
                    'statistics afresh.')
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def graph_state(self) -> tuple:
        """What a training step captured in a CUDA graph bakes in of this
        loss: the captured step stays valid while this stays equal (a
        host-side switch that changes, or a buffer replaced instead of
        updated in place, changes it). By default
        :func:`module_graph_state`; a loss whose host state changes without
        changing what a step computes returns less.
        """
        return module_graph_state(self)

    def _describe_shapes(self) -> str:
        """The arguments that set the buffers' shapes, for error messages."""
        num_classes = getattr(self, 'num_classes', None)
        return f'num_classes={num_classes}'

    def extra_repr(self) -> str:
        return (f'reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}, '
                f'loss_name={self.loss_name!r}')


def _autocast_off(device_type: str):
    """A context that turns autocast off where it is on (entering one
    costs a few microseconds a call, so not where it is off)."""
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except (TypeError, RuntimeError):  # e.g. 'meta', or an old torch
        return nullcontext()
    return torch.autocast(device_type, enabled=False) if enabled \
        else nullcontext()


def module_graph_state(module: nn.Module) -> tuple:
    """The host-side state of a module that a captured (CUDA graph) step
    would bake in, as far as it shows from outside: its plain attributes
    (bools, numbers, strings, None), sorted by name, and the address of each
    of its own buffers.
    """
    items = [(key, value) for key, value in sorted(vars(module).items())
             if isinstance(value, (bool, int, float, str, type(None)))]
    items += [(name, buf.data_ptr())
              for name, buf in module.named_buffers(recurse=False)
              if buf is not None]
    return tuple(items)
