"""Make MMEngine 0.10 checkpoints loadable under torch>=2.6 ``weights_only``.

torch 2.6 turned ``torch.load(weights_only=True)`` on by default. MMEngine
0.10.7 calls ``torch.load`` without the argument, and its checkpoints hold
the message hub's ``HistoryBuffer`` (with numpy arrays and the bound
statistics methods ``getattr(HistoryBuffer, 'mean')`` etc.), so
``--resume`` fails. Instead of switching ``weights_only`` off, we allow-list
exactly the globals such a checkpoint references.
"""
from typing import List

import numpy as np
import torch


def _numpy_dtype_classes() -> List[type]:
    """The dtype classes (numpy>=1.25) of the numeric dtypes numpy pickles."""
    names = ('BoolDType', 'Int8DType', 'UInt8DType', 'Int16DType',
             'UInt16DType', 'Int32DType', 'UInt32DType', 'Int64DType',
             'UInt64DType', 'Float16DType', 'Float32DType', 'Float64DType',
             'LongDType', 'ULongDType', 'LongLongDType', 'ULongLongDType')
    dtypes = getattr(np, 'dtypes', None)
    return [getattr(dtypes, n) for n in names if hasattr(dtypes, n)]


def checkpoint_safe_globals() -> list:
    """The globals an MMEngine 0.10 training checkpoint references.

    Found with ``torch.serialization.get_unsafe_globals_in_checkpoint`` on a
    checkpoint written by ``Runner`` (see ``tests/test_utils``).
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    core = getattr(np, '_core', None) or np.core
    return [
        HistoryBuffer,
        # HistoryBuffer pickles its statistics methods as getattr(cls, name)
        getattr,
        np.ndarray,
        np.dtype,
        core.multiarray._reconstruct,
        core.multiarray.scalar,
    ] + _numpy_dtype_classes()


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load``.

    A no-op on torch versions without ``add_safe_globals`` (< 2.4), which
    do not default to ``weights_only=True`` either.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(checkpoint_safe_globals())
