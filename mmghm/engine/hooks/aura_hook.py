"""The epoch-end (or every-K-iterations) AURA update of GHM-CWAP."""
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mmghm.models.losses.ghm_cwap_loss import GHMCWAPLoss
from mmghm.registry import HOOKS

__all__ = ['AURAHook', 'find_ghm_cwap_losses']


def find_ghm_cwap_losses(model) -> List[GHMCWAPLoss]:
    """Every :class:`GHMCWAPLoss` in ``model`` (unwrapped from DDP etc.)."""
    if is_model_wrapper(model):
        model = model.module
    return [m for m in model.modules() if isinstance(m, GHMCWAPLoss)]


@HOOKS.register_module()
class AURAHook(Hook):
    """Call :meth:`GHMCWAPLoss.update` (Algorithm 1) on every GHM-CWAP loss.

    It runs at the end of every ``interval`` training epochs
    (``by_epoch=True``), or every ``interval`` iterations for
    iteration-based loops (detection, segmentation). Its priority is NORMAL,
    above MMEngine's ``CheckpointHook`` (VERY_LOW), so a checkpoint always
    holds the synced, updated histograms and a resume continues exactly.
    Every rank runs it: the update all-reduces the running densities.

    Args:
        by_epoch: Update per epoch (True) or per iteration (False).
        interval: Epochs or iterations between updates.
    """

    priority = 'NORMAL'

    def __init__(self, by_epoch: bool = True, interval: int = 1) -> None:
        if not isinstance(interval, int) or isinstance(interval, bool) \
                or interval < 1:
            raise ValueError(
                f'interval must be an int >= 1, but got {interval!r}.')
        self.by_epoch = bool(by_epoch)
        self.interval = interval
        self._losses: Optional[List[GHMCWAPLoss]] = None

    def before_train(self, runner: Runner) -> None:
        self._losses = find_ghm_cwap_losses(runner.model)
        if not self._losses:
            runner.logger.warning(
                'AURAHook: the model has no GHMCWAPLoss; nothing to update.')

    def _update(self, runner: Runner) -> None:
        if self._losses is None:
            self._losses = find_ghm_cwap_losses(runner.model)
        for loss in self._losses:
            loss.update()

    def after_train_epoch(self, runner: Runner) -> None:
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            self._update(runner)

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            self._update(runner)
