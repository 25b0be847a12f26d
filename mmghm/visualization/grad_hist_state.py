"""Gradient-norm histograms of GHM-CWAP as data and as pictures (Fig. 2).

A :class:`~mmghm.models.losses.GHMCWAPLoss` keeps, for every class ``c``, a
histogram of the gradient norm ``g = 1 - p_y`` over ``N`` unit regions with
edges ``e_{c,0..N}`` (method.md §1-2). An example in bin ``i`` adds
``1 / (N * d_i)`` to the density, so

- ``v_{c,i} * N = n_{c,i} / d_{c,i}`` is the histogram *as a density*, in
  examples per unit of ``g`` (the bar height drawn with its true width), and
- ``n_{c,i} = v_{c,i} * N * d_{c,i}`` is the number of examples in the bin.

Both need the widths ``d`` of the bins *in force while the examples were
counted*. After an AURA update the loss's ``edges`` are already the new bins
(computed from the histogram), so :class:`GradHistState` keeps the two apart:
``ref_edges`` (the bins ``ref_density`` was counted in) and ``edges`` (the
bins of the next period). :class:`~mmghm.engine.hooks.GradHistVisHook` records
both; a bare checkpoint only holds the second (see
:func:`state_from_checkpoint`).

This module is the data side (NumPy only): the state, reading and writing
it, and the arrays of Fig. 2; :mod:`.grad_hist_draw` turns them into
pictures. Both are usable from the hook during training and from
``tools/analysis/plot_grad_norm.py``.
"""
import glob
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    'find_loss_key', 'loss_buffer', 'loss_config',
    'CHECKPOINT_KEY', 'GradHistState', 'rebin', 'aura_edges',
    'load_grad_hist', 'state_from_checkpoint', 'find_dumps', 'fig2_data',
    'select_classes'
]

#: Key under which GradHistVisHook stores its state in a checkpoint.
CHECKPOINT_KEY = 'grad_hist_vis'


@dataclass
class GradHistState:
    """The histograms of one GHMCWAPLoss at one AURA update.

    Attributes:
        ref_density: (C, N) ``ref_density`` buffer: the density of the last
            completed period (epoch or ``interval`` iterations).
        ref_edges: (C, N+1) the bins ``ref_density`` was counted in.
        edges: (C, N+1) the bins after the update (used in the next period).
        ref_edges_known: (C,) False where ``ref_edges`` is a guess (a run
            resumed from a checkpoint without the hook's state, or a bare
            checkpoint read with ``approx=True``).
        fine_hist: Optional (C, F) counts of ``g`` in F uniform bins over the
            same examples as ``ref_density`` (recorded by
            ``GradHistVisHook(fine_bins=F)``): the "real" distribution at
            resolution 1/F.
        class_counts: Optional (C,) training-set class counts (dataset
            ``metainfo['class_counts']``).
        class_names: Optional class names.
        loss_name: Module path of the loss in the model.
        adaptive: Whether the loss re-bins with AURA (None: unknown).
        num_updates: Updates done so far (this one included).
        epoch: Epochs completed at this update (0 in iteration-based runs).
        iter: Iterations completed at this update.
        extra: More arrays. The hook adds ``updated`` (C,) bool, the classes
            that had examples in this period (the others keep an older
            reference, as the loss does), and ``eff_size`` (C,), ``S_c``
            after the update (Sec. 3.2, the margins' input).
    """

    ref_density: np.ndarray
    ref_edges: np.ndarray
    edges: np.ndarray
    ref_edges_known: Optional[np.ndarray] = None
    fine_hist: Optional[np.ndarray] = None
    class_counts: Optional[np.ndarray] = None
    class_names: Optional[List[str]] = None
    loss_name: str = ''
    adaptive: Optional[bool] = None
    num_updates: int = 0
    epoch: int = 0
    iter: int = 0
    extra: Dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ref_density = np.asarray(self.ref_density, dtype=np.float64)
        self.ref_edges = np.asarray(self.ref_edges, dtype=np.float64)
        self.edges = np.asarray(self.edges, dtype=np.float64)
        if self.ref_density.ndim != 2:
            raise ValueError('ref_density must be (C, N), got shape '
                             f'{self.ref_density.shape}.')
        C, N = self.ref_density.shape
        for name in ('ref_edges', 'edges'):
            if getattr(self, name).shape != (C, N + 1):
                raise ValueError(
                    f'{name} must have shape (C, N+1) = {(C, N + 1)} to '
                    f'match ref_density {(C, N)}, got '
                    f'{getattr(self, name).shape}.')
        if self.ref_edges_known is None:
            self.ref_edges_known = np.ones(C, dtype=bool)
        self.ref_edges_known = np.asarray(self.ref_edges_known, dtype=bool)
        if self.fine_hist is not None:
            self.fine_hist = np.asarray(self.fine_hist, dtype=np.float64)
            if self.fine_hist.ndim != 2 or self.fine_hist.shape[0] != C:
                raise ValueError(
                    f'fine_hist must be (C={C}, F), got '
                    f'{self.fine_hist.shape}.')
        if self.class_counts is not None:
            counts = np.asarray(self.class_counts, dtype=np.float64)
            # e.g. detection: C + 1 logits (background) but C dataset counts
            self.class_counts = counts if counts.shape == (C, ) else None
        if self.class_names is not None:
            names = [str(n) for n in self.class_names]
            self.class_names = names if len(names) == C else None

    # ------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return self.ref_density.shape[0]

    @property
    def num_bins(self) -> int:
        return self.ref_density.shape[1]

    @property
    def fine_bins(self) -> int:
        return 0 if self.fine_hist is None else self.fine_hist.shape[1]

    @property
    def fine_edges(self) -> Optional[np.ndarray]:
        """(F+1,) edges of the fine histogram (uniform over [0, 1])."""
        if self.fine_hist is None:
            return None
        return np.linspace(0.0, 1.0, self.fine_bins + 1)

    def bin_counts(self) -> np.ndarray:
        """(C, N) examples per bin, ``v * N * d`` with the in-force widths."""
        widths = np.diff(self.ref_edges, axis=1)
        return self.ref_density * self.num_bins * widths

    def heights(self) -> np.ndarray:
        """(C, N) bar heights in examples per unit of g, ``v * N``."""
        return self.ref_density * self.num_bins

    def counts(self) -> np.ndarray:
        """(C,) examples of each class in the reference period."""
        if self.fine_hist is not None:
            return self.fine_hist.sum(axis=1)
        return self.bin_counts().sum(axis=1)

    def frequencies(self) -> np.ndarray:
        """(C,) class frequencies used to pick head and tail classes: the
        training-set counts if known, else the reference-period counts."""
        if self.class_counts is not None:
            return self.class_counts
        return self.counts()

    def class_label(self, c: int) -> str:
        if self.class_names is not None and self.class_names[c] != str(c):
            return f'class {c} ({self.class_names[c]})'
        return f'class {c}'

    # ------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Write the state as an ``.npz`` file (no pickled objects)."""
        arrays = dict(
            ref_density=self.ref_density.astype(np.float32),
            ref_edges=self.ref_edges.astype(np.float32),
            edges=self.edges.astype(np.float32),
            ref_edges_known=self.ref_edges_known,
            counts=self.counts(),
            loss_name=np.array(self.loss_name),
            adaptive=np.array(-1 if self.adaptive is None else
                              int(self.adaptive)),
            num_updates=np.array(self.num_updates),
            epoch=np.array(self.epoch),
            iter=np.array(self.iter))
        if self.fine_hist is not None:
            arrays['fine_hist'] = self.fine_hist.astype(np.int64)
        if self.class_counts is not None:
            arrays['class_counts'] = self.class_counts
        if self.class_names is not None:
            arrays['class_names'] = np.array(self.class_names)
        arrays.update(self.extra)
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str) -> 'GradHistState':
        """Read a state written by :meth:`save`."""
        from mmghm.utils.npz import load_npz
        data = load_npz(path)
        missing = {'ref_density', 'ref_edges', 'edges'} - set(data)
        if missing:
            raise ValueError(f'{path} is not a gradient-histogram dump: it '
                             f'lacks {sorted(missing)}.')
        adaptive = int(data.pop('adaptive', -1))
        known = {
            'ref_density', 'ref_edges', 'edges', 'ref_edges_known',
            'fine_hist', 'class_counts', 'class_names', 'loss_name',
            'num_updates', 'epoch', 'iter', 'counts'
        }
        return cls(
            ref_density=data['ref_density'],
            ref_edges=data['ref_edges'],
            edges=data['edges'],
            ref_edges_known=data.get('ref_edges_known'),
            fine_hist=data.get('fine_hist'),
            class_counts=data.get('class_counts'),
            class_names=(data['class_names'].tolist()
                         if 'class_names' in data else None),
            loss_name=str(data.get('loss_name', '')),
            adaptive=None if adaptive < 0 else bool(adaptive),
            num_updates=int(data.get('num_updates', 0)),
            epoch=int(data.get('epoch', 0)),
            iter=int(data.get('iter', 0)),
            extra={k: v
                   for k, v in data.items() if k not in known})


# ----------------------------------------------------------------------
# arithmetic on histograms
# ----------------------------------------------------------------------
def rebin(counts: np.ndarray, src_edges: np.ndarray,
          dst_edges: np.ndarray) -> np.ndarray:
    """Counts over ``src_edges`` redistributed over ``dst_edges``.

    Each source bin's count is spread uniformly over its width (linear
    interpolation of the cumulative count), so the result is exact wherever
    every destination edge is also a source edge, and the total is kept.

    Args:
        counts: (..., K) counts.
        src_edges: (K+1,) or (..., K+1) increasing edges.
        dst_edges: (L+1,) or (..., L+1) increasing edges.

    Returns:
        np.ndarray: (..., L) counts.
    """
    counts = np.asarray(counts, dtype=np.float64)
    lead = counts.shape[:-1]
    flat = counts.reshape(-1, counts.shape[-1])
    src = np.broadcast_to(src_edges, lead + (counts.shape[-1] + 1, ))
    src = src.reshape(flat.shape[0], -1)
    dst_edges = np.asarray(dst_edges, dtype=np.float64)
    dst = np.broadcast_to(dst_edges, lead + (dst_edges.shape[-1], ))
    dst = dst.reshape(flat.shape[0], -1)
    out = np.empty((flat.shape[0], dst.shape[1] - 1))
    cdf = np.concatenate([np.zeros((flat.shape[0], 1)),
                          flat.cumsum(axis=1)], axis=1)
    for r in range(flat.shape[0]):  # analysis only, not a training path
        out[r] = np.diff(np.interp(dst[r], src[r], cdf[r]))
    # differences of a cumulative sum leave rounding dust where nothing is
    out[np.abs(out) <= 1e-9 * np.maximum(cdf[:, -1:], 1.0)] = 0.0
    return out.reshape(lead + (dst.shape[1] - 1, ))


def aura_edges(density: np.ndarray) -> np.ndarray:
    """The bins AURA (Algorithm 1) makes from ``density`` (C, N), by the
    loss's own rule (:func:`mmghm.models.losses.ghm_cwap_functional.
    aura_edges`: widths ``∝ 1 / log(max(v, e))``)."""
    import torch

    from mmghm.models.losses.ghm_cwap_functional import \
        aura_edges as _aura_edges
    density = torch.from_numpy(np.asarray(density, dtype=np.float64))
    return _aura_edges(density).double().numpy()


def select_classes(freq: np.ndarray,
                   num_head: int = 2,
                   num_tail: int = 2) -> Tuple[List[int], List[int]]:
    """The ``num_head`` most and ``num_tail`` least frequent classes.

    Classes with zero frequency are skipped for the tail (nothing to draw).
    Ties keep the lower index first. The two lists do not overlap.
    """
    freq = np.asarray(freq, dtype=np.float64)
    order = np.argsort(-freq, kind='stable')
    head = [int(c) for c in order[:num_head]]
    nonzero = [int(c) for c in order[::-1] if freq[c] > 0]
    tail = [c for c in nonzero if c not in head][:num_tail]
    return head, tail


# ----------------------------------------------------------------------
# reading checkpoints and dumps
# ----------------------------------------------------------------------
def _uniform(shape: Tuple[int, int]) -> np.ndarray:
    return np.broadcast_to(np.linspace(0.0, 1.0, shape[1]), shape).copy()


def find_loss_key(state_dict: dict, loss_key: Optional[str] = None,
                  where: str = '<checkpoint>') -> str:
    """The module path of the one GHMCWAPLoss in a state dict (found by its
    ``.ref_density`` and ``.edges`` buffers, ``module.`` of a wrapper
    dropped), or ``loss_key`` checked against those present.

    Raises:
        ValueError: naming ``where`` when there is none, several without
            ``loss_key``, or ``loss_key`` is not one of them.
    """
    prefixes = sorted(k[:-len('.ref_density')] for k in state_dict
                      if k.endswith('.ref_density')
                      and f'{k[:-len(".ref_density")]}.edges' in state_dict)
    prefixes = [p[len('module.'):] if p.startswith('module.') else p
                for p in prefixes]
    if not prefixes:
        raise ValueError(
            f'{where} holds no GHM-CWAP histograms (no state_dict keys '
            "ending in '.ref_density' and '.edges').")
    if loss_key is None:
        if len(prefixes) > 1:
            raise ValueError(f'{where} holds several GHM-CWAP losses '
                             f'{prefixes}; choose one with loss_key.')
        return prefixes[0]
    if loss_key not in prefixes:
        raise ValueError(f'loss_key {loss_key!r} is not in {where}; it holds '
                         f'{prefixes}.')
    return loss_key


def loss_buffer(state_dict: dict, loss_key: str, name: str):
    """The buffer ``name`` of the loss at ``loss_key`` (also under a
    wrapper's ``module.``), or None when the state dict lacks it."""
    for key in (f'{loss_key}.{name}', f'module.{loss_key}.{name}'):
        if key in state_dict:
            return state_dict[key]
    return None


def loss_config(state_dict: dict, loss_key: str) -> Optional[dict]:
    """The configuration the loss at ``loss_key`` (also under a wrapper's
    ``module.``) was saved with (:func:`~mmghm.models.losses.ghm_cwap_loss.
    saved_config`), or None when the checkpoint predates it."""
    from mmghm.models.losses.ghm_cwap_loss import saved_config
    for prefix in (f'{loss_key}.', f'module.{loss_key}.'):
        config = saved_config(state_dict, prefix)
        if config is not None:
            return config
    return None


def state_from_checkpoint(checkpoint: Union[str, dict],
                          loss_key: Optional[str] = None,
                          approx: bool = False) -> GradHistState:
    """The gradient histograms of one GHMCWAPLoss in an MMEngine checkpoint.

    The loss buffers are found by their names (``<prefix>.edges``,
    ``<prefix>.ref_density``, ``<prefix>.ref_edges``,
    ``<prefix>.num_updates``). The loss keeps the bins its reference was
    counted in (``ref_edges``), so the state is exact; a run with
    :class:`~mmghm.engine.hooks.GradHistVisHook` also left the fine
    histogram. Checkpoints of older versions lack ``ref_edges``: they are
    exact where the hook recorded the bins, or where the edges are still
    uniform (URA, or the first update); otherwise the widths of the
    reference bins are unknown and ``approx=True`` is needed (the current
    edges are then used for them and marked unknown).

    Args:
        checkpoint: Path of a ``.pth`` file or a loaded checkpoint dict.
        loss_key: Module path of the loss (e.g. ``'head.loss_module'``);
            needed only if the model has several.
        approx: Accept unknown reference widths (see above).
    """
    path = checkpoint if isinstance(checkpoint, str) else '<checkpoint>'
    if isinstance(checkpoint, str):
        from mmghm.utils.checkpoint import load_checkpoint_file
        checkpoint = load_checkpoint_file(checkpoint)
    state_dict = checkpoint.get('state_dict', checkpoint)
    loss_key = find_loss_key(state_dict, loss_key, path)

    def buf(name):
        value = loss_buffer(state_dict, loss_key, name)
        return None if value is None else value.detach().cpu().double().numpy()

    ref_density, edges = buf('ref_density'), buf('edges')
    own_ref_edges = buf('ref_edges')  # None in checkpoints before it
    num_updates = buf('num_updates')
    num_updates = 0 if num_updates is None else int(num_updates)
    if num_updates == 0:
        raise ValueError(
            f'{path}: the loss {loss_key!r} has had no AURA update yet '
            '(num_updates = 0), so its reference histogram is empty.')
    meta = checkpoint.get('meta', {}) or {}
    hook_state = (checkpoint.get(CHECKPOINT_KEY) or {}).get(loss_key)
    C = ref_density.shape[0]
    fine = None
    adaptive = None
    if hook_state is not None:
        if hook_state.get('fine_ref') is not None:
            fine = hook_state['fine_ref'].double().numpy()
        adaptive = hook_state.get('adaptive')
    config = loss_config(state_dict, loss_key)
    if adaptive is None and config is not None:
        adaptive = config['adaptive']
    # Reference bins: the loss's own record (NaN rows: unknown), else the
    # record of an older GradHistVisHook, else what uniform edges imply.
    if own_ref_edges is not None:
        ref_edges = own_ref_edges
        known = np.isfinite(ref_edges).all(axis=1)
    elif hook_state is not None and hook_state.get('ref_edges') is not None:
        ref_edges = hook_state['ref_edges'].double().numpy()
        known = hook_state['ref_edges_known'].numpy().astype(bool)
    elif num_updates == 1 or np.allclose(edges, _uniform(edges.shape),
                                         atol=1e-6):
        # The first reference was counted in the initial uniform bins; and
        # uniform edges everywhere mean URA (AURA re-bins seen classes).
        ref_edges = _uniform(edges.shape)
        known = np.ones(C, dtype=bool)
    else:
        ref_edges = np.full(edges.shape, np.nan)
        known = np.zeros(C, dtype=bool)
    if not known.all():
        if not approx:
            raise ValueError(
                f'{path}: the loss {loss_key!r} uses AURA, and this '
                'checkpoint (of an older version) does not hold the bins '
                'its reference histogram was counted in, so the bar widths '
                'are unknown. Use the dumps of GradHistVisHook '
                '(work_dir/grad_hist/*.npz), or pass approx=True (--approx) '
                'to draw over the current bins.')
        ref_edges = np.where(known[:, None], ref_edges, edges)
    return GradHistState(
        ref_density=ref_density,
        ref_edges=ref_edges,
        edges=edges,
        ref_edges_known=known,
        fine_hist=fine,
        class_counts=(hook_state or {}).get('class_counts'),
        loss_name=loss_key,
        adaptive=adaptive,
        num_updates=num_updates,
        epoch=int(meta.get('epoch', 0)),
        iter=int(meta.get('iter', 0)))


def find_dumps(directory: str) -> List[str]:
    """Dumps (``epoch_*.npz`` / ``iter_*.npz``) under ``directory`` in
    training order."""

    def key(p):
        m = re.search(r'(epoch|iter)_(\d+)', osp.basename(p))
        return (m.group(1), int(m.group(2))) if m else ('', 0)

    files = glob.glob(osp.join(directory, '*.npz'))
    return sorted(files, key=key)


def load_grad_hist(path: str,
                   loss_key: Optional[str] = None,
                   approx: bool = False) -> GradHistState:
    """Read gradient histograms from a dump, a checkpoint or a work dir.

    Args:
        path: A ``.npz`` dump of GradHistVisHook, an MMEngine checkpoint
            (``.pth``), a dump folder (its last dump is read) or a work dir
            (its ``grad_hist/`` dumps if any, else its ``last_checkpoint``).
        loss_key: See :func:`state_from_checkpoint`.
        approx: See :func:`state_from_checkpoint`.
    """
    if osp.isdir(path):
        for folder in (osp.join(path, 'grad_hist'), path):
            dumps = find_dumps(folder)
            if loss_key is not None:
                dumps = [d for d in dumps if loss_key in osp.basename(d)]
            if dumps:
                return GradHistState.load(dumps[-1])
        last = osp.join(path, 'last_checkpoint')
        if osp.isfile(last):
            with open(last) as f:
                ckpt = f.read().strip()
            if not osp.isabs(ckpt) and not osp.exists(ckpt):
                ckpt = osp.join(path, osp.basename(ckpt))
            return state_from_checkpoint(ckpt, loss_key, approx)
        raise FileNotFoundError(
            f'{path} holds neither GradHistVisHook dumps (grad_hist/*.npz) '
            'nor a last_checkpoint file.')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist.')
    if path.endswith('.npz'):
        return GradHistState.load(path)
    return state_from_checkpoint(path, loss_key, approx)


# ----------------------------------------------------------------------
# Fig. 2 of the paper
# ----------------------------------------------------------------------
def fig2_data(state: GradHistState,
              cls: Optional[int] = None,
              head: Optional[Sequence[int]] = None,
              tail: Optional[Sequence[int]] = None,
              num_head: int = 1,
              num_tail: int = 1,
              display_bins: Optional[int] = None) -> dict:
    """The data of the paper's Fig. 2 for one update of one run.

    All curves and bars are piecewise constant, given as ``(edges, heights)``
    with heights in examples per unit of g (so area = number of examples).

    - (a) ``a_edges``, ``a_overall`` (all classes), ``a_head`` / ``a_tail``
      (sums over the ``head`` / ``tail`` classes): the gradient-norm
      distribution of the reference period, from the fine histograms if
      recorded, else from each class's own N-bin histogram, spread
      (:func:`rebin`) onto a grid of ``display_bins`` uniform bins.
    - ``real_edges``, ``real_heights``: the "real" distribution of class
      ``cls``: its fine histogram if recorded (``real_source='fine'``; on
      ``display_bins`` bins when given), else its own N-bin histogram
      (``'bins'``), the finest data available.
    - (b) ``ura_edges``, ``ura_heights``: N uniform bins; (c) ``aura_edges``,
      ``aura_heights``: N AURA bins. Whichever kind the run used is the
      loss's own histogram (source ``'state'``: ``ref_density * N`` in the
      bins it was counted in); the other is the real distribution
      re-binned (source ``'rebinned'``; exact for URA when F is a multiple
      of N). For a URA run, the AURA bins are those Algorithm 1 makes from
      this histogram.

    Args:
        state: The histograms.
        cls: The class of (b) and (c); default: the most frequent.
        head, tail: Classes of the head / tail curves in (a); default: the
            ``num_head`` most and ``num_tail`` least frequent.
        display_bins: Uniform bins of the drawn distributions (a and the
            black lines); None: the fine histogram's F, or 200 without one.
            Fewer bins smooth a sparse fine histogram (exact re-binning when
            they divide F). The bars of (b)/(c) always use all the data.
    """
    C, N = state.num_classes, state.num_bins
    freq = state.frequencies()
    auto_head, auto_tail = select_classes(freq, num_head, num_tail)
    head = list(auto_head if head is None else head)
    tail = list(auto_tail if tail is None else tail)
    cls = head[0] if cls is None else int(cls)
    for name, idx in (('cls', [cls]), ('head', head), ('tail', tail)):
        bad = [c for c in idx if not 0 <= int(c) < C]
        if bad:
            raise ValueError(f'{name} classes {bad} are outside [0, {C}).')

    if display_bins is not None and (
            not isinstance(display_bins, int) or display_bins < 1):
        raise ValueError(
            f'display_bins must be None or an int >= 1, got {display_bins!r}.')
    bin_counts = state.bin_counts()
    if state.fine_hist is not None:
        src_edges, per_class = state.fine_edges, state.fine_hist
        real_source = 'fine'
        real_counts, real_src_edges = state.fine_hist[cls], src_edges
    else:
        src_edges, per_class = state.ref_edges, bin_counts
        real_source = 'bins'
        real_counts = bin_counts[cls]
        real_src_edges = state.ref_edges[cls]
    if real_source == 'fine' and display_bins in (None, state.fine_bins):
        grid, shown = src_edges, per_class
    else:
        grid = np.linspace(0.0, 1.0, (display_bins or 200) + 1)
        shown = rebin(per_class, src_edges, grid)
    grid_w = np.diff(grid)
    out = dict(
        cls=cls, head=head, tail=tail, num_bins=N,
        a_edges=grid,
        a_overall=shown.sum(axis=0) / grid_w,
        a_head=shown[head].sum(axis=0) / grid_w,
        a_tail=shown[tail].sum(axis=0) / grid_w,
        real_source=real_source,
        label=state.class_label(cls),
        count=float(state.counts()[cls]),
        ref_edges_known=bool(state.ref_edges_known[cls]),
        epoch=state.epoch, iter=state.iter)
    if real_source == 'bins' and display_bins is None:
        # the loss's own bins, drawn as they are
        out['real_edges'] = state.ref_edges[cls]
        out['real_heights'] = state.heights()[cls]
    else:
        out['real_edges'] = grid
        out['real_heights'] = shown[cls] / grid_w

    uniform = np.linspace(0.0, 1.0, N + 1)
    own_is_uniform = np.allclose(state.ref_edges[cls], uniform, atol=1e-6)
    run_aura = state.adaptive if state.adaptive is not None \
        else not own_is_uniform
    own = (state.ref_edges[cls], state.heights()[cls], 'state')
    if run_aura:
        aura = own
        ura_counts = rebin(real_counts, real_src_edges, uniform)
        ura = (uniform, ura_counts / np.diff(uniform), 'rebinned')
    else:
        ura = own
        a_edges = aura_edges(state.ref_density[cls:cls + 1])[0]
        a_counts = rebin(real_counts, real_src_edges, a_edges)
        aura = (a_edges, a_counts / np.diff(a_edges), 'rebinned')
    out['ura_edges'], out['ura_heights'], out['ura_source'] = ura
    out['aura_edges'], out['aura_heights'], out['aura_source'] = aura
    return out
