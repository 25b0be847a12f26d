"""Freeze the representation for a decoupled second stage (Kang et al.)."""
from typing import Dict, Optional, Sequence

from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.model.weight_init import initialize
from torch import nn

from mmghm.registry import HOOKS
from mmghm.utils.checks import check_bool

__all__ = ['FreezeRepresentationHook']

DATA_BATCH = Optional[dict]


@HOOKS.register_module()
class FreezeRepresentationHook(Hook):
    """Keep the representation of a stage-1 model fixed while the
    classifier trains (cRT, LWS: Kang et al., ICLR 2020).

    Before training, the parameters of ``modules`` (the backbone and neck
    by default) stop requiring gradients, so the optimizer never changes
    them (and no gradient is computed through them); before every training
    iteration they are put in eval mode, so that BatchNorm uses and keeps
    its stage-1 running statistics (the Runner puts the whole model in
    train mode at each epoch's start). Their weights and buffers stay
    bit-identical to the checkpoint's.

    With ``reinit_head`` the head is re-initialised when training starts
    from iteration 0 (classifier re-training, cRT: the head's ``init_cfg``,
    else each layer's ``reset_parameters``), after ``load_from`` has loaded
    the stage-1 checkpoint; a resumed stage 2 (``--resume``) keeps the head
    of its checkpoint. Under DDP rank 0's new head is broadcast.

    Distributed training needs ``find_unused_parameters = True`` in the
    config (DDP registers the parameters before this hook freezes them);
    the hook says so if it is missing.

    Args:
        modules: Attribute names of the model's frozen parts.
        reinit_head: Re-initialise ``model.head`` at the start of stage 2.
        require_checkpoint: Refuse to start a stage 2 (iteration 0) without
            ``load_from``: a frozen random representation is a mistake.
    """

    priority = 'VERY_HIGH'

    def __init__(self, modules: Sequence[str] = ('backbone', 'neck'),
                 reinit_head: bool = False,
                 require_checkpoint: bool = True) -> None:
        if isinstance(modules, str) or not all(
                isinstance(m, str) and m for m in modules) or not modules:
            raise ValueError('FreezeRepresentationHook: modules must be a '
                             'non-empty list of attribute names of the '
                             f"model, e.g. ('backbone', 'neck'); got "
                             f'{modules!r}.')
        self.reinit_head = check_bool('FreezeRepresentationHook: '
                                      'reinit_head', reinit_head)
        self.modules = tuple(modules)
        self.require_checkpoint = bool(require_checkpoint)
        self._frozen: Dict[str, nn.Module] = {}

    @staticmethod
    def _model(runner) -> nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        if self.require_checkpoint and runner.iter == 0 and \
                not getattr(runner, '_load_from', None):
            raise ValueError(
                'FreezeRepresentationHook: a decoupled second stage starts '
                'from a stage-1 checkpoint, but load_from is not set; pass '
                '--cfg-options load_from=work_dirs/<stage 1>/epoch_N.pth '
                '(or require_checkpoint=False to freeze the initial '
                'weights).')
        model = self._model(runner)
        missing = [name for name in self.modules
                   if not isinstance(getattr(model, name, None), nn.Module)]
        if missing:
            have = [n for n, _ in model.named_children()]
            raise ValueError(
                f'FreezeRepresentationHook: the model has no {missing} '
                f'(its parts: {have}); set modules to some of them.')
        self._frozen = {name: getattr(model, name) for name in self.modules}
        for module in self._frozen.values():
            module.requires_grad_(False)
        if is_model_wrapper(runner.model) and \
                isinstance(runner.model, nn.parallel.DistributedDataParallel) \
                and not runner.model.find_unused_parameters:
            raise RuntimeError(
                'FreezeRepresentationHook under distributed training needs '
                'find_unused_parameters = True in the config (DDP registered '
                'the frozen parameters before they were frozen).')
        trainable = [n for n, p in model.named_parameters()
                     if p.requires_grad]
        if not trainable:
            raise ValueError('FreezeRepresentationHook: nothing is left to '
                             f'train once {list(self.modules)} are frozen.')
        if self.reinit_head and runner.iter == 0:
            self._reinit(model.head)
            runner.logger.info('FreezeRepresentationHook: head '
                               're-initialised for classifier re-training.')
        frozen = sum(p.numel() for m in self._frozen.values()
                     for p in m.parameters())
        runner.logger.info(
            f'FreezeRepresentationHook: {list(self.modules)} frozen '
            f'({frozen} parameters, normalisation in eval mode); training '
            f'{trainable}.')
        self._set_eval()

    @staticmethod
    def _reinit(head: nn.Module) -> None:
        init_cfg = getattr(head, 'init_cfg', None)
        if init_cfg:
            initialize(head, init_cfg)
        else:
            for m in head.modules():
                if m is not head and hasattr(m, 'reset_parameters'):
                    m.reset_parameters()
        if dist.get_world_size() > 1:
            for tensor in list(head.parameters()) + list(head.buffers()):
                dist.broadcast(tensor.data, src=0)

    def _set_eval(self) -> None:
        for module in self._frozen.values():
            module.eval()

    def before_train_epoch(self, runner) -> None:
        self._set_eval()

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        # EpochBasedTrainLoop calls model.train() after before_train_epoch.
        self._set_eval()
