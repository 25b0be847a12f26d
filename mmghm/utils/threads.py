"""How many CPU threads a training uses, chosen for small CPU runs.

On a busy machine a second thread makes every step wait for a core (a
small run took several times longer at two threads than at one), while on
an idle 2-core machine two threads were faster; two thread counts also sum
floating-point numbers in other orders, so their results differ, while two
runs at one thread agree bit for bit (the measurements:
``results/benchmarks/demo_threads_cpu-busy.json`` and
``demo_threads_cpu-idle.json``: about 1.7 times as long at one thread
idle, several times shorter busy). One thread is the reproducible choice
and the one a busy machine does not punish, so ``tools/train.py`` runs
small CPU trainings on one thread unless the user said otherwise
(``OMP_NUM_THREADS``).
"""
import os
from typing import Mapping, Optional, Tuple

import torch

#: Training batches of at most this many images count as small.
SMALL_BATCH = 32
#: Environment variables that set the thread count; any of them wins.
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')


def choose_cpu_threads(
        batch_size: Optional[int],
        environ: Optional[Mapping[str, str]] = None,
        cuda: Optional[bool] = None) -> Tuple[Optional[int], str]:
    """The thread count for a training, and why (one line for the log).

    Args:
        batch_size: Images in a training batch (``train_dataloader.
            batch_size``); None when the config has no training loader.
        environ: The environment (default ``os.environ``).
        cuda: Whether the run is on a GPU (default: whether CUDA is
            available).

    Returns:
        (threads, reason): ``threads`` is 1 for a small CPU run (batch of
        at most :data:`SMALL_BATCH` images) when no thread variable is set,
        else None (leave torch's choice); ``reason`` says which case.
    """
    environ = os.environ if environ is None else environ
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError('batch_size must be a positive int or None, got '
                         f'{batch_size!r}.')
    for name in THREAD_VARIABLES:
        if environ.get(name):
            return None, (f'CPU threads: {torch.get_num_threads()} '
                          f'({name}={environ[name]} is set)')
    if cuda:
        return None, (f'CPU threads: {torch.get_num_threads()} (torch '
                      'default; the model trains on the GPU)')
    if batch_size is not None and batch_size <= SMALL_BATCH:
        return 1, (f'CPU threads: 1 (a small CPU run: batches of '
                   f'{batch_size} <= {SMALL_BATCH} images, where a second '
                   'thread made the demo slower and its numbers different; '
                   'set OMP_NUM_THREADS to choose)')
    return None, (f'CPU threads: {torch.get_num_threads()} (torch default '
                  f'for batches of {batch_size} images; set '
                  'OMP_NUM_THREADS to choose)')


def apply_cpu_threads(cfg, environ: Optional[Mapping[str, str]] = None,
                      cuda: Optional[bool] = None) -> str:
    """Set torch's thread count for the training ``cfg`` describes
    (:func:`choose_cpu_threads`); returns the line to log."""
    loader = cfg.get('train_dataloader') or {}
    batch = loader.get('batch_size') if hasattr(loader, 'get') else None
    threads, reason = choose_cpu_threads(batch, environ, cuda)
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return reason
