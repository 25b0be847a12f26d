"""Channels-last memory format for the model (faster convolutions on CPU)."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmghm.registry import HOOKS

__all__ = ['ChannelsLastHook']


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Store the model's 4-D weights in channels-last (NHWC) memory format.

    PyTorch's convolutions then run their channels-last kernels and return
    channels-last outputs, so the inputs need no conversion. The values
    are those of the default format up to floating-point rounding (other
    summation order); parameters keep their identity, so the optimizer and
    EMA copies are unaffected, and checkpoints store the same tensors. Use
    ``tools/train.py --channels-last`` or add
    ``dict(type='mmghm.ChannelsLastHook')`` to ``custom_hooks``.

    It runs before training, validation and testing (after MMEngine has
    loaded or resumed a checkpoint, whose values are copied into the
    converted parameters), on the unwrapped model.
    """

    priority = 'VERY_HIGH'

    def _convert(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        model.to(memory_format=torch.channels_last)

    def before_train(self, runner) -> None:
        self._convert(runner)

    def before_val(self, runner) -> None:
        self._convert(runner)

    def before_test(self, runner) -> None:
        self._convert(runner)
