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
    torch's legacy serialization of one storage, parsed by mmghm (torch's
    own function reads it with ``weights_only=False``), with exactly as
    many bytes as the storage declares;
``_codecs.encode``
    only ``encode(str, 'latin1')``, how protocol 2 pickles ``bytes``;
``collections.OrderedDict``
    an empty tensor's backward hooks.

The unpickler is Python's own, with BUILD refused (nothing a predictions
file holds needs it; on anything else it rewrites objects in place), and
the result must be plain data: dicts, lists, tuples, numbers, strings and
dense tensors, no tensor, list or dict in two places. Anything else raises
:class:`~mmghm.utils.CheckpointRefusedError` naming what the file asked for,
before it is called.
"""
import codecs
import collections
import io
import pickle
from typing import Any, Dict, List

import numpy as np
import torch

from .checkpoint import (UNPICKLING_ERRORS, CheckpointRefusedError,
                         covers_own_bytes)

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


#: dtypes of the storages a predictions file may hold, by torch's legacy
#: storage class names (``torch.FloatStorage``...).
_STORAGE_DTYPES = {
    f'{name}Storage': dtype
    for name, dtype in [('Float', torch.float32), ('Double', torch.float64),
                        ('Half', torch.float16), ('BFloat16', torch.bfloat16),
                        ('Long', torch.int64), ('Int', torch.int32),
                        ('Short', torch.int16), ('Char', torch.int8),
                        ('Byte', torch.uint8), ('Bool', torch.bool)]
}
#: Plain values a predictions file may hold besides containers and tensors.
_LEAVES = (type(None), bool, int, float, str, bytes)
#: Deepest nesting of containers (DumpResults writes 3 levels).
_MAX_DEPTH = 32


class _DataUnpickler(pickle._Unpickler):
    """Python's own unpickler with ``find_class`` limited to ``_ALLOWED``
    and BUILD refused: what a predictions file holds (dicts, lists,
    tuples, numbers, strings, tensors) is all made without BUILD, and a
    BUILD on anything else is how a pickle rewrites an object in place
    (a function's ``__defaults__``, a class's ``__dict__``)."""

    _ALLOWED: Dict[tuple, Any] = {}
    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            _refuse(f'the global {module}.{name}')

    def persistent_load(self, pid: Any) -> Any:
        _refuse('a persistent id')

    def load_build(self) -> None:
        _refuse(f'a BUILD (setting the state) of a '
                f'{type(self.stack[-1]).__name__}')

    dispatch[pickle.BUILD[0]] = load_build


class _LegacyStorageUnpickler(_DataUnpickler):
    """The pickles inside torch's legacy serialization of one storage."""

    _ALLOWED = {('torch', k): k for k in _STORAGE_DTYPES}

    def __init__(self, file):
        super().__init__(file)
        self.storages: List[tuple] = []

    def persistent_load(self, pid: Any) -> Any:
        if type(pid) is not tuple or len(pid) not in (5, 6) or \
                pid[0] != 'storage' or pid[1] not in _STORAGE_DTYPES or \
                type(pid[4]) is not int or pid[4] < 0 or \
                (len(pid) == 6 and pid[5] is not None):
            _refuse(f'a storage record {pid!r:.80}')
        self.storages.append(pid)
        return pid


def _storage_from_bytes(data: Any) -> Any:
    """Stand-in for ``torch.storage._load_from_bytes``: torch's legacy
    serialization of one storage, parsed here (torch's own function loads
    it with ``weights_only=False``), never more bytes than the file has."""
    if type(data) is not bytes:
        _refuse(f'a tensor storage from a {type(data).__name__}')
    f = io.BytesIO(data)
    try:
        unpickler = _LegacyStorageUnpickler(f)
        for _ in range(3):  # magic number, protocol version, system info
            header = unpickler.load()
            if type(header) not in (int, dict):
                raise ValueError(f'a header of type {type(header).__name__}')
        root = unpickler.load()
        keys = unpickler.load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            IndexError, KeyError, AttributeError) as e:
        _refuse(f'a malformed tensor storage ({e})')
    if len(unpickler.storages) != 1 or root is not unpickler.storages[0] \
            or type(keys) is not list or keys != [root[2]]:
        _refuse('a tensor storage record other than one storage')
    dtype = _STORAGE_DTYPES[root[1]]
    numel = root[4]
    size = f.read(8)
    itemsize = torch.empty((), dtype=dtype).element_size()
    left = len(data) - f.tell()
    if len(size) != 8 or int.from_bytes(size, 'little') != numel or \
            numel * itemsize != left:
        _refuse(f'a storage of {numel} {dtype} elements in {left} bytes')
    raw = bytearray(f.read())
    untyped = torch.frombuffer(raw, dtype=torch.uint8).untyped_storage() \
        if raw else torch.UntypedStorage(0)
    return torch.TypedStorage(wrap_storage=untyped, dtype=dtype,
                              _internal=True)


def _rebuild_tensor(storage: Any, *args: Any) -> torch.Tensor:
    if type(storage) is not torch.TypedStorage:
        _refuse(f'a tensor over a {type(storage).__name__}')
    tensor = torch._utils._rebuild_tensor_v2(storage, *args)
    if not covers_own_bytes(tensor):
        _refuse(f'an expanded tensor of shape {tuple(tensor.shape)} over '
                f'{tensor.untyped_storage().nbytes()} bytes')
    return tensor


class _PredictionsUnpickler(_DataUnpickler):
    _ALLOWED = {
        ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
        ('torch.storage', '_load_from_bytes'): _storage_from_bytes,
        ('_codecs', 'encode'): _latin1_bytes,
        ('collections', 'OrderedDict'): collections.OrderedDict,
    }


def _check_data(obj: Any, where: str, seen: set, depth: int = 0) -> None:
    """Plain data only, and no tensor, list or dict in two places
    (DumpResults never shares one; sharing lets a small file stand for a
    large array)."""
    if depth > _MAX_DEPTH:
        _refuse(f'{where}: containers nested deeper than {_MAX_DEPTH}')
    if type(obj) in _LEAVES:
        return
    if type(obj) is not tuple and id(obj) in seen:
        _refuse(f'{where}: an object that appears more than once')
    seen.add(id(obj))
    if type(obj) is torch.Tensor:
        return
    if type(obj) in (dict, collections.OrderedDict):
        for k, v in obj.items():
            _check_data(k, f'{where} key', seen, depth + 1)
            _check_data(v, f'{where}[{k!r:.40}]', seen, depth + 1)
    elif type(obj) in (list, tuple):
        for i, v in enumerate(obj):
            _check_data(v, f'{where}[{i}]', seen, depth + 1)
    else:
        _refuse(f'{where}: a {type(obj).__module__}.'
                f'{type(obj).__qualname__} (only dicts, lists, tuples, '
                'numbers, strings and tensors)')


def load_predictions(path: str) -> List[Dict[str, Any]]:
    """The list of per-sample dicts of a ``tools/test.py --out`` file.

    Raises:
        CheckpointRefusedError: the file names anything but tensors and
            plain data, sets an object's state (BUILD), or holds one object
            in two places.
        ValueError: the file is not a list of dicts.
    """
    with open(path, 'rb') as f:
        try:
            data = _PredictionsUnpickler(f).load()
        except CheckpointRefusedError:
            raise
        except UNPICKLING_ERRORS + (MemoryError, ) as e:
            # A damaged pickle (or a call with the wrong arguments).
            _refuse(f'{path} is not a pickle mmghm can read: '
                    f'{type(e).__name__}: {e}')
    _check_data(data, path, set())
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
    bad = next((i for i, s in enumerate(samples) if not isinstance(
        s['pred_score'], (torch.Tensor, np.ndarray))), None)
    if bad is not None:
        raise ValueError(f"sample {bad}: pred_score is a "
                         f"{type(samples[bad]['pred_score']).__name__}; "
                         'tools/test.py --out writes a tensor')
    try:
        scores = np.stack([np.asarray(s['pred_score'], dtype=np.float64)
                           for s in samples])
        target = np.array([int(np.asarray(s['gt_label']).reshape(-1)[0])
                           for s in samples], dtype=np.int64)
    except (KeyError, ValueError) as e:
        raise ValueError(f'the samples do not all have one pred_score of '
                         f'the same width and one gt_label: {e}') from e
    return scores, target
