"""Log GHM-CWAP's gradient-norm histograms at every AURA update."""
import os.path as osp
import types
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mmghm.models.losses.ghm_cwap_loss import GHMCWAPLoss
from mmghm.registry import HOOKS
from mmghm.visualization.grad_hist import (CHECKPOINT_KEY, GradHistState,
                                           draw_class_histograms,
                                           figure_to_rgb, select_classes)
from .aura_hook import AURAHook

__all__ = ['GradHistVisHook']


class _Track:
    """What the hook keeps for one loss between updates (CPU NumPy, plus
    the running fine histogram on the loss's device)."""

    def __init__(self, name: str, loss: GHMCWAPLoss) -> None:
        self.name = name
        self.loss = loss
        self.edges_in_force = _np(loss.edges)
        self.prev_ref = _np(loss.ref_density)
        self.ref_edges = self.edges_in_force.copy()
        # Before the first update the reference is empty: nothing unknown.
        self.ref_edges_known = np.full(loss.num_classes,
                                       int(loss.num_updates) == 0)
        self.last_updates = int(loss.num_updates)
        self.fine_running: Optional[torch.Tensor] = None
        self.fine_ref: Optional[np.ndarray] = None
        self.handle = None


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to('cpu', torch.float64).numpy().copy()


@HOOKS.register_module()
class GradHistVisHook(Hook):
    """Show what GHM-CWAP's histograms look like (the paper's Fig. 2).

    A companion of :class:`AURAHook`: right after each AURA update
    (Algorithm 1) it takes, for every :class:`GHMCWAPLoss` of the model,

    - the reference histogram ``ref_density`` with the bins it was counted
      in (the loss's ``edges`` are already the new bins after the update, so
      the hook remembers the bins in force during each period),
    - the new bins ``edges``,
    - optionally a fine histogram of ``g`` (``fine_bins`` uniform bins per
      class) over the same examples, the "real" distribution that Fig. 2
      (b) and (c) approximate,

    and, for a set of classes (default: the ``num_head`` most and
    ``num_tail`` least frequent), logs through ``runner.visualizer`` (so to
    every configured backend: local files, TensorBoard, W&B, ...)

    - an image ``grad_hist`` (bars with their true widths, the next bins as
      ticks) with ``add_image``,
    - scalars ``grad_hist/class_<c>/...`` with ``add_scalars``: ``count``
      (examples in the period), ``eff_size`` (``S_c``, which sets the
      margins), ``nonempty_bins``, ``min_width`` / ``max_width`` (of the new
      bins) and, with ``log_bin_scalars``, every ``edge_<i>`` and
      ``density_<i>``,

    and writes the full state to ``{work_dir}/{dump_dir}/epoch_<k>.npz`` (or
    ``iter_<k>.npz``) for ``tools/analysis/plot_grad_norm.py``. Its state is
    also saved in checkpoints (key ``'grad_hist_vis'``), so the plot tool
    can read a checkpoint exactly and a resumed run goes on seamlessly.

    Cost: nothing between updates unless ``fine_bins > 0`` (then the loss's
    own ``g`` of each batch is binned once more, a ``searchsorted`` and an
    ``index_add_`` over the batch); at an update a
    few small copies, one ``all_reduce`` of the fine histogram, and on rank
    0 one small Agg figure. Files are written on rank 0 only.

    Args:
        by_epoch: Log after epoch-end or iteration updates. None: as the
            runner's AURAHook.
        interval: Epochs or iterations between updates. None: as AURAHook.
        classes: Class indices to draw; None picks head and tail classes by
            the training-set counts (dataset ``metainfo['class_counts']``)
            or, without them, by the counts in the histograms.
        num_head: Most frequent classes drawn when ``classes`` is None.
        num_tail: Least frequent classes drawn when ``classes`` is None.
        draw_images: Log the image (one small figure per update).
        log_scalars: Log the per-class scalars.
        log_bin_scalars: Also log every bin edge and density as a scalar
            (2N + 1 tags per class: many for TensorBoard).
        dump: Write the per-update ``.npz`` files.
        dump_dir: Folder of the dumps, relative to the work dir.
        fine_bins: Bins of the fine histogram of g (0: off). A multiple of
            the loss's ``num_bins`` (e.g. 300 for N = 30) makes the uniform
            re-binning of Fig. 2(b) exact.
        yscale: 'log' or 'linear' y axis of the image.
    """

    priority = 'BELOW_NORMAL'  # after AURAHook (NORMAL), before checkpoints

    def __init__(self,
                 by_epoch: Optional[bool] = None,
                 interval: Optional[int] = None,
                 classes: Optional[Sequence[int]] = None,
                 num_head: int = 2,
                 num_tail: int = 2,
                 draw_images: bool = True,
                 log_scalars: bool = True,
                 log_bin_scalars: bool = False,
                 dump: bool = True,
                 dump_dir: str = 'grad_hist',
                 fine_bins: int = 0,
                 yscale: str = 'log') -> None:
        if interval is not None and (not isinstance(interval, int)
                                     or isinstance(interval, bool)
                                     or interval < 1):
            raise ValueError(
                f'interval must be None or an int >= 1, got {interval!r}.')
        if by_epoch is not None and not isinstance(by_epoch, bool):
            raise ValueError(
                f'by_epoch must be None or a bool, got {by_epoch!r}.')
        for name, value in (('num_head', num_head), ('num_tail', num_tail),
                            ('fine_bins', fine_bins)):
            if not isinstance(value, int) or isinstance(value, bool) \
                    or value < 0:
                raise ValueError(
                    f'{name} must be an int >= 0, got {value!r}.')
        if fine_bins == 1:
            raise ValueError('fine_bins must be 0 (off) or >= 2, got 1.')
        if classes is not None:
            classes = list(classes)
            if not classes or not all(
                    isinstance(c, int) and not isinstance(c, bool)
                    for c in classes):
                raise ValueError('classes must be None or a non-empty list '
                                 f'of class indices, got {classes!r}.')
        if yscale not in ('log', 'linear'):
            raise ValueError(
                f"yscale must be 'log' or 'linear', got {yscale!r}.")
        self.by_epoch = by_epoch
        self.interval = interval
        self.classes = classes
        self.num_head = num_head
        self.num_tail = num_tail
        self.draw_images = draw_images
        self.log_scalars = log_scalars
        self.log_bin_scalars = log_bin_scalars
        self.dump = dump
        self.dump_dir = dump_dir
        self.fine_bins = fine_bins
        self.yscale = yscale
        self._tracks: List[_Track] = []
        self._loaded: Optional[dict] = None
        self._class_counts: Optional[np.ndarray] = None
        self._class_names: Optional[List[str]] = None

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------
    def _schedule_from_aura(self, runner: Runner) -> None:
        """Copy by_epoch/interval from the AURAHook and check the order."""
        hooks = list(runner.hooks)
        aura = [h for h in hooks if isinstance(h, AURAHook)]
        if not aura:
            runner.logger.warning(
                'GradHistVisHook: no AURAHook is registered, so the '
                'histograms are never updated and nothing will be logged.')
        elif hooks.index(aura[0]) > hooks.index(self):
            raise ValueError(
                'GradHistVisHook must run after AURAHook to see each update: '
                'give it a lower priority (e.g. the default BELOW_NORMAL) '
                f'than AURAHook ({aura[0].priority}).')
        if self.by_epoch is None:
            self.by_epoch = aura[0].by_epoch if aura else True
        if self.interval is None:
            self.interval = aura[0].interval if aura else 1
        if aura and (self.by_epoch, self.interval) != (aura[0].by_epoch,
                                                       aura[0].interval):
            runner.logger.warning(
                f'GradHistVisHook(by_epoch={self.by_epoch}, interval='
                f'{self.interval}) differs from AURAHook(by_epoch='
                f'{aura[0].by_epoch}, interval={aura[0].interval}); only '
                'updates that fall on its own schedule are logged.')

    def _read_dataset_meta(self, runner: Runner) -> None:
        try:
            meta = runner.train_dataloader.dataset.metainfo
        except Exception:  # no train dataloader or a dataset without meta
            return
        counts = meta.get('class_counts')
        if counts is not None:
            self._class_counts = np.asarray(counts, dtype=np.float64)
        names = meta.get('classes')
        if names is not None:
            self._class_names = [str(n) for n in names]

    def before_train(self, runner: Runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        losses = [(n, m) for n, m in model.named_modules()
                  if isinstance(m, GHMCWAPLoss)]
        self.after_train(runner)  # a second train() starts afresh
        self._tracks = []
        if not losses:
            runner.logger.warning(
                'GradHistVisHook: the model has no GHMCWAPLoss; nothing to '
                'log.')
            return
        self._schedule_from_aura(runner)
        self._read_dataset_meta(runner)
        for name, loss in losses:
            if self.classes is not None:
                bad = [c for c in self.classes
                       if not 0 <= c < loss.num_classes]
                if bad:
                    raise ValueError(
                        f'GradHistVisHook: classes {bad} are outside [0, '
                        f'{loss.num_classes}) of the loss {name!r}.')
            track = _Track(name, loss)
            self._restore(track)
            if self.fine_bins:
                if track.fine_running is None:
                    track.fine_running = torch.zeros(
                        loss.num_classes, self.fine_bins, dtype=torch.long,
                        device=loss.edges.device)
                if track.fine_ref is None:
                    track.fine_ref = np.zeros(
                        (loss.num_classes, self.fine_bins))
                # float32 edges as the loss's, compared in float64
                track.fine_edges = torch.linspace(
                    0, 1, self.fine_bins + 1, dtype=torch.float64).float(
                    ).double().to(loss.edges.device)
                self._attach_counter(track)
            self._tracks.append(track)
        self._loaded = None

    def after_train(self, runner: Runner) -> None:
        for track in self._tracks:
            self._detach_counter(track)

    # ------------------------------------------------------------------
    # the fine histogram of the loss's own g
    # ------------------------------------------------------------------
    def _attach_counter(self, track: _Track) -> None:
        """Observe the ``g`` of every example the loss counts.

        The loss bins its examples in ``_intra_weights(label, g, valid,
        weight, counting)``; the hook wraps that method on the instance (a
        bound method, so a deep copy of the model binds to the copy) and
        counts the same examples (finite g, not ignored, weight != 0,
        training with gradients) into ``fine_bins`` uniform bins. Nothing of
        the loss's arithmetic is repeated here, so g is exactly the loss's.
        """
        loss = track.loss
        original = getattr(type(loss), '_intra_weights', None)
        if original is None:
            raise RuntimeError(
                'GradHistVisHook(fine_bins>0) observes g through '
                'GHMCWAPLoss._intra_weights(label, g, valid, weight, '
                'counting), which this version of the loss lacks; use '
                'fine_bins=0.')
        hook = self

        def observed(loss_self, label, g, valid, weight, counting):
            if counting:
                hook._count_fine(track, label, g, valid, weight)
            return original(loss_self, label, g, valid, weight, counting)

        loss._intra_weights = types.MethodType(observed, loss)
        track.handle = loss

    @staticmethod
    def _detach_counter(track: _Track) -> None:
        if track.handle is not None:
            track.handle.__dict__.pop('_intra_weights', None)
            track.handle = None

    @torch.no_grad()
    def _count_fine(self, track: _Track, label: torch.Tensor,
                    g: torch.Tensor, valid: Optional[torch.Tensor],
                    weight: Optional[torch.Tensor]) -> None:
        F = self.fine_bins
        member = torch.isfinite(g)
        if valid is not None:
            member &= valid
        if weight is not None:
            member &= weight.reshape(-1) != 0
        # g equal to an edge goes to the bin above, g = 1 to the last bin:
        # the loss's rule (method.md §2).
        fine = torch.searchsorted(
            track.fine_edges[1:F].contiguous(),
            g.double().nan_to_num(0.0).clamp_(0, 1),
            right=True)
        track.fine_running.view(-1).index_add_(
            0, label.long() * F + fine, member.long())

    # ------------------------------------------------------------------
    # at the update points
    # ------------------------------------------------------------------
    def after_train_epoch(self, runner: Runner) -> None:
        if self._tracks and self.by_epoch and self.every_n_epochs(
                runner, self.interval):
            self._after_update(runner)

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self._tracks and not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            self._after_update(runner)

    def _after_update(self, runner: Runner) -> None:
        many = len(self._tracks) > 1
        for track in self._tracks:
            num_updates = int(track.loss.num_updates)
            if num_updates == track.last_updates:
                continue  # AURAHook did not update at this point
            if num_updates > track.last_updates + 1:
                runner.logger.warning(
                    f'GradHistVisHook: {num_updates - track.last_updates} '
                    f'AURA updates of {track.name!r} since the last log; '
                    'the bins in force are known for the last one only. '
                    'Give the hook the schedule of AURAHook.')
            state = self._advance(track, runner)
            if not dist.is_main_process():
                continue
            suffix = f'.{track.name}' if many else ''
            step = runner.epoch + 1 if self.by_epoch else runner.iter + 1
            if self.dump:
                stem = f'epoch_{step}' if self.by_epoch else f'iter_{step}'
                sep = '_' + track.name if many else ''
                state.save(
                    osp.join(runner.work_dir, self.dump_dir,
                             f'{stem}{sep}.npz'))
            if not (self.log_scalars or self.draw_images):
                continue
            classes = self._pick_classes(state)
            if self.log_scalars:
                runner.visualizer.add_scalars(
                    self._scalars(track, state, classes, suffix), step=step)
            if self.draw_images:
                fig = draw_class_histograms(state, classes, self.yscale)
                runner.visualizer.add_image(f'grad_hist{suffix}',
                                            figure_to_rgb(fig), step=step)

    def _advance(self, track: _Track, runner: Runner) -> GradHistState:
        """Move the hook's per-loss record past one update; return the
        state of this update."""
        loss = track.loss
        ref, edges = _np(loss.ref_density), _np(loss.edges)
        # Classes the update took a new reference for: their reference or
        # bins changed (exact equality of two epochs' float histograms with
        # different bins does not happen), or the fine histogram saw them.
        seen = (ref != track.prev_ref).any(axis=1) | (
            edges != track.edges_in_force).any(axis=1)
        if track.fine_running is not None:
            dist.all_reduce(track.fine_running, op='sum')
            fine = track.fine_running.to('cpu', torch.float64).numpy()
            seen |= fine.sum(axis=1) > 0
            track.fine_ref[seen] = fine[seen]
            track.fine_running.zero_()
        track.ref_edges[seen] = track.edges_in_force[seen]
        track.ref_edges_known[seen] = True
        track.edges_in_force = edges
        track.prev_ref = ref
        track.last_updates = int(loss.num_updates)
        return GradHistState(
            ref_density=ref,
            ref_edges=track.ref_edges.copy(),
            edges=edges,
            ref_edges_known=track.ref_edges_known.copy(),
            fine_hist=None if track.fine_ref is None else
            track.fine_ref.copy(),
            class_counts=self._class_counts,
            class_names=self._class_names,
            loss_name=track.name,
            adaptive=loss.adaptive,
            num_updates=track.last_updates,
            epoch=runner.epoch + 1 if self.by_epoch else 0,
            iter=runner.iter + 1,
            extra=dict(
                updated=seen,
                eff_size=loss.log_effective_size().detach().to(
                    'cpu', torch.float64).exp().numpy()))

    def _pick_classes(self, state: GradHistState) -> List[int]:
        if self.classes is not None:
            return list(self.classes)
        head, tail = select_classes(state.frequencies(), self.num_head,
                                    self.num_tail)
        return head + tail[::-1]  # panels from most to least frequent

    def _scalars(self, track: _Track, state: GradHistState,
                 classes: List[int], suffix: str) -> Dict[str, float]:
        counts = state.counts()
        widths = np.diff(state.edges, axis=1)
        eff = state.extra['eff_size']
        out = {}
        for c in classes:
            tag = f'grad_hist{suffix}/class_{c}'
            out[f'{tag}/count'] = float(counts[c])
            out[f'{tag}/eff_size'] = float(eff[c])
            out[f'{tag}/nonempty_bins'] = int((state.ref_density[c] >
                                               0).sum())
            out[f'{tag}/min_width'] = float(widths[c].min())
            out[f'{tag}/max_width'] = float(widths[c].max())
            if self.log_bin_scalars:
                for i, e in enumerate(state.edges[c]):
                    out[f'{tag}/edge_{i:02d}'] = float(e)
                for i, v in enumerate(state.heights()[c]):
                    out[f'{tag}/density_{i:02d}'] = float(v)
        return out

    # ------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------
    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if not self._tracks:
            return
        checkpoint[CHECKPOINT_KEY] = {
            t.name: dict(
                ref_edges=torch.from_numpy(t.ref_edges).float(),
                ref_edges_known=torch.from_numpy(t.ref_edges_known),
                fine_ref=None if t.fine_ref is None else
                torch.from_numpy(t.fine_ref).long(),
                fine_running=None if t.fine_running is None else
                t.fine_running.detach().cpu().clone(),
                class_counts=None if self._class_counts is None else
                torch.from_numpy(self._class_counts),
                adaptive=t.loss.adaptive)
            for t in self._tracks
        }

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(CHECKPOINT_KEY)

    def _restore(self, track: _Track) -> None:
        """Take the record of ``track`` from a resumed checkpoint."""
        saved = (self._loaded or {}).get(track.name)
        if saved is None or tuple(saved['ref_edges'].shape) != \
                tuple(track.loss.edges.shape):
            return
        track.ref_edges = saved['ref_edges'].double().numpy().copy()
        track.ref_edges_known = saved['ref_edges_known'].numpy().astype(
            bool).copy()
        fine_ref, running = saved.get('fine_ref'), saved.get('fine_running')
        if self.fine_bins and fine_ref is not None and \
                fine_ref.shape[1] == self.fine_bins:
            track.fine_ref = fine_ref.double().numpy().copy()
            if running is not None:
                track.fine_running = running.to(
                    track.loss.edges.device).long()
