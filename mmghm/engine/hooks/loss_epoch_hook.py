"""Tell epoch-dependent losses the epoch (LDAM-DRW's re-weighting switch)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmghm.registry import HOOKS

__all__ = ['LossEpochHook', 'set_loss_epoch']


def set_loss_epoch(model, epoch: int) -> None:
    """Call ``set_epoch(epoch)`` on every module of the (unwrapped) model
    that has it: the work of :class:`LossEpochHook`, for training loops of
    one's own.

    Args:
        model: The model (a model wrapper is unwrapped).
        epoch: The 0-based training epoch about to start.
    """
    if is_model_wrapper(model):
        model = model.module
    for module in model.modules():
        set_epoch = getattr(module, 'set_epoch', None)
        if callable(set_epoch):
            set_epoch(epoch)


@HOOKS.register_module()
class LossEpochHook(Hook):
    """Call ``set_epoch(runner.epoch)`` on every module that has it.

    Runs before each training epoch, so a loss such as
    :class:`mmghm.models.losses.LDAMLoss` switches on its deferred
    re-weighting at the right (0-based) epoch, also after ``--resume``.
    Modules are found in the unwrapped model by ``model.modules()``, so the
    head's path does not matter. It works with epoch-based loops; with
    iteration-based loops ``runner.epoch`` stays 0.
    """

    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        set_loss_epoch(runner.model, runner.epoch)
