"""Tell epoch-dependent losses the epoch (LDAM-DRW's re-weighting switch)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmghm.registry import HOOKS

__all__ = ['LossEpochHook']


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
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        epoch = runner.epoch
        for module in model.modules():
            set_epoch = getattr(module, 'set_epoch', None)
            if callable(set_epoch):
                set_epoch(epoch)
