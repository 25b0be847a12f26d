"""Log GHM-CWAP's gradient-norm histograms at every AURA update."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mmghm.models.losses.ghm_cwap_loss import (AURAUpdate, GHMCWAPBatch,
                                               GHMCWAPLoss)
from mmghm.registry import HOOKS
from mmghm.utils.checks import check_int
from mmghm.utils.class_counts import dataset_class_counts
from mmghm.visualization.grad_hist_draw import (draw_class_histograms,
                                                figure_to_rgb)
from mmghm.visualization.grad_hist_state import (CHECKPOINT_KEY,
                                                 GradHistState,
                                                 select_classes)

__all__ = ['GradHistVisHook', 'FineHistogram']

OUTPUTS = ('image', 'scalars', 'bin_scalars', 'dump')


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to('cpu', torch.float64).numpy().copy()


class FineHistogram:
    """Counts of the loss's own ``g`` in ``F`` uniform bins per class.

    The "real" distribution that the loss's N bins approximate (the black
    line of Fig. 2). Fed by :meth:`GHMCWAPLoss.register_batch_observer`
    with exactly the examples the loss counts; the binning rule is the
    loss's (an edge belongs to the bin above, g = 1 to the last bin). It
    runs inside the forward with tensor operations only (no host sync).

    Args:
        num_classes: C.
        bins: F, the number of uniform bins over [0, 1].
        device: Where the counts live (the loss's device).
    """

    def __init__(self, num_classes: int, bins: int,
                 device: torch.device) -> None:
        self.bins = bins
        self.running = torch.zeros(num_classes, bins, dtype=torch.long,
                                   device=device)
        # float32 edges as the loss's, compared in float64
        self.inner_edges = torch.linspace(
            0, 1, bins + 1, dtype=torch.float64).float().double()[1:bins].to(
                device)
        #: (C, F) counts of the last completed period (NumPy, host).
        self.reference = np.zeros((num_classes, bins))

    @torch.no_grad()
    def observe(self, loss: GHMCWAPLoss, batch: GHMCWAPBatch) -> None:
        fine = torch.searchsorted(
            self.inner_edges, torch.nan_to_num(batch.g.double(), nan=0.0),
            right=True)
        self.running.view(-1).index_add_(0, batch.label * self.bins + fine,
                                         batch.counted.long())

    def close_period(self, seen: np.ndarray) -> None:
        """At an update: sum the running counts over ranks (a collective)
        and make them the reference of the classes the update saw."""
        dist.all_reduce(self.running, op='sum')
        fine = self.running.to('cpu', torch.float64).numpy()
        seen = seen | (fine.sum(axis=1) > 0)
        self.reference[seen] = fine[seen]
        self.running.zero_()


@HOOKS.register_module()
class GradHistVisHook(Hook):
    """Show what GHM-CWAP's histograms look like (the paper's Fig. 2).

    After every training iteration and epoch it reads the state of every
    :class:`GHMCWAPLoss` of the model: an update since it last looked
    (:attr:`GHMCWAPLoss.last_update`, whoever made it: :class:`AURAHook`
    per epoch or every K iterations, or a custom loop) is logged, for a set
    of classes (default: the 2 most and 2 least frequent by the
    training-set counts), through ``runner.visualizer`` (every configured
    backend):

    - ``'image'``: ``grad_hist`` (the reference histogram as bars with their
      true widths, the next bins as ticks) with ``add_image``;
    - ``'scalars'``: ``grad_hist/class_<c>/...`` with ``add_scalars``:
      ``count`` (examples in the period), ``eff_size`` (``S_c``, which sets
      the margins), ``nonempty_bins``, ``min_width`` / ``max_width`` (of
      the new bins); with ``'bin_scalars'`` also every ``edge_<i>`` and
      ``density_<i>``;
    - ``'dump'``: the full state as ``{work_dir}/{dump_dir}/epoch_<k>.npz``
      (or ``iter_<k>.npz``) for ``tools/analysis/plot_grad_norm.py``.

    With ``fine_bins = F > 0`` it also records a histogram of the loss's own
    ``g`` in F uniform bins per class (a batch observer,
    :class:`FineHistogram`), the "real" distribution Fig. 2 (b) and (c)
    approximate; it is saved in checkpoints (key ``'grad_hist_vis'``) so a
    resumed run goes on seamlessly. The bins the reference was counted in
    come from the loss itself (``ref_edges``).

    The hook logs at the end of the iteration or epoch of the update, so it
    must run after the hook that calls ``update()``: its priority
    BELOW_NORMAL follows AURAHook (NORMAL); an update that comes after the
    hook has looked (seen at the next iteration, epoch or the end of
    training) is an error. Cost: nothing between updates unless
    ``fine_bins > 0`` (one ``searchsorted`` and ``index_add_`` over the
    batch); at an update a few small copies, one ``all_reduce`` of the
    fine histogram and, on rank 0, one small figure. Files are written on
    rank 0 only.

    Args:
        classes: Class indices to show; None picks head and tail classes by
            the training-set counts or, without them, by the counts in the
            histograms.
        head_tail: Numbers of most and least frequent classes shown when
            ``classes`` is None.
        fine_bins: Bins of the fine histogram of g (0: off). A multiple of
            the loss's ``num_bins`` (e.g. 300 for N = 30) makes the uniform
            re-binning of Fig. 2(b) exact.
        outputs: Any of ``'image'``, ``'scalars'``, ``'bin_scalars'`` (every
            bin edge and density as a scalar: 2N + 1 tags per class),
            ``'dump'``.
        dump_dir: Folder of the dumps, relative to the work dir.
        yscale: 'log' or 'linear' y axis of the image.
    """

    priority = 'BELOW_NORMAL'  # after AURAHook (NORMAL), before checkpoints

    def __init__(self,
                 classes: Optional[Sequence[int]] = None,
                 head_tail: Tuple[int, int] = (2, 2),
                 fine_bins: int = 0,
                 outputs: Sequence[str] = ('image', 'scalars', 'dump'),
                 dump_dir: str = 'grad_hist',
                 yscale: str = 'log') -> None:
        if classes is not None:
            if not classes or isinstance(classes, (str, bytes)):
                raise ValueError('classes must be None or a non-empty list '
                                 f'of class indices, got {classes!r}.')
            classes = [check_int(f'classes[{i}]', c)
                       for i, c in enumerate(classes)]
        if not isinstance(head_tail, (tuple, list)) or len(head_tail) != 2:
            raise ValueError('head_tail must be two ints >= 0 (most and '
                             'least frequent classes shown), got '
                             f'{head_tail!r}.')
        head_tail = tuple(check_int(f'head_tail[{i}]', n, 0)
                          for i, n in enumerate(head_tail))
        fine_bins = check_int('fine_bins', fine_bins, 0)
        if fine_bins == 1:
            raise ValueError('fine_bins must be 0 (off) or an int >= 2, got '
                             '1.')
        if isinstance(outputs, str) or set(outputs) - set(OUTPUTS):
            raise ValueError(f'outputs must be a subset of {OUTPUTS}, got '
                             f'{outputs!r}.')
        if yscale not in ('log', 'linear'):
            raise ValueError(
                f"yscale must be 'log' or 'linear', got {yscale!r}.")
        self.classes = None if classes is None else list(classes)
        self.head_tail = head_tail
        self.fine_bins = fine_bins
        self.outputs = set(outputs)
        self.dump_dir = dump_dir
        self.yscale = yscale
        self._losses: Dict[str, GHMCWAPLoss] = {}
        self._fine: Dict[str, FineHistogram] = {}
        self._handles: list = []
        # {loss name: the last update logged}, and the runner's (epoch,
        # iter) when the hook last looked
        self._seen: Dict[str, Optional[AURAUpdate]] = {}
        self._looked: Tuple[int, int] = (0, 0)
        self._loaded: Optional[dict] = None
        self._class_counts: Optional[np.ndarray] = None
        self._class_names: Optional[List[str]] = None

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------
    def _read_dataset(self, runner: Runner) -> None:
        try:
            dataset = runner.train_dataloader.dataset
        except Exception:  # noqa: BLE001 - no training set: pick by state
            return
        names = getattr(dataset, 'metainfo', {}).get('classes')
        if names is not None:
            self._class_names = [str(n) for n in names]
        if dist.is_main_process():  # only rank 0 draws
            try:
                self._class_counts = np.asarray(
                    dataset_class_counts(dataset), dtype=np.float64)
            except (TypeError, ValueError):
                self._class_counts = None

    def before_train(self, runner: Runner) -> None:
        self.after_train(runner)  # a second train() starts afresh
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._losses = {
            name: m
            for name, m in model.named_modules() if isinstance(m, GHMCWAPLoss)
        }
        if not self._losses:
            runner.logger.warning(
                'GradHistVisHook: the model has no GHMCWAPLoss; nothing to '
                'log.')
            return
        self._read_dataset(runner)
        self._looked = (runner.epoch, runner.iter)
        for name, loss in self._losses.items():
            if self.classes is not None:
                bad = [c for c in self.classes
                       if not 0 <= c < loss.num_classes]
                if bad:
                    raise ValueError(
                        f'GradHistVisHook: classes {bad} are outside [0, '
                        f'{loss.num_classes}) of the loss {name!r}.')
            self._seen[name] = loss.last_update  # earlier ones: not ours
            if self.fine_bins:
                fine = FineHistogram(loss.num_classes, self.fine_bins,
                                     loss.edges.device)
                self._restore(name, loss, fine)
                self._fine[name] = fine
                self._handles.append(
                    loss.register_batch_observer(fine.observe))
            else:
                self._restore(name, loss, None)
        self._loaded = None

    def _missed(self) -> List[str]:
        """The losses updated since the hook last looked."""
        return [name for name, seen in self._seen.items()
                if self._losses[name].last_update is not seen]

    def after_train(self, runner: Runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        try:
            self._check_none_missed(runner, 'the end of training')
        finally:
            self._seen = {}  # training is over: nothing more to log

    # ------------------------------------------------------------------
    # at the update points
    # ------------------------------------------------------------------
    def before_train_epoch(self, runner: Runner) -> None:
        self._check_none_missed(runner)

    def before_train_iter(self,
                          runner: Runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        self._check_none_missed(runner)

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        self._look(runner, by_epoch=False)

    def after_train_epoch(self, runner: Runner) -> None:
        self._look(runner, by_epoch=True)

    def _check_none_missed(self, runner: Runner,
                           seen_at: Optional[str] = None) -> None:
        """Refuse an update the hook could not log: one made after it
        looked (at the end of the last iteration or epoch)."""
        late = self._missed()
        if late:
            seen_at = seen_at or str((runner.epoch, runner.iter))
            raise ValueError(
                f'GradHistVisHook: the update of {late[0]!r} at (epoch, '
                f'iter) = {self._looked} is seen only at {seen_at}: the '
                'hook must run after the hook that calls update() '
                '(AURAHook, priority NORMAL); give it a lower priority '
                '(the default BELOW_NORMAL).')

    def _look(self, runner: Runner, by_epoch: bool) -> None:
        """Log the updates made since the hook last looked."""
        self._looked = (runner.epoch, runner.iter)
        for name in self._missed():
            record = self._losses[name].last_update
            self._seen[name] = record
            self._log(name, record, runner, by_epoch)

    def _state(self, name: str, record: AURAUpdate, runner: Runner,
               by_epoch: bool) -> GradHistState:
        loss = self._losses[name]
        seen = _np(record.seen).astype(bool)
        fine = self._fine.get(name)
        if fine is not None:
            fine.close_period(seen)
        edges = _np(record.edges)
        ref_edges = _np(record.ref_edges)
        known = np.isfinite(ref_edges).all(axis=1)  # NaN: older checkpoint
        return GradHistState(
            ref_density=_np(record.ref_density),
            ref_edges=np.where(known[:, None], ref_edges, edges),
            edges=edges,
            ref_edges_known=known,
            fine_hist=None if fine is None else fine.reference.copy(),
            class_counts=self._class_counts,
            class_names=self._class_names,
            loss_name=name,
            adaptive=loss.adaptive,
            num_updates=record.num_updates,
            epoch=runner.epoch + 1 if by_epoch else 0,
            iter=runner.iter + 1,
            extra=dict(updated=seen, eff_size=_np(loss.effective_size())))

    def _log(self, name: str, record: AURAUpdate, runner: Runner,
             by_epoch: bool) -> None:
        state = self._state(name, record, runner, by_epoch)  # collective
        if not dist.is_main_process():
            return
        many = len(self._losses) > 1
        suffix = f'.{name}' if many else ''
        step = runner.epoch + 1 if by_epoch else runner.iter + 1
        if 'dump' in self.outputs:
            stem = f'epoch_{step}' if by_epoch else f'iter_{step}'
            sep = '_' + name if many else ''
            state.save(
                osp.join(runner.work_dir, self.dump_dir, f'{stem}{sep}.npz'))
        classes = self._pick_classes(state)
        if self.outputs & {'scalars', 'bin_scalars'}:
            runner.visualizer.add_scalars(
                self._scalars(state, classes, suffix), step=step)
        if 'image' in self.outputs:
            fig = draw_class_histograms(state, classes, self.yscale)
            runner.visualizer.add_image(f'grad_hist{suffix}',
                                        figure_to_rgb(fig), step=step)

    def _pick_classes(self, state: GradHistState) -> List[int]:
        if self.classes is not None:
            return list(self.classes)
        head, tail = select_classes(state.frequencies(), *self.head_tail)
        return head + tail[::-1]  # panels from most to least frequent

    def _scalars(self, state: GradHistState, classes: List[int],
                 suffix: str) -> Dict[str, float]:
        counts = state.counts()
        widths = np.diff(state.edges, axis=1)
        eff = state.extra['eff_size']
        out = {}
        for c in classes:
            tag = f'grad_hist{suffix}/class_{c}'
            if 'scalars' in self.outputs:
                out[f'{tag}/count'] = float(counts[c])
                out[f'{tag}/eff_size'] = float(eff[c])
                out[f'{tag}/nonempty_bins'] = int(
                    (state.ref_density[c] > 0).sum())
                out[f'{tag}/min_width'] = float(widths[c].min())
                out[f'{tag}/max_width'] = float(widths[c].max())
            if 'bin_scalars' in self.outputs:
                for i, e in enumerate(state.edges[c]):
                    out[f'{tag}/edge_{i:02d}'] = float(e)
                for i, v in enumerate(state.heights()[c]):
                    out[f'{tag}/density_{i:02d}'] = float(v)
        return out

    # ------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------
    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if not self._losses:
            return
        saved = {}
        for name, loss in self._losses.items():
            fine = self._fine.get(name)
            saved[name] = dict(
                fine_ref=None if fine is None else
                torch.from_numpy(fine.reference).long(),
                fine_running=None if fine is None else
                fine.running.detach().cpu().clone(),
                class_counts=None if self._class_counts is None else
                torch.from_numpy(self._class_counts),
                adaptive=loss.adaptive)
        checkpoint[CHECKPOINT_KEY] = saved

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(CHECKPOINT_KEY)

    def _restore(self, name: str, loss: GHMCWAPLoss,
                 fine: Optional[FineHistogram]) -> None:
        """Take the record of the loss ``name`` from a resumed checkpoint."""
        saved = (self._loaded or {}).get(name)
        if saved is None:
            return
        # A checkpoint of an older version: the hook recorded the bins the
        # reference was counted in, where the loss itself has none (NaN).
        old = saved.get('ref_edges')
        if old is not None and tuple(old.shape) == tuple(loss.ref_edges.shape):
            unknown = ~torch.isfinite(loss.ref_edges).all(dim=1)
            with torch.no_grad():
                loss.ref_edges[unknown] = old.to(loss.ref_edges)[unknown]
        fine_ref, running = saved.get('fine_ref'), saved.get('fine_running')
        if fine is not None and fine_ref is not None and \
                tuple(fine_ref.shape) == tuple(fine.running.shape):
            fine.reference = fine_ref.double().numpy().copy()
            if running is not None:
                fine.running.copy_(running.to(fine.running))
