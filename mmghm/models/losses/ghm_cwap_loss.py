"""GHM-CWAP: gradient harmonized mechanism with category-wise adaptive
precision (Zhang et al., "Solving the long-tailed problem via intra- and
inter-category balance").

The paper leaves several choices open; ``docs/method.md`` of the project
fixes them. The arithmetic is in :mod:`.ghm_cwap_functional` (one pure
function per step); this module holds the state and calls the steps in the
order of method.md §3. For a batch of logits ``z`` (B x C) and labels ``y``:

1. ``S_c = sum_i v_{c,i}^alpha`` (effective sample size, Sec. 3.2), read from
   the reference density of the last completed epoch, clamped below at 1.
2. Asymmetric margins (Eq. 2): logit ``n`` of an example of class ``m`` gets
   ``M_{m,n} = gamma * log(min(1, S_n / S_m))``.
3. ``g = 1 - softmax(z + M)_y`` is counted into the per-class histogram of
   the running epoch (Algorithm 1: ``v_i += 1 / (N * d_i)``).
4. Intra-category weights (Eq. 1) from the running density, normalised to a
   batch mean of 1.
5. ``loss_k = W_k * CE(z_k + M_{y_k}, y_k)`` (Eq. 3).

At every epoch end (or every K iterations) :meth:`GHMCWAPLoss.update` sums
the running density over ranks, makes it the reference and, with AURA,
re-bins each class with widths proportional to ``1 / log(v_i)`` (Alg. 1).

Observation API (for visualisation and analysis, no monkeypatching):
:meth:`GHMCWAPLoss.register_batch_observer` (g of every counted batch),
:meth:`GHMCWAPLoss.register_update_observer` (each update's
:class:`AURAUpdate`, also returned by :meth:`~GHMCWAPLoss.update` and kept
as :attr:`~GHMCWAPLoss.last_update`), the ``ref_edges`` buffer (the bins
``ref_density`` was counted in) and :meth:`~GHMCWAPLoss.effective_size`.
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import torch
from mmengine import dist
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from mmghm.registry import MODELS
from mmghm.utils.checks import check_bool, check_int, check_number
from . import ghm_cwap_functional as gf
from .base import BaseClsLoss
from .utils import keep_for_backward

__all__ = ['GHMCWAPLoss', 'GHMCWAPBatch', 'AURAUpdate', 'saved_config']

#: Constructor arguments that define what the state means, in the order of
#: the ``config`` buffer (saved with the state, checked when it is loaded).
CONFIG_FIELDS = ('num_classes', 'num_bins', 'alpha', 'gamma', 'intra',
                 'intra_weight', 'inter', 'adaptive', 'background_index',
                 'margin', 'start_epoch')
#: The layouts of the ``config`` buffer by length: version 1 saved the first
#: 9 fields (before ``margin`` and ``start_epoch``), version 2 all 11. A
#: field added later is appended, so the length names the layout.
_VECTOR_FIELDS = {9: CONFIG_FIELDS[:9], 11: CONFIG_FIELDS}
#: What a field added later means in a checkpoint saved before it existed.
_BEFORE_ITS_TIME = {'margin': 'one_sided', 'start_epoch': 0}
_INTRA_WEIGHTS = ('tempered', 'paper')
_MARGINS = ('one_sided', 'two_sided')


def _encode_config(config: dict) -> Tensor:
    """The configuration as a float64 vector: a tensor, because MMEngine
    handles every state-dict value as one (its distributed Runner
    broadcasts each, ``EMAHook(update_buffers=True)`` copies each).
    ``intra_weight`` and ``margin`` by their index, booleans as 0/1, no
    background as -1."""
    values = []
    for name in CONFIG_FIELDS:
        value = config[name]
        if name == 'intra_weight':
            value = _INTRA_WEIGHTS.index(value)
        elif name == 'margin':
            value = _MARGINS.index(value)
        elif name == 'background_index' and value is None:
            value = -1
        values.append(float(value))
    return torch.tensor(values, dtype=torch.float64)


def _decode_config(vector) -> dict:
    """The configuration a ``config`` vector of any version encodes, every
    field of :data:`CONFIG_FIELDS` (fields the version did not have yet
    get the value that version meant)."""
    if not torch.is_tensor(vector) or vector.dim() != 1 or \
            vector.numel() not in _VECTOR_FIELDS:
        raise ValueError(
            "the checkpoint's 'config' is a "
            f'{type(vector).__name__} of shape '
            f'{tuple(getattr(vector, "shape", ()))}; mmghm saves it as a '
            'vector of 9 (version 1) or 11 (version 2) values.')
    config = dict(_BEFORE_ITS_TIME)
    for name, value in zip(_VECTOR_FIELDS[vector.numel()], vector.tolist()):
        if name == 'intra_weight':
            value = _INTRA_WEIGHTS[int(value)] if value in (0, 1) else value
        elif name == 'margin':
            value = _MARGINS[int(value)] if value in (0, 1) else value
        elif name in ('intra', 'inter', 'adaptive'):
            value = bool(value)
        elif name in ('num_classes', 'num_bins', 'start_epoch'):
            value = int(value)
        elif name == 'background_index':
            value = None if value < 0 else int(value)
        config[name] = value
    return config


def saved_config(state_dict: dict, prefix: str = '') -> Optional[dict]:
    """The configuration a GHMCWAPLoss in ``state_dict`` was saved with:
    the one reader of its ``config`` buffer, for every version's layout.

    Args:
        state_dict: A state dict (e.g. a checkpoint's ``'state_dict'``).
        prefix: The loss's module path with a trailing dot
            (``'head.loss_module.'``), or '' for the loss's own state dict.

    Returns:
        dict | None: Every field of :data:`CONFIG_FIELDS`; None when the
        state dict holds no ``config`` (versions before it).

    Raises:
        ValueError: The ``config`` is of a layout mmghm never saved.
    """
    if prefix + 'config' not in state_dict:
        return None
    return _decode_config(state_dict[prefix + 'config'])


class GHMCWAPBatch(NamedTuple):
    """One training batch as the loss counted it (for batch observers).

    All (M,) tensors on the loss's device, M = examples (pixels) in the
    batch; do not modify them.
    """

    #: int64 labels (ignored ones replaced by 0).
    label: Tensor
    #: gradient norms ``g = 1 - p_y`` (method.md §1), detached.
    g: Tensor
    #: bool, the examples counted into the histograms (valid label, finite
    #: g, weight != 0).
    counted: Tensor


@dataclass
class AURAUpdate:
    """What one :meth:`GHMCWAPLoss.update` did (tensors are copies).

    Attributes:
        seen: (C,) bool, classes with examples since the previous update;
            the others kept their reference, reference bins and bins.
        ref_density: (C, N) the new reference density.
        ref_edges: (C, N+1) the bins ``ref_density`` was counted in.
        edges: (C, N+1) the bins of the next period.
        num_updates: Updates done so far, this one included.
    """

    seen: Tensor
    ref_density: Tensor
    ref_edges: Tensor
    edges: Tensor
    num_updates: int


@MODELS.register_module()
class GHMCWAPLoss(BaseClsLoss):
    """GHM-CWAP loss (Eq. 1-3) with (A)URA histograms (Algorithm 1).

    Usable unchanged as the ``loss`` of MMPretrain's ``ClsHead``, the
    ``loss_cls`` of MMDetection's softmax bbox heads (background = index C,
    construct with ``num_classes=C + 1``) and the ``loss_decode`` of
    MMSegmentation's decode heads (``(N, C, H, W)`` logits, ``ignore_index``).

    State (buffers, saved in checkpoints):

    - ``edges`` (C, N+1) float32: unit-region boundaries, ``edges[:, 0] =
      0``, ``edges[:, N] = 1``.
    - ``density`` (C, N) float64: running gradient density since the last
      update (float64 so that no bin stops counting at 2**24).
    - ``ref_density`` (C, N) float32: density of the last completed epoch.
    - ``ref_edges`` (C, N+1) float32: the bins ``ref_density`` was counted
      in (NaN rows: unknown, from a checkpoint of an older version).
    - ``num_updates``: number of :meth:`update` calls so far.
    - ``config`` (11,) float64: the arguments that give the state its
      meaning (:data:`CONFIG_FIELDS`), read by :func:`saved_config`.
      Loading a checkpoint into a loss configured differently raises an
      error naming each field and both values (MMEngine's ``load_from``
      and ``--resume`` included). Checkpoints of older versions load too:
      the 9 values of version 1 (before ``margin`` and ``start_epoch``)
      are checked alike, and checkpoints before ``config`` by their
      buffers' shapes.

    The forward never synchronises with the device on CUDA and does not
    branch on the state in Python, so a CUDA graph or a
    ``torch.compile(fullgraph=True)`` of a training step stays valid across
    updates, which change the buffers in place.

    Args:
        num_classes: Number of classes C (C + 1 for detection heads whose
            last logit is the background).
        num_bins: Unit regions per class, N (paper: 30).
        alpha: Effectiveness factor (paper: 0.9), in [0, 1].
        gamma: Margin strength (paper: 0.8), >= 0.
        intra: Intra-category balance, the weights W of Eq. 1.
        intra_weight: ``'tempered'`` (default, ``W = v^(alpha-1)``) or
            ``'paper'`` (``W = S_c / v^alpha / K_c``), see method.md §4.
        inter: Inter-category balance, the margins M of Eq. 2.
        adaptive: AURA re-binning at each update; False keeps uniform bins
            (URA, the ablation of Table 3).
        reduction: 'mean', 'sum' or 'none'.
        loss_weight: Multiplier of the loss.
        ignore_index: Label to ignore (e.g. 255 in segmentation); ignored
            examples are neither counted nor weighted.
        loss_name: Name under which MMSegmentation logs the loss; must
            start with ``'loss_'``.
        use_sigmoid: Must be False. Accepted only so that sigmoid heads
            (RetinaNet, FCOS, ...) that pass ``use_sigmoid=True`` get a clear
            error: the paper defines GHM-CWAP for softmax classifiers only.
        background_index: Label of a background class to leave out of the
            margins (Eq. 2), e.g. ``-1`` (= ``num_classes - 1``) in
            MMDetection's bbox heads. Its examples get no margins and its
            logit never gets one, so background examples keep suppressing
            every foreground logit (as in EQL and Seesaw); it is still
            counted into its own histogram and weighted (Eq. 1) like any
            class. None (default): no background, every class is balanced
            against every other.
        margin: ``'one_sided'`` (default, the paper's Eq. 2: ``M_{m,n} =
            gamma * log(min(1, S_n / S_m))``, only rarer classes' logits
            are lowered for an example) or ``'two_sided'`` (``M_{m,n} =
            gamma * log(S_n / S_m)``: also raises more frequent classes'
            logits, i.e. Balanced Softmax's logit adjustment with the
            effective sizes S in place of the class counts). An option of
            ours, not the paper's (docs/method.md, "Options beyond the
            paper"); needs ``background_index=None``.
        start_epoch: Deferred start (as LDAM-DRW defers its re-weighting):
            before this 0-based epoch the loss is plain cross-entropy
            (W = 1, M = 0) while the histograms are counted and updated as
            usual, so weights and margins start from a full epoch's
            statistics. Needs ``LossEpochHook`` (mmghm's runtime has it),
            which calls :meth:`set_epoch`. 0 (default): the paper's method
            from the first step. An option of ours, not the paper's.
    """

    default_loss_name = 'loss_ghm_cwap'
    keep_dtype_buffers = {
        'edges': torch.float32,
        'density': torch.float64,
        'ref_density': torch.float32,
        'ref_edges': torch.float32,
        'config': torch.float64,
        '_shift_ref': torch.float32,
        '_shift_run': torch.float32,
        '_mass': torch.float64,
        '_table': torch.float64,
    }

    def __init__(self,
                 num_classes: int,
                 num_bins: int = 30,
                 alpha: float = 0.9,
                 gamma: float = 0.8,
                 intra: bool = True,
                 intra_weight: str = 'tempered',
                 inter: bool = True,
                 adaptive: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: str = 'loss_ghm_cwap',
                 use_sigmoid: bool = False,
                 background_index: Optional[int] = None,
                 margin: str = 'one_sided',
                 start_epoch: int = 0) -> None:
        if use_sigmoid:
            raise ValueError(
                'GHMCWAPLoss is a softmax loss (one gradient-norm histogram '
                'per class of a softmax classifier); it cannot be used with '
                'use_sigmoid=True heads such as RetinaNet, FCOS or YOLOX. '
                'Use it in softmax heads (two-stage bbox heads, '
                'classification and segmentation heads).')
        super().__init__(
            reduction=reduction, loss_weight=loss_weight,
            ignore_index=ignore_index, loss_name=loss_name)
        self.num_classes = check_int('num_classes', num_classes, 2)
        self.num_bins = check_int('num_bins', num_bins, 2)
        self.alpha = check_number('alpha', alpha, low=0.0, high=1.0)
        self.gamma = check_number('gamma', gamma, low=0.0)
        if intra_weight not in ('tempered', 'paper'):
            raise ValueError("intra_weight must be 'tempered' or 'paper', "
                             f'but got {intra_weight!r}.')
        self.intra = check_bool('intra', intra)
        self.intra_weight = intra_weight
        self.inter = check_bool('inter', inter)
        self.adaptive = check_bool('adaptive', adaptive)
        if background_index is not None:
            C = self.num_classes
            background_index = check_int('background_index',
                                         background_index)
            if not -C <= background_index < C:
                raise ValueError(
                    'background_index must be None or an int in '
                    f'[-{C}, {C}) (-1: the last logit), but got '
                    f'{background_index!r}.')
            background_index %= C
        self.background_index = background_index
        if margin not in _MARGINS:
            raise ValueError(f'margin must be one of {_MARGINS}, but got '
                             f'{margin!r}.')
        if margin == 'two_sided' and background_index is not None:
            raise ValueError(
                "margin='two_sided' raises every more frequent class's "
                'logit, a background class included; use it without '
                'background_index (classification heads), or keep '
                "margin='one_sided' in detection heads.")
        self.margin = margin
        self.start_epoch = check_int('start_epoch', start_epoch, 0)
        # Host-side switch of the deferred start (set_epoch); a plain bool,
        # so the forward never reads the device to decide.
        self._started = self.start_epoch == 0
        self._require_hook(
            'mmghm.AURAHook',
            "dict(type='mmghm.AURAHook') (by_epoch=False, interval=K in "
            'iteration-based loops)',
            'calls update() at every epoch end (Algorithm 1); without it '
            'the bins stay uniform, the reference density stays empty and '
            'the margins come from a running density that grows for the '
            'whole run: no AURA')
        if self.start_epoch > 0:
            self._require_hook(
                'mmghm.LossEpochHook', "dict(type='mmghm.LossEpochHook')",
                'calls set_epoch() before every epoch; without it the '
                f'deferred start (start_epoch={self.start_epoch}) never '
                'comes and the loss stays plain cross-entropy')

        C, N = self.num_classes, self.num_bins
        uniform = torch.linspace(0, 1, N + 1, dtype=torch.float64).float()
        self.register_buffer('edges', uniform.expand(C, N + 1).contiguous())
        self.register_buffer('density',
                             torch.zeros(C, N, dtype=torch.float64))
        self.register_buffer('ref_density', torch.zeros(C, N))
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))
        self.register_buffer('ref_edges', self.edges.clone())
        self.register_buffer('config', _encode_config(self._config()))
        # Derived from the state, changed only by update() and loading (not
        # saved): whether a reference exists, the margin shifts
        # a = gamma * log S from ``ref_density`` and from the running
        # ``density`` (the latter used until the first update), the mass
        # 1 / (N * d) of each bin and the binning table.
        shift_shape = (C, ) if background_index is None else (2, C)
        for name, value in (
                ('_has_ref', torch.zeros((), dtype=torch.bool)),
                ('_shift_ref', torch.zeros(shift_shape)),
                ('_shift_run', torch.zeros(shift_shape)),
                ('_mass', torch.ones(C, N, dtype=torch.float64)),
                ('_table', torch.zeros(C * (N - 1), dtype=torch.float64))):
            self.register_buffer(name, value, persistent=False)
        # Host-side: whether the running shift must follow the counts (only
        # until the first update; see _count).
        self._track_running_shift = True
        self._batch_observers: Dict[int, Callable] = OrderedDict()
        self._update_observers: Dict[int, Callable] = OrderedDict()
        self._last_update: Optional[AURAUpdate] = None
        self._refresh_cache()

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, num_bins={self.num_bins}, '
                f'alpha={self.alpha}, gamma={self.gamma}, intra={self.intra} '
                f'({self.intra_weight}), inter={self.inter} ({self.margin}), '
                f'adaptive={self.adaptive}, background_index='
                f'{self.background_index}, start_epoch={self.start_epoch}, '
                + super().extra_repr())

    def set_epoch(self, epoch: int) -> None:
        """Tell the loss the 0-based training epoch (``LossEpochHook``
        does, before every epoch): weights and margins are on from
        ``start_epoch``."""
        epoch = check_int('epoch', epoch, 0)
        self._started = epoch >= self.start_epoch
        if 'mmghm.LossEpochHook' not in self.claimed_by:
            self.claim('mmghm.LossEpochHook')  # whoever calls it drives it

    @property
    def started(self) -> bool:
        """Whether weights and margins are on (``start_epoch`` reached)."""
        return self._started

    # ------------------------------------------------------------------
    # statistics
    # ------------------------------------------------------------------
    def _shift_of(self, density: Tensor) -> Tensor:
        shift = gf.margin_shift(density, self.alpha, self.gamma)
        if self.background_index is not None:
            shift = gf.split_background_shift(shift, self.background_index)
        return shift

    def effective_size(self) -> Tensor:
        """``S_c`` (C,) float64 as used for the margins (method.md §3 step
        1): from ``ref_density`` once an update has happened, before that
        from the running ``density`` as it is now."""
        density = torch.where(self._has_ref, self.ref_density.double(),
                              self.density)
        return gf.effective_size(density, self.alpha)

    def log_effective_size(self) -> Tensor:
        """``log S_c`` (C,), see :meth:`effective_size`."""
        return self.effective_size().log_()

    @torch.no_grad()
    def _refresh_cache(self) -> None:
        """Recompute the derived buffers, in place (a captured CUDA graph
        keeps reading the same memory)."""
        self._has_ref.copy_(self.num_updates > 0)
        self._shift_ref.copy_(self._shift_of(self.ref_density))
        self._shift_run.copy_(self._shift_of(self.density))
        self._mass.copy_(gf.bin_mass(self.edges))
        self._table.copy_(gf.inner_edge_table(self.edges))
        self._track_running_shift = not bool(self._has_ref)

    @torch.no_grad()
    def update(self) -> AURAUpdate:
        """One AURA step (Algorithm 1, method.md §7).

        1. Sum ``density`` over all ranks.
        2. For each class seen since the last update: ``ref_density <-
           density`` (counted in the current ``edges``, which become its
           ``ref_edges``) and, with AURA, new widths ``d_i ∝ 1 / log(max(v_i,
           e))`` normalised to 1 (URA keeps uniform widths).
        3. ``density <- 0``.

        Every rank must call it (the hook does), as it all-reduces. The
        buffers change in place.

        Returns:
            AURAUpdate: what changed; also passed to every update observer.
        """
        dist.all_reduce(self.density, op='sum')
        step = gf.aura_update(self.density, self.ref_density, self.edges,
                              self.ref_edges, self.adaptive)
        self.ref_density.copy_(step.ref_density)
        self.ref_edges.copy_(step.ref_edges)
        self.edges.copy_(step.edges)
        self.density.zero_()
        self.num_updates += 1
        self._refresh_cache()
        record = AURAUpdate(
            seen=step.seen,
            ref_density=self.ref_density.clone(),
            ref_edges=self.ref_edges.clone(),
            edges=self.edges.clone(),
            num_updates=int(self.num_updates))
        self._last_update = record
        for observer in list(self._update_observers.values()):
            observer(self, record)
        return record

    # ------------------------------------------------------------------
    # observation
    # ------------------------------------------------------------------
    @property
    def last_update(self) -> Optional[AURAUpdate]:
        """What the latest :meth:`update` of this process did (a new
        :class:`AURAUpdate` each time), None before the first one. A
        reader that keeps the record it last saw knows whether an update
        came since."""
        return self._last_update

    def register_batch_observer(
            self, fn: Callable[['GHMCWAPLoss', GHMCWAPBatch], None]
    ) -> RemovableHandle:
        """Call ``fn(loss, batch)`` after every batch the loss counts.

        ``batch`` is a :class:`GHMCWAPBatch` (labels, the loss's own ``g``
        and which examples were counted), called only in training mode with
        gradients enabled, after the batch was counted. ``fn`` runs inside
        the forward: it must not synchronise with the device if the forward
        is to stay sync-free, and under ``torch.compile`` it is traced with
        the loss (keep it to tensor operations).

        Returns:
            RemovableHandle: ``handle.remove()`` detaches ``fn``.
        """
        handle = RemovableHandle(self._batch_observers)
        self._batch_observers[handle.id] = fn
        return handle

    def register_update_observer(
            self, fn: Callable[['GHMCWAPLoss', AURAUpdate], None]
    ) -> RemovableHandle:
        """Call ``fn(loss, record)`` at the end of every :meth:`update`.

        Returns:
            RemovableHandle: ``handle.remove()`` detaches ``fn``.
        """
        handle = RemovableHandle(self._update_observers)
        self._update_observers[handle.id] = fn
        return handle

    def __getstate__(self):
        # Observers are callbacks of whoever registered them (a hook, a
        # plot): a pickled or deep-copied loss (an EMA model) starts without.
        state = self.__dict__.copy()
        state['_batch_observers'] = OrderedDict()
        state['_update_observers'] = OrderedDict()
        return state

    # ------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------
    def _config(self) -> dict:
        return {name: getattr(self, name) for name in CONFIG_FIELDS}

    def _describe_shapes(self) -> str:
        return f'num_classes={self.num_classes}, num_bins={self.num_bins}'

    def _check_saved_config(self, config: dict, where: str) -> None:
        mine = self._config()
        diffs = [(k, config[k], mine[k]) for k in CONFIG_FIELDS
                 if config[k] != mine[k]]
        if diffs:
            listed = '; '.join(f'{k}: checkpoint {a!r}, this loss {b!r}'
                               for k, a, b in diffs)
            raise ValueError(
                f'GHMCWAPLoss at {where}: the checkpoint was saved by a loss '
                f'configured differently ({listed}), so its histograms and '
                'bins would be misread. Build the loss with the '
                "checkpoint's values, or drop the loss's keys from the "
                "checkpoint's state_dict to start its statistics afresh.")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        where = prefix[:-1] or '<root>'
        config_key = prefix + 'config'
        # Checked before any buffer is touched.
        try:
            saved = saved_config(state_dict, prefix)
        except ValueError as e:
            raise ValueError(f'GHMCWAPLoss at {where}: {e}') from None
        if saved is not None:
            self._check_saved_config(saved, where)
            if state_dict[config_key].shape != self.config.shape:
                # An older layout of the same configuration (checked): it
                # loads as this version's (the state dict is the loader's
                # copy, which modules may change).
                state_dict[config_key] = self.config.clone()
        has_ref_edges = prefix + 'ref_edges' in state_dict
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if not has_ref_edges and prefix + 'edges' in state_dict:
            # A checkpoint of a version before these keys existed.
            for key in (config_key, prefix + 'ref_edges'):
                if key in missing_keys:
                    missing_keys.remove(key)
            with torch.no_grad():
                if int(self.num_updates) <= 1 or not self.adaptive:
                    # The first reference was counted in the initial uniform
                    # bins, and URA never moves them.
                    uniform = torch.linspace(
                        0, 1, self.num_bins + 1, dtype=torch.float64,
                        device=self.ref_edges.device).float()
                    self.ref_edges.copy_(uniform.expand_as(self.ref_edges))
                else:
                    self.ref_edges.fill_(float('nan'))
        self._refresh_cache()

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def _flatten(self, cls_score: Tensor,
                 label: Tensor) -> Tuple[Tensor, Tensor]:
        # Dense logits and labels stay (N, C, d1, ...) and (N, d1, ...): the
        # margin cross-entropy works along dim 1 (no transposing copy of the
        # logits and of their gradient); _per_example_loss flattens what it
        # returns and counts.
        return cls_score, label

    def _per_example_loss(self, logits: Tensor, label: Tensor,
                          valid: Optional[Tensor],
                          weight: Optional[Tensor]) -> Tensor:
        """``W * CE(z + M, y)`` per example, counting the batch in training
        (method.md §3). ``weight`` is applied by the base class; examples
        of weight 0 are not counted."""
        shift = None
        intra = self.intra and self._started
        if self.inter and self._started:
            # Branch-free choice of the margins' source (method.md §3 step
            # 1), so that a graph captured before the first update is still
            # right after it.
            # keep_for_backward: the backward must use these margins, not
            # recompute them from _shift_run after _count rewrote it (a
            # compiled graph did).
            shift = keep_for_backward(
                torch.where(self._has_ref, self._shift_ref,
                            self._shift_run).to(logits.dtype))
        loss, g = gf.margin_cross_entropy(logits, label, shift,
                                          self.margin == 'two_sided')
        if logits.dim() > 2:  # dense (B, C, d1, ...), see _flatten
            loss, g, label = loss.view(-1), g.view(-1), label.reshape(-1)
            if valid is not None:
                valid = valid.reshape(-1)
        counting = self.training and torch.is_grad_enabled()
        if not (intra or counting):
            return loss
        with torch.no_grad():
            # NaN g (non-finite logits) never enters the state; g is never
            # infinite (it lies in [0, 1]), so g == g is isfinite in one op.
            member = g == g
            if valid is not None:
                member &= valid
            cell = gf.bin_index(g, label, self._table)
            mass = self._mass.view(-1).index_select(0, cell)
            if counting:
                counted = member if weight is None else member & (weight != 0)
                self._count(label, g, cell, mass, counted)
            if not intra:
                return loss
            w = gf.intra_weights(self.density, cell, label, mass, member,
                                 self.alpha, self.intra_weight)
        return loss * keep_for_backward(w.to(loss.dtype))

    def _count(self, label: Tensor, g: Tensor, cell: Tensor, mass: Tensor,
               counted: Tensor) -> None:
        gf.accumulate_density_(self.density, cell, mass * counted)
        if self._track_running_shift:
            # Until the first update the margins come from the running
            # density as it is before each batch (method.md §3 step 1).
            self._shift_run.copy_(self._shift_of(self.density))
        for observer in self._batch_observers.values():
            observer(self, GHMCWAPBatch(label, g, counted))
