"""Distributed launch without GPUs, and timeouts that apply everywhere.

MMEngine 0.10's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and
its DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only
machine. :func:`setup_distributed` initialises a ``gloo`` process group
itself when CUDA is absent (the Runner then skips ``init_dist``) and selects
:class:`mmghm.engine.DeviceAwareDDP`, which leaves ``device_ids`` unset for
CPU modules. With GPUs nothing changes: MMEngine uses ``nccl`` as usual.

Either way the process group gets ``env_cfg.dist_cfg.timeout`` (seconds;
mmghm's runtime sets 1800): a collective that waits longer, e.g. because
another process was stopped, fails with an error instead of hanging.
"""
import datetime
import os
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

#: Seconds a collective may wait when the config sets no timeout (torch's
#: own default for gloo and MMEngine's runtime default).
DEFAULT_TIMEOUT = 1800


def dist_timeout(cfg: Config) -> float:
    """``env_cfg.dist_cfg.timeout`` in seconds, checked."""
    dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
    timeout = dist_cfg.get('timeout', DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not 0 < timeout < float('inf'):
        raise ValueError(
            'env_cfg.dist_cfg.timeout must be a positive number of seconds, '
            f'but got {timeout!r}.')
    return float(timeout)


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Prepare ``cfg`` (and the process group) for ``launcher``.

    Args:
        cfg: The config the Runner will be built from (modified in place).
        launcher: 'none', 'pytorch', 'slurm' or 'mpi'.
    """
    if launcher == 'none':
        return
    timeout = dist_timeout(cfg)
    env_cfg = cfg.get('env_cfg') or {}
    # MMEngine's init_dist reads the timeout in seconds from here (GPUs).
    env_cfg.setdefault('dist_cfg', {})['timeout'] = timeout
    cfg.env_cfg = env_cfg
    if torch.cuda.is_available():
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
        torch_dist.init_process_group(
            backend='gloo', timeout=datetime.timedelta(seconds=timeout))
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper.setdefault('type', 'mmghm.DeviceAwareDDP')
    cfg.model_wrapper_cfg = wrapper
    env_cfg['dist_cfg']['backend'] = 'gloo'


def describe_launch(runner) -> None:
    """Log how many processes run on which device.

    MMEngine logs the world size as "GPU number", also for CPU processes.
    """
    if not torch_dist.is_initialized():
        return
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    runner.logger.info(
        f'Distributed: {torch_dist.get_world_size()} processes on {device} '
        f'({torch_dist.get_backend()}); MMEngine\'s "GPU number" above '
        'counts these processes.')


@contextmanager
def explain_timeouts(cfg: Config) -> Iterator[None]:
    """Re-raise a collective's timeout naming the configured timeout."""
    try:
        yield
    except RuntimeError as e:
        text = str(e)
        if torch_dist.is_initialized() and (
                'timed out' in text.lower() or 'timeout' in text.lower()):
            raise RuntimeError(
                'a distributed operation waited longer than '
                f'env_cfg.dist_cfg.timeout={dist_timeout(cfg):g} s for '
                'another process (stopped, hung or much slower); raise the '
                f'timeout if that is expected. ({text.splitlines()[0]})'
            ) from e
        raise
