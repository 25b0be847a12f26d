"""The epoch-end (or every-K-iterations) AURA update of GHM-CWAP."""
from typing import Dict, List, Optional

import torch
from mmengine import dist
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mmghm.models.losses.ghm_cwap_loss import GHMCWAPLoss
from mmghm.registry import HOOKS
from mmghm.utils.checks import check_int

__all__ = ['AURAHook', 'aura_due', 'find_ghm_cwap_losses', 'find_losses']

#: Key under ``checkpoint['meta']``: every rank's running density at the
#: moment of the checkpoint, ``{module name: (world_size, C, N) tensor}``.
RANK_DENSITY_KEY = 'mmghm_aura_rank_density'


def find_losses(model, types) -> Dict[str, torch.nn.Module]:
    """``{module name: module}`` of every module of ``model`` (unwrapped
    from DDP etc.) that is an instance of ``types`` (a class or a tuple of
    classes, as for ``isinstance``), in module order."""
    if is_model_wrapper(model):
        model = model.module
    return {
        name: m
        for name, m in model.named_modules() if isinstance(m, types)
    }


def find_ghm_cwap_losses(model) -> List[GHMCWAPLoss]:
    """Every :class:`GHMCWAPLoss` in ``model`` (unwrapped from DDP etc.)."""
    return list(find_losses(model, GHMCWAPLoss).values())


def aura_due(by_epoch: bool,
             interval: int,
             epochs_done: Optional[int] = None,
             iters_done: Optional[int] = None) -> bool:
    """Whether :class:`AURAHook` updates now.

    Asked at the end of an epoch with ``epochs_done`` (the epochs finished,
    this one included) and after an iteration with ``iters_done`` (the
    iterations finished, this one included): by epochs (``by_epoch``) the
    update is due after every ``interval``-th epoch, else after every
    ``interval``-th iteration.
    """
    done = epochs_done if by_epoch else iters_done
    return done is not None and done % interval == 0


@HOOKS.register_module()
class AURAHook(Hook):
    """Call :meth:`GHMCWAPLoss.update` (Algorithm 1) on every GHM-CWAP loss.

    It runs at the end of every ``interval`` training epochs
    (``by_epoch=True``), or every ``interval`` iterations for
    iteration-based loops (detection, segmentation). Its priority is NORMAL,
    above MMEngine's ``CheckpointHook`` (VERY_LOW), so a checkpoint written
    at an update holds the synced, updated histograms. Every rank runs it:
    the update all-reduces the running densities.

    Between updates each rank counts into its own running ``density``
    (method.md §7), and a checkpoint, written by rank 0 alone, would hold
    only rank 0's. So under several processes the hook also gathers every
    rank's running density where a checkpoint is saved between updates (at
    epoch ends, and at the iterations of iteration-based checkpoints) into
    ``checkpoint['meta']['mmghm_aura_rank_density']``; on resume (or
    ``load_from``) each rank gets its own back. With another number of
    processes than the checkpoint's, or a checkpoint without them, rank 0
    keeps the loaded running density and the others start from zero, so the
    next update still counts every example exactly once.

    In ``before_train`` it claims every loss it drives
    (:meth:`~mmghm.models.losses.BaseClsLoss.claim`): a GHM-CWAP loss that
    trains without it logs a warning at its first step that names this
    hook.

    Args:
        by_epoch: Update per epoch (True) or per iteration (False).
        interval: Epochs or iterations between updates.
    """

    priority = 'NORMAL'

    def __init__(self, by_epoch: bool = True, interval: int = 1) -> None:
        self.by_epoch = bool(by_epoch)
        self.interval = check_int('interval', interval, 1)
        self._losses: Optional[Dict[str, GHMCWAPLoss]] = None
        # {name: (world, C, N)} gathered for a checkpoint of this point of
        # training; per-rank densities read from a loaded checkpoint.
        self._gathered: Optional[Dict[str, torch.Tensor]] = None
        self._loaded: Optional[Dict[str, torch.Tensor]] = None
        self._loaded_any = False
        self._ckpt_iter_intervals: List[int] = []

    def _find(self, runner: Runner) -> Dict[str, GHMCWAPLoss]:
        if self._losses is None:
            self._losses = find_losses(runner.model, GHMCWAPLoss)
        return self._losses

    def before_train(self, runner: Runner) -> None:
        self._losses = None
        if not self._find(runner):
            runner.logger.warning(
                'AURAHook: the model has no GHMCWAPLoss; nothing to update.')
        for loss in self._find(runner).values():
            # A GHMCWAPLoss that trains unclaimed warns (the hook is
            # missing from custom_hooks).
            loss.claim('mmghm.AURAHook')
        # Iteration-based checkpoints: gather at the iterations they save.
        self._ckpt_iter_intervals = [
            h.interval for h in runner.hooks
            if isinstance(h, CheckpointHook) and not h.by_epoch
        ]
        if self._loaded_any:
            self._restore_rank_density(runner)

    def _update(self, runner: Runner) -> None:
        for loss in self._find(runner).values():
            loss.update()
        self._sync_ema_copies(runner)

    def _sync_ema_copies(self, runner: Runner) -> None:
        """Give the losses of EMA copies of the model (MMEngine's
        ``EMAHook``) the state just updated.

        An EMA copy copies the trained model's buffers after every
        iteration, before this epoch-end update, so its losses would hold
        the state of one update earlier (the full running density, the old
        reference); ``EMAHook`` saves them as the checkpoint's
        ``state_dict``, and a ``load_from`` of it would count that epoch
        twice. The copies never train, so they only mirror the state.
        """
        losses = self._find(runner)
        for hook in runner.hooks:
            ema = getattr(getattr(hook, 'ema_model', None), 'module', None)
            if ema is None:
                continue
            for name, copy_ in find_losses(ema, GHMCWAPLoss).items():
                source = losses.get(name)
                if source is not None and copy_ is not source:
                    copy_.load_state_dict(source.state_dict())

    def after_train_epoch(self, runner: Runner) -> None:
        if aura_due(self.by_epoch, self.interval,
                    epochs_done=runner.epoch + 1):
            self._update(runner)
        self._gather(runner)

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if aura_due(self.by_epoch, self.interval,
                    iters_done=runner.iter + 1):
            self._update(runner)
        if any(self.every_n_train_iters(runner, k)
               for k in self._ckpt_iter_intervals) or (
                   self.is_last_train_iter(runner)
                   and not getattr(runner.train_loop, '_max_epochs', None)):
            self._gather(runner)

    def before_train_iter(self, runner: Runner, batch_idx: int,
                          data_batch=None) -> None:
        self._gathered = None  # stale once training goes on

    # -- per-rank running densities in checkpoints --------------------------
    def _gather(self, runner: Runner) -> None:
        """Every rank's running density, kept for the next checkpoint
        (a collective: every rank calls it at the same points)."""
        if dist.get_world_size() == 1:
            return
        gathered = {
            name: torch.stack(dist.all_gather(loss.density))
            for name, loss in self._find(runner).items()
        }
        self._gathered = gathered

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        # Gathered since the last training iteration, so still current.
        if self._gathered is not None:
            checkpoint.setdefault('meta', {})[RANK_DENSITY_KEY] = {
                name: t.cpu()
                for name, t in self._gathered.items()
            }

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        # Called before the state dict reaches the model: keep them for
        # before_train, which runs after it.
        self._loaded_any = True
        self._loaded = (checkpoint.get('meta') or {}).get(RANK_DENSITY_KEY)

    def _restore_rank_density(self, runner: Runner) -> None:
        self._loaded_any = False
        loaded, self._loaded = self._loaded, None
        world, rank = dist.get_world_size(), dist.get_rank()
        for name, loss in self._find(runner).items():
            per_rank = None if loaded is None else loaded.get(name)
            if per_rank is not None and per_rank.shape[0] == world:
                loss.density.copy_(per_rank[rank])
                continue
            if per_rank is not None:
                runner.logger.warning(
                    f'AURAHook: the checkpoint holds the running densities '
                    f'of {per_rank.shape[0]} processes, this run has '
                    f'{world}; rank 0 continues with their sum.')
                total = per_rank.sum(dim=0).to(loss.density)
                loss.density.copy_(total if rank == 0 else
                                   torch.zeros_like(total))
            elif rank > 0:
                # Every rank loaded rank 0's density: count it once.
                loss.density.zero_()
