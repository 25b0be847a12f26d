"""Read the predictions ``tools/test.py --out FILE.pkl`` writes, running no
code from the file.

MMPretrain's ``DumpResults`` pickles a list of dicts (``pred_score``,
``gt_label``... as CPU tensors). A plain ``pickle.load`` of such a file
would call whatever the file names, and ``torch.load(weights_only=True)``
reads only torch's own zip format. :func:`load_predictions` unpickles with
an allow-list of four globals, each bound to a checked stand-in:

``torch._utils._rebuild_tensor_v2``
    only over a storage that was itself rebuilt by the next entry;
``torch.storage._load_from_bytes``
    the storage bytes are read with ``torch.load(weights_only=True)``
    (torch's own function reads them with ``weights_only=False``);
``_codecs.encode``
    only ``encode(str, 'latin1')``, how protocol 2 pickles ``bytes``;
``collections.OrderedDict``
    an empty tensor's backward hooks.

Anything else raises :class:`~mmghm.utils.CheckpointRefusedError` naming
what the file asked for, before it is called.
"""
import codecs
import collections
import io
import pickle
from typing import Any, Dict, List

import numpy as np
import torch

from .checkpoint import CheckpointRefusedError

__all__ = ['load_predictions', 'prediction_arrays']


def _refuse(what: str) -> None:
    raise CheckpointRefusedError(
        f'mmghm refused to load these predictions: {what}. A predictions '
        'file from tools/test.py --out holds only lists, dicts, numbers, '
        'strings and tensors.')


def _latin1_bytes(obj: Any, encoding: Any) -> bytes:
    if not isinstance(obj, str) or encoding not in ('latin1', 'latin-1'):
        _refuse(f'_codecs.encode({type(obj).__name__}, {encoding!r})')
    return codecs.encode(obj, 'latin1')


def _storage_from_bytes(data: Any) -> Any:
    if not isinstance(data, bytes):
        _refuse(f'a tensor storage from a {type(data).__name__}')
    return torch.load(io.BytesIO(data), weights_only=True)


def _rebuild_tensor(storage: Any, *args: Any) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        _refuse(f'a tensor over a {type(storage).__name__}')
    return torch._utils._rebuild_tensor_v2(storage, *args)


class _PredictionsUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
        ('torch.storage', '_load_from_bytes'): _storage_from_bytes,
        ('_codecs', 'encode'): _latin1_bytes,
        ('collections', 'OrderedDict'): collections.OrderedDict,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            _refuse(f'the global {module}.{name}')

    def persistent_load(self, pid: Any) -> Any:
        _refuse('a persistent id')


def load_predictions(path: str) -> List[Dict[str, Any]]:
    """The list of per-sample dicts of a ``tools/test.py --out`` file.

    Raises:
        CheckpointRefusedError: the file names anything but tensors and
            plain data.
        ValueError: the file is not a list of dicts.
    """
    with open(path, 'rb') as f:
        data = _PredictionsUnpickler(f).load()
    if not isinstance(data, list) or not all(isinstance(d, dict)
                                             for d in data):
        raise ValueError(f'{path}: expected the list of per-sample dicts '
                         'that tools/test.py --out writes.')
    return data


def prediction_arrays(samples: List[Dict[str, Any]]):
    """``(scores (N, C) float64, target (N,) int64)`` from per-sample dicts
    with ``pred_score`` and ``gt_label``.

    Raises:
        ValueError: a sample lacks either key, or the widths differ.
    """
    if not samples:
        raise ValueError('the predictions file holds no sample.')
    for key in ('pred_score', 'gt_label'):
        if key not in samples[0]:
            raise ValueError(f'a sample has no {key!r} (keys: '
                             f'{sorted(samples[0])}); dump with '
                             "tools/test.py --out FILE.pkl --out-item pred.")
    try:
        scores = np.stack([np.asarray(s['pred_score'], dtype=np.float64)
                           for s in samples])
        target = np.array([int(np.asarray(s['gt_label']).reshape(-1)[0])
                           for s in samples], dtype=np.int64)
    except (KeyError, ValueError) as e:
        raise ValueError(f'the samples do not all have one pred_score of '
                         f'the same width and one gt_label: {e}') from e
    return scores, target
