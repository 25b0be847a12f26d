"""Distributed launch without GPUs.

MMEngine 0.10's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and
its DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only
machine. :func:`setup_distributed` initialises a ``gloo`` process group
itself when CUDA is absent (the Runner then skips ``init_dist``) and selects
:class:`mmghm.engine.DeviceAwareDDP`, which leaves ``device_ids`` unset for
CPU modules. With GPUs nothing changes: MMEngine uses ``nccl`` as usual.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Prepare ``cfg`` (and the process group) for ``launcher``.

    Args:
        cfg: The config the Runner will be built from (modified in place).
        launcher: 'none', 'pytorch', 'slurm' or 'mpi'.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if not torch_dist.is_initialized():
        if launcher != 'pytorch':
            raise RuntimeError(
                f'CPU-only distributed training supports --launcher pytorch '
                f'(torchrun), not {launcher!r}.')
        for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
            if key not in os.environ:
                raise RuntimeError(
                    f'--launcher pytorch needs ${key}; start the script with '
                    'torchrun (tools/dist_train.sh).')
        torch_dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper.setdefault('type', 'mmghm.DeviceAwareDDP')
    cfg.model_wrapper_cfg = wrapper
    env_cfg = cfg.get('env_cfg') or {}
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    cfg.env_cfg = env_cfg
