"""Checkpoints that are never half-written, and checkpoints of another model
that are never loaded as if they fitted.

:class:`AtomicCheckpointHook`
    MMEngine's ``CheckpointHook`` whose checkpoints and ``last_checkpoint``
    are written to a temporary name and renamed into place (a crash or a
    full disk leaves no truncated ``epoch_N.pth``), and which deletes the
    checkpoint that ``max_keep_ckpts`` retires only after the new one is
    saved (MMEngine deletes it first, so a crash while saving could leave
    no checkpoint at all). The default ``checkpoint`` hook of mmghm's
    configs (``configs/_base_/default_runtime.py``).
:class:`StrictLoadHook`
    Refuses a checkpoint whose model weights do not match the model: keys
    the model has and the checkpoint lacks, keys the checkpoint has and the
    model lacks, or tensors of another shape. MMEngine loads with
    ``strict=False`` (``--resume``, ``load_from``, ``tools/test.py``) and
    only logs a warning, so a depth-20 checkpoint is scored by a depth-32
    model as if it were valid. The default ``strict_load`` hook of mmghm's
    configs; ``partial=True`` (``tools/train.py --partial-load``) loads the
    matching part only, on purpose (fine-tuning from another head).
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper

from mmghm.registry import HOOKS
from mmghm.utils.files import ATOMIC_LOCAL_BACKEND, atomic_write

__all__ = ['AtomicCheckpointHook', 'StrictLoadHook', 'CheckpointMismatchError']


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) with atomic saves.

    With a local ``out_dir`` (the default: the work dir) and no
    ``backend_args`` / ``file_client_args`` of its own, checkpoints are
    saved through :class:`mmghm.utils.files.AtomicLocalBackend`, and
    ``last_checkpoint`` through :func:`mmghm.utils.files.atomic_write`.
    Another storage backend (``out_dir='s3://...'``, ``backend_args``) is
    used as given, as by MMEngine's hook.
    """

    def __init__(self,
                 *args,
                 out_dir: Optional[str] = None,
                 file_client_args: Optional[dict] = None,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        local = out_dir is None or '://' not in str(out_dir)
        if local and backend_args is None and file_client_args is None:
            backend_args = dict(backend=ATOMIC_LOCAL_BACKEND)
        super().__init__(
            *args,
            out_dir=out_dir,
            file_client_args=file_client_args,
            backend_args=backend_args,
            **kwargs)

    def _save_checkpoint_with_step(self, runner, step, meta):
        # MMEngine 0.10.7's CheckpointHook._save_checkpoint_with_step, with
        # two changes: the retired checkpoint is deleted after the new one
        # is saved, and last_checkpoint is written atomically.
        retired = None
        if self.max_keep_ckpts > 0:
            # _save_checkpoint and _save_best_checkpoint may both save in
            # one epoch
            if not (len(self.keep_ckpt_ids) > 0
                    and self.keep_ckpt_ids[-1] == step):
                if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                    retired = self.keep_ckpt_ids.popleft()
                self.keep_ckpt_ids.append(step)
                # before saving: the message hub (saved in the checkpoint)
                # lists the checkpoints kept after this one
                runner.message_hub.update_info('keep_ckpt_ids',
                                               list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        # Model parallel-like training should involve pulling sharded states
        # from all ranks, but skip the following procedure.
        if not is_main_process():
            return

        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                     self.last_ckpt)
        if retired is not None:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(retired))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                # checkpoints saved by deepspeed are directories
                self.file_backend.rmtree(path)


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's model weights do not match the model."""


def _first(keys: Sequence[str], n: int = 5) -> str:
    shown = ', '.join(keys[:n])
    return shown + (f', ... ({len(keys) - n} more)' if len(keys) > n else '')


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Refuse loading a checkpoint of another model (see the module).

    Runs in ``after_load_checkpoint``, which every checkpoint MMEngine
    loads into the model passes through (``Runner.load_checkpoint``, called
    by ``--resume``, auto-resume, ``load_from`` and ``tools/test.py``),
    whatever the Runner class. Shapes are compared there, before anything
    is loaded; missing and unexpected keys are taken from the load itself
    (a ``load_state_dict`` post-hook on the model), so they are the keys
    PyTorch and the modules report (a module that accepts an older
    checkpoint's layout, as ``GHMCWAPLoss`` does, is not refused). BN's
    ``num_batches_tracked``, which MMEngine also ignores, may be missing.

    Args:
        partial: Load the matching part and only warn about the rest, as
            MMEngine does (``tools/train.py --partial-load``).
        ignore_prefixes: Key prefixes (e.g. ``('head.', )``) whose
            differences are allowed while the rest must match: what a
            second stage that loads a first stage's checkpoint into another
            head needs (the configs of ``configs/decoupling``).
    """

    # after the other hooks' after_load_checkpoint (which may edit the
    # checkpoint), just before MMEngine loads it into the model
    priority = 'LOWEST'

    def __init__(self,
                 partial: bool = False,
                 ignore_prefixes: Sequence[str] = ()) -> None:
        if not isinstance(partial, bool):
            raise TypeError(f'StrictLoadHook: partial must be True or False, '
                            f'got {partial!r}')
        if isinstance(ignore_prefixes, str) or not all(
                isinstance(p, str) and p for p in ignore_prefixes):
            raise TypeError('StrictLoadHook: ignore_prefixes must be a list '
                            'of key prefixes such as ("head.", ), got '
                            f'{ignore_prefixes!r}')
        self.partial = partial
        self.ignore_prefixes = tuple(ignore_prefixes)

    def _kept(self, keys) -> List[str]:
        return [k for k in keys if not k.startswith(self.ignore_prefixes)]

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    @staticmethod
    def _state_dict(checkpoint: dict) -> dict:
        # as mmengine.runner.checkpoint._load_checkpoint_to_model reads it,
        # with Runner.load_checkpoint's default revise_keys
        state = checkpoint['state_dict'] if 'state_dict' in checkpoint \
            else checkpoint
        return {(k[len('module.'):] if k.startswith('module.') else k): v
                for k, v in state.items()}

    def _error(self, runner, missing: List[str], unexpected: List[str],
               mismatched: List[Tuple[str, tuple, tuple]]
               ) -> CheckpointMismatchError:
        ckpt = getattr(runner, '_load_from', None) or 'the checkpoint'
        config = getattr(runner.cfg, 'filename', None) or 'the config'
        parts = []
        if mismatched:
            parts.append(f'{len(mismatched)} tensors of another shape ('
                         + _first([f'{k}: checkpoint {tuple(a)}, model '
                                   f'{tuple(b)}' for k, a, b in mismatched])
                         + ')')
        if missing:
            parts.append(f'{len(missing)} model keys missing from the '
                         f'checkpoint ({_first(missing)})')
        if unexpected:
            parts.append(f'{len(unexpected)} checkpoint keys the model does '
                         f'not have ({_first(unexpected)})')
        return CheckpointMismatchError(
            f'{ckpt} does not fit the model of {config}: '
            + '; '.join(parts) + '. It is a checkpoint of another model. '
            'To load only the matching part on purpose (e.g. fine-tuning '
            'from another head), pass --partial-load to tools/train.py or '
            'tools/test.py, or set default_hooks.strict_load.partial=True in '
            'the config.')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.partial or not isinstance(checkpoint, dict):
            return
        model = self._model(runner)
        state = self._state_dict(checkpoint)
        own = model.state_dict()
        mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                      for k, v in state.items()
                      if k in own and hasattr(v, 'shape')
                      and hasattr(own[k], 'shape')
                      and tuple(v.shape) != tuple(own[k].shape)
                      and not k.startswith(self.ignore_prefixes)]
        if mismatched:
            raise self._error(runner,
                              self._kept(sorted(set(own) - set(state))),
                              self._kept(sorted(set(state) - set(own))),
                              mismatched)
        handle = None

        def check(module, incompatible) -> None:
            handle.remove()  # this load only
            missing = self._kept(k for k in incompatible.missing_keys
                                 if 'num_batches_tracked' not in k)
            unexpected = self._kept(incompatible.unexpected_keys)
            if missing or unexpected:
                raise self._error(runner, missing, unexpected, [])

        handle = model.register_load_state_dict_post_hook(check)
