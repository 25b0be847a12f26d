"""Load MMEngine 0.10 checkpoints under ``torch.load(weights_only=True)``,
and nothing else.

torch >= 2.6 loads with ``weights_only=True`` by default: its unpickler
builds only tensors, containers and the globals a program allow-lists.
MMEngine 0.10.7 calls ``torch.load`` without the argument, and its training
checkpoints hold more than tensors: the message hub's ``HistoryBuffer``
objects, which pickle numpy arrays and their statistics methods as
``getattr(HistoryBuffer, 'mean')``, and numpy scalars. Stock torch refuses
them, so ``--resume`` fails.

Allow-listing those globals as they are would be unsafe: ``builtins.getattr``
is a generic callable (``getattr(getattr, '__self__')`` is the builtins
module, whose ``eval`` is one more ``getattr`` away), and
``HistoryBuffer.__setstate__`` copies any dict into the instance, so a pickle
can plant ``__setstate__ = eval`` and have the unpickler call it. Instead,
each global name that MMEngine's checkpoints use is bound to a *checked*
stand-in that can only rebuild the data MMEngine really saves
(``torch.serialization.add_safe_globals`` accepts ``(object, name)`` pairs):

``builtins.getattr``
    :func:`_history_buffer_statistic`: only ``getattr(HistoryBuffer, m)`` for
    ``m`` in ``min``, ``max``, ``current``, ``mean`` (MMEngine's statistics
    methods); any other object or name is refused.
``mmengine.logging.history_buffer.HistoryBuffer``
    :class:`_CheckedHistoryBuffer`: created only empty (``NEWOBJ`` without
    arguments, as pickle does), never called; its state must be exactly
    MMEngine's (``max_length``, ``_log_history``, ``_count_history``,
    ``statistics_methods``) with numeric 1-D arrays and each statistics name
    mapped to its own method. Once built it turns into a plain
    ``HistoryBuffer``, which is not allow-listed, so a second BUILD on the
    same object is refused.
``numpy.dtype``, ``numpy(._)core.multiarray._reconstruct`` / ``.scalar``
    Numeric (bool, integer, float, complex) dtypes only: no object arrays,
    no object scalars, no ndarray subclasses.

Anything else a pickle names is refused by torch's own unpickler as before.
A refusal raises :class:`CheckpointRefusedError` (not an ``UnpicklingError``,
so torch does not wrap it in advice to retry with ``weights_only=False``),
before the object is used.
"""
import collections
import functools
import os
import pickle
import struct
import warnings
import zipfile
from typing import Any, Callable, Dict, List, Tuple, Union

import numpy as np
import torch
from mmengine.utils import digit_version

__all__ = [
    'CheckpointRefusedError', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals', 'install_checkpoint_loader',
    'load_checkpoint_file', 'sanitize_checkpoint', 'META_KEYS'
]

#: MMEngine's ``HistoryBuffer`` statistics methods, pickled by name.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')
_HISTORY_BUFFER_KEYS = ('max_length', '_log_history', '_count_history')
#: dtype kinds a checkpoint may hold: bool, signed/unsigned int, float,
#: complex. Never 'O' (object), 'V' (structured/void) or strings.
_NUMERIC_KINDS = 'biufc'


class CheckpointRefusedError(RuntimeError):
    """A checkpoint asked for something mmghm's allow-list does not build."""


def _refuse(what: str) -> None:
    raise CheckpointRefusedError(
        f'mmghm refused to load this checkpoint: {what}. Only tensors and '
        "the data MMEngine's checkpoints hold (HistoryBuffer statistics, "
        'numeric numpy arrays and scalars) are loaded with '
        'weights_only=True; do not load files from untrusted sources with '
        'weights_only=False.')


def _history_buffer_class():
    from mmengine.logging.history_buffer import HistoryBuffer
    return HistoryBuffer


def _history_buffer_statistic(owner: Any, name: Any) -> Callable:
    """Stand-in for ``builtins.getattr`` inside a checkpoint.

    MMEngine pickles ``HistoryBuffer._statistics_methods`` as
    ``getattr(HistoryBuffer, 'mean')`` and so on; this returns exactly
    those four functions and refuses everything else.
    """
    buffer_cls = _history_buffer_class()
    if owner not in (buffer_cls, _CheckedHistoryBuffer) or \
            not isinstance(name, str) or \
            name not in HISTORY_BUFFER_STATISTICS:
        _refuse(f'getattr({owner!r}, {name!r}); builtins.getattr may only '
                'name the HistoryBuffer statistics methods '
                f'{HISTORY_BUFFER_STATISTICS}')
    return buffer_cls.__dict__[name]


def _numeric_array(value: Any, field: str) -> np.ndarray:
    if type(value) is not _CheckedArray or value.ndim != 1 or \
            value.dtype.kind not in _NUMERIC_KINDS:
        _refuse(f'HistoryBuffer.{field} must be a 1-D numeric numpy array, '
                f'got {type(value).__name__}')
    return value.plain()


def _checked_history_buffer_state(state: Any) -> Dict[str, Any]:
    """MMEngine's ``HistoryBuffer.__getstate__`` output, validated."""
    if type(state) is not dict:
        _refuse(f'HistoryBuffer state must be a dict, got '
                f'{type(state).__name__}')
    allowed = set(_HISTORY_BUFFER_KEYS) | {'statistics_methods'}
    unknown = [k for k in state if k not in allowed]
    missing = [k for k in _HISTORY_BUFFER_KEYS if k not in state]
    if unknown or missing:
        _refuse(f'HistoryBuffer state has keys {sorted(map(str, state))}; '
                f'allowed are {sorted(allowed)} (missing: {missing})')
    max_length = state['max_length']
    if type(max_length) is not int or max_length < 1:
        _refuse(f'HistoryBuffer.max_length must be an int >= 1, got '
                f'{max_length!r}')
    clean = dict(
        max_length=max_length,
        _log_history=_numeric_array(state['_log_history'], '_log_history'),
        _count_history=_numeric_array(state['_count_history'],
                                      '_count_history'))
    methods = state.get('statistics_methods', {})
    buffer_cls = _history_buffer_class()
    if type(methods) is not dict or any(
            type(k) is not str or k not in HISTORY_BUFFER_STATISTICS
            or v is not buffer_cls.__dict__[k] for k, v in methods.items()):
        _refuse('HistoryBuffer.statistics_methods may only map the names '
                f'{HISTORY_BUFFER_STATISTICS} to their own methods')
    clean['statistics_methods'] = dict(methods)
    return clean


class _CheckedHistoryBuffer(_history_buffer_class()):
    """What ``mmengine.logging.history_buffer.HistoryBuffer`` names inside
    ``torch.load(weights_only=True)`` once mmghm is imported."""

    def __new__(cls, *args, **kwargs):
        if args or kwargs:
            _refuse('HistoryBuffer may only be rebuilt from its pickled state '
                    '(created without arguments)')
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):  # reached only through REDUCE
        _refuse('calling HistoryBuffer(...) from a checkpoint')

    def __setstate__(self, state: Any) -> None:
        clean = _checked_history_buffer_state(state)
        # A plain HistoryBuffer from now on: what MMEngine expects, pickled
        # under MMEngine's name again, and not allow-listed, so the
        # unpickler refuses any further BUILD on this object.
        buffer_cls = _history_buffer_class()
        self.__class__ = buffer_cls
        buffer_cls.__setstate__(self, clean)


#: numpy type strings of the builtin numeric dtypes a checkpoint may name.
_NUMERIC_SPECS = frozenset(
    [c for c in '?bBhHiIlLqQefdgFDG']
    + [f'{k}{n}' for k in 'iu' for n in (1, 2, 4, 8)]
    + ['b1', 'f2', 'f4', 'f8', 'f16', 'c8', 'c16', 'c32'])
#: Most dimensions an array may have (numpy's own limit is 64).
_MAX_NDIM = 32


class _PendingDtype:
    """What ``numpy.dtype('f8', False, True)`` builds inside a checkpoint.

    numpy pickles a dtype as that call followed by a BUILD with the
    dtype's state tuple, and ``dtype.__setstate__`` accepts any state: a
    structured layout with fields at any offset, sub-arrays, the object
    flag, another item size. So the real dtype is never exposed to BUILD:
    this stand-in accepts exactly the state of the builtin, native-order
    dtype it was created for, once, and only arrays and scalars rebuilt by
    :class:`_CheckedArray` / :func:`_checked_scalar` use it.
    """

    def __init__(self, spec: Any, *flags: Any):
        if type(spec) is not str or spec not in _NUMERIC_SPECS or \
                len(flags) > 2 or any(type(f) is not bool for f in flags):
            _refuse(f'numpy.dtype{(spec, ) + flags!r} (only the builtin '
                    'bool, integer, float and complex dtypes are loaded)')
        self.dtype = np.dtype(spec)
        self._state = self.dtype.__reduce__()[2]
        self.built = False

    def __setstate__(self, state: Any) -> None:
        if self.built:
            _refuse(f'a second BUILD on numpy dtype {self.dtype}')
        if type(state) is not tuple or state != self._state:
            _refuse(f'numpy dtype {self.dtype} with the state {state!r} '
                    f'(only the state of the builtin native-order dtype, '
                    f'{self._state!r}: no fields, sub-arrays, object flag, '
                    'other item size or byte order)')
        self.built = True

    def __reduce__(self):
        return (np.dtype, (self.dtype.str, False, True), self._state)


def _numeric_dtype(spec: Any, *flags: Any) -> _PendingDtype:
    """Stand-in for ``numpy.dtype`` (pickled as ``dtype('f8', False,
    True)``): builtin numeric dtypes only."""
    return _PendingDtype(spec, *flags)


def _built_dtype(dtype: Any, what: str) -> np.dtype:
    if type(dtype) is not _PendingDtype or not dtype.built:
        _refuse(f'{what} with the dtype {dtype!r} (only a builtin numeric '
                'dtype, rebuilt from its pickle)')
    return dtype.dtype


def _core_multiarray():
    return getattr(np, '_core', None) or np.core


class _CheckedArray(np.ndarray):
    """What ``numpy.ndarray`` names inside a checkpoint: an ndarray that
    can be BUILT once, from a numeric dtype and exactly as many bytes as
    its shape needs (numpy's own ``__setstate__`` trusts the dtype's field
    offsets, which is how a crafted dtype reads past the buffer). It
    pickles as a plain ``numpy.ndarray`` again."""

    def __new__(cls, *args, **kwargs):  # numpy's _reconstruct bypasses it
        _refuse('calling numpy.ndarray(...) from a checkpoint (arrays are '
                'only rebuilt from their pickled bytes)')

    def __setstate__(self, state: Any) -> None:
        if getattr(self, '_mmghm_built', False):
            _refuse('a second BUILD on a numpy array')
        if type(state) is not tuple or len(state) != 5:
            _refuse('a numpy array state other than numpy\'s (version, '
                    'shape, dtype, is_fortran, bytes)')
        version, shape, dtype, fortran, raw = state
        dtype = _built_dtype(dtype, 'a numpy array')
        if version != 1 or type(version) is not int or \
                type(shape) is not tuple or len(shape) > _MAX_NDIM or \
                any(type(d) is not int or d < 0 for d in shape) or \
                type(fortran) is not bool or type(raw) is not bytes:
            _refuse(f'a numpy array of shape {shape!r} from '
                    f'{type(raw).__name__} (version 1, a tuple of sizes '
                    f'>= 0, at most {_MAX_NDIM} dimensions, raw bytes)')
        size = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if len(raw) != size:
            _refuse(f'a numpy array of shape {shape} and dtype {dtype} '
                    f'needs {size} bytes, the file gives {len(raw)}')
        np.ndarray.__setstate__(self, (1, shape, dtype, fortran, raw))
        self._mmghm_built = True

    def plain(self) -> np.ndarray:
        if not getattr(self, '_mmghm_built', False):
            _refuse('a numpy array that was never given its data')
        return self.view(np.ndarray)

    def __reduce__(self):
        return self.view(np.ndarray).__reduce__()

    def __reduce_ex__(self, protocol):
        return self.view(np.ndarray).__reduce_ex__(protocol)


def _checked_reconstruct(subtype: Any, shape: Any, code: Any) -> np.ndarray:
    """Stand-in for numpy's ``_reconstruct``: how ndarray pickles start."""
    if subtype is not _CheckedArray or shape != (0, ) or code != b'b':
        _refuse(f'numpy _reconstruct{(subtype, shape, code)!r} (only '
                'plain numpy.ndarray)')
    return _core_multiarray().multiarray._reconstruct(_CheckedArray, (0, ),
                                                      b'b')


def _checked_scalar(dtype: Any, data: Any = None) -> np.generic:
    """Stand-in for numpy's ``scalar``: a numeric scalar from its bytes."""
    dtype = _built_dtype(dtype, 'a numpy scalar')
    if type(data) is not bytes or len(data) != dtype.itemsize:
        _refuse(f'numpy scalar of dtype {dtype} from '
                f'{type(data).__name__} (only numeric scalars from their '
                f'{dtype.itemsize} bytes)')
    return _core_multiarray().multiarray.scalar(dtype, data)


GlobalEntry = Union[Callable, Tuple[Callable, str]]


def checkpoint_safe_globals() -> List[GlobalEntry]:
    """The allow-list entries :func:`register_checkpoint_safe_globals` adds.

    ``(stand_in, 'module.name')`` pairs bind a global name of MMEngine's
    checkpoints to its checked stand-in. The one plain class,
    :class:`_PendingDtype`, is listed so that BUILD reaches its checked
    ``__setstate__``; no pickle can name it (its module path is not
    listed).
    """
    entries: List[GlobalEntry] = [
        (_history_buffer_statistic, 'builtins.getattr'),
        (_CheckedHistoryBuffer,
         'mmengine.logging.history_buffer.HistoryBuffer'),
        (_numeric_dtype, 'numpy.dtype'),
        (_CheckedArray, 'numpy.ndarray'),
        _PendingDtype,
    ]
    for core in ('numpy.core', 'numpy._core'):
        entries.append(
            (_checked_reconstruct, f'{core}.multiarray._reconstruct'))
        entries.append((_checked_scalar, f'{core}.multiarray.scalar'))
    return entries


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load``.

    A no-op before torch 2.6, which neither defaults to
    ``weights_only=True`` nor accepts ``(object, name)`` entries; there
    MMEngine loads checkpoints with the full pickle, so load only files you
    trust (README, "Loading checkpoints").
    """
    if digit_version(torch.__version__) < digit_version('2.6.0'):
        return
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


# ---------------------------------------------------------------------------
# The one loader of checkpoint files: the container, the data, the meta.
# ---------------------------------------------------------------------------
#: Deepest nesting of containers a checkpoint may have (MMEngine's: < 10).
MAX_DEPTH = 64

#: ``checkpoint['meta']`` keys that MMEngine 0.10, MMPretrain 1.2 and mmghm
#: read, with the type each must have. Audit of what acts on them:
#:
#: - ``epoch``, ``iter``: ``Runner.resume`` sets the loop counters.
#: - ``seed``: ``Runner.resume`` re-seeds the run with it.
#: - ``dataset_meta``: ``Runner.resume`` compares it (``pickle.dumps``);
#:   MMPretrain's ``get_model``/``init_model`` take the class names.
#: - ``CLASSES``: MMPretrain's ``get_model`` (mmcls 0.x checkpoints).
#: - ``cfg``: the config text MMEngine's ``save_checkpoint`` writes; read
#:   by nothing mmghm runs (MMEngine's ``BaseInferencer`` executes it when
#:   given a checkpoint without a config: always pass the config).
#: - ``experiment_name``, ``time``, ``mmengine_version``: informational.
#: - ``mmghm_class_counts``, ``mmghm_aura_rank_density``: mmghm's hooks,
#:   which check shapes and values themselves.
#:
#: ``config`` is the one key that runs code: ``Runner.resume`` executes it
#: with ``Config.fromstring(..., '.py')``. MMEngine itself never writes it
#: (it writes ``cfg``), so it is dropped with a warning, as is every key
#: not listed here, before MMEngine sees the checkpoint.
META_KEYS: Dict[str, Tuple[type, ...]] = {
    'epoch': (int, ),
    'iter': (int, ),
    'seed': (int, type(None)),
    'dataset_meta': (dict, type(None)),
    'CLASSES': (list, tuple),
    'cfg': (str, ),
    'experiment_name': (str, ),
    'time': (str, ),
    'mmengine_version': (str, ),
    'mmghm_class_counts': (torch.Tensor, list, tuple),
    'mmghm_aura_rank_density': (dict, ),
}

#: ``message_hub.runtime_info`` keys that hooks turn into file paths on
#: resume: MMEngine's ``CheckpointHook`` deletes (even ``rmtree``\ s) the
#: files ``keep_ckpt_ids`` and ``best_ckpt*`` name. Ids must be integers
#: (their files are then inside the run's out_dir); best-checkpoint paths
#: are dropped (the next best checkpoint is saved anew; the old one stays).
_RUNTIME_PATH_PREFIX = 'best_ckpt'

#: Plain values a checkpoint may hold besides containers and tensors.
_LEAF_TYPES = (type(None), bool, int, float, complex, str, bytes,
               torch.dtype, torch.device, torch.Size, np.generic)


#: What torch's and Python's unpicklers raise on a damaged or crafted file
#: (torch's own refusals, a cut opcode, a bent encoding name, wrong
#: arguments to an allowed function); the loaders turn these into
#: :class:`CheckpointRefusedError` naming the file.
UNPICKLING_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError,
                     ValueError, TypeError, KeyError, IndexError,
                     AttributeError, OverflowError, UnicodeError,
                     LookupError, AssertionError, struct.error)


def covers_own_bytes(t: torch.Tensor) -> bool:
    """Whether a strided tensor is no larger than its storage and has no
    stride-0 dimension (an expanded view lets a few stored bytes stand for
    any number of elements)."""
    return t.numel() * t.element_size() <= t.untyped_storage().nbytes() \
        and not any(s == 0 and n > 1 for s, n in zip(t.stride(), t.shape))


def _check_tensor(t: torch.Tensor, where: str) -> None:
    if type(t) not in (torch.Tensor, torch.nn.Parameter) or \
            t.layout is not torch.strided or t.is_quantized:
        _refuse(f'{where}: a {type(t).__name__} with layout {t.layout} '
                '(only plain dense tensors)')
    if not covers_own_bytes(t):
        storage = t.untyped_storage().nbytes()
        _refuse(f'{where}: a tensor of shape {tuple(t.shape)} and stride '
                f'{t.stride()} over {storage} bytes of storage (an expanded '
                'or overlapping view; tensors must cover their own bytes)')


def _clean(obj: Any, where: str, depth: int, seen: Dict[int, Any],
           active: set) -> Any:
    """``obj`` with numpy arrays made plain, after checking it is data."""
    key = id(obj)
    if key in seen:
        return seen[key]
    if key in active:
        _refuse(f'{where}: a container that contains itself')
    if depth > MAX_DEPTH:
        _refuse(f'{where}: containers nested deeper than {MAX_DEPTH}')
    kind = type(obj)
    if isinstance(obj, torch.Tensor):
        _check_tensor(obj, where)
        out = obj
    elif kind is _CheckedArray:
        out = obj.plain()
    elif kind is _PendingDtype:
        out = _built_dtype(obj, where)
    elif kind in _LEAF_TYPES or isinstance(obj, np.generic):
        out = obj
    elif kind is _history_buffer_class():
        out = obj  # only ever built through _CheckedHistoryBuffer
    elif kind in (dict, collections.OrderedDict, collections.Counter, list,
                  tuple, set):
        active.add(key)
        if kind in (dict, collections.OrderedDict, collections.Counter):
            for k in list(obj):
                if type(k) not in (str, int, float, bool, tuple) and \
                        k is not None:
                    _refuse(f'{where}: a key of type {type(k).__name__}')
                obj[k] = _clean(obj[k], f'{where}[{k!r}]', depth + 1, seen,
                                active)
            out = obj
        elif kind is list:
            for i, v in enumerate(obj):
                obj[i] = _clean(v, f'{where}[{i}]', depth + 1, seen, active)
            out = obj
        else:
            items = [_clean(v, f'{where}[{i}]', depth + 1, seen, active)
                     for i, v in enumerate(obj)]
            out = kind(items)
        active.discard(key)
    else:
        _refuse(f'{where}: a {kind.__module__}.{kind.__qualname__} '
                '(a checkpoint holds data only: no functions, classes or '
                'other objects)')
    seen[key] = out
    return out


def _sanitize_meta(meta: Any, source: str) -> Dict[str, Any]:
    if meta is None:
        return {}
    if type(meta) is not dict:
        _refuse(f"{source}: checkpoint['meta'] is a "
                f'{type(meta).__name__}, not a dict')
    for key in list(meta):
        if key not in META_KEYS:
            why = (" (MMEngine's Runner.resume would execute it as Python)"
                   if key == 'config' else
                   ' (nothing mmghm, MMEngine or MMPretrain reads needs it)')
            warnings.warn(f"{source}: dropped checkpoint['meta'][{key!r}]"
                          f'{why}; kept: {sorted(META_KEYS)}', UserWarning,
                          stacklevel=3)
            del meta[key]
            continue
        value, allowed = meta[key], META_KEYS[key]
        if type(value) not in allowed or (key in ('epoch', 'iter')
                                          and value < 0):
            _refuse(f"{source}: checkpoint['meta'][{key!r}] is "
                    f'{type(value).__name__} {value!r:.60}; it must be '
                    + ' or '.join(t.__name__ for t in allowed)
                    + (' >= 0' if key in ('epoch', 'iter') else ''))
    return meta


def _sanitize_message_hub(hub: Any, source: str) -> None:
    mappings = (dict, collections.OrderedDict)
    info = hub.get('runtime_info') if type(hub) in mappings else None
    if type(info) not in mappings:
        return
    ids = info.get('keep_ckpt_ids')
    if ids is not None and (type(ids) is not list or any(
            type(i) is not int or i < 0 for i in ids)):
        _refuse(f"{source}: message_hub runtime_info['keep_ckpt_ids'] must "
                f'be a list of checkpoint numbers (ints >= 0), got '
                f'{ids!r:.80} (CheckpointHook deletes the files they name)')
    for key in [k for k in info if isinstance(k, str)
                and k.startswith(_RUNTIME_PATH_PREFIX)]:
        warnings.warn(f"{source}: dropped message_hub runtime_info[{key!r}] "
                      '(a path that CheckpointHook would delete; the next '
                      'best checkpoint is saved anew)', UserWarning,
                      stacklevel=3)
        del info[key]


def sanitize_checkpoint(checkpoint: Any, source: str = '<checkpoint>'):
    """Check that a loaded checkpoint is data only and make it safe to hand
    to MMEngine: plain numpy arrays, dense tensors, the meta keys of
    :data:`META_KEYS` (others dropped, with a warning naming each), no
    paths for hooks to delete.

    Raises:
        CheckpointRefusedError: anything else.
    """
    checkpoint = _clean(checkpoint, source, 0, {}, set())
    if isinstance(checkpoint, dict):
        if 'meta' in checkpoint:
            checkpoint['meta'] = _sanitize_meta(checkpoint['meta'], source)
        if 'message_hub' in checkpoint:
            _sanitize_message_hub(checkpoint['message_hub'], source)
    return checkpoint


def check_checkpoint_container(path: str) -> None:
    """Refuse a file whose zip records would expand beyond its own size.

    ``torch.save`` writes a zip of *stored* (uncompressed) records; a
    deflated record, or one whose declared size differs from its stored
    size, lets a small file allocate without bound while it loads.
    """
    size = os.path.getsize(path)
    if not zipfile.is_zipfile(path):
        _refuse(f'{path} is not in the zip format torch.save has written '
                'since torch 1.6 (old formats are not loaded)')
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or \
                    info.file_size != info.compress_size:
                _refuse(f'{path}: record {info.filename!r} is compressed '
                        f'({info.compress_size} bytes expanding to '
                        f'{info.file_size}); torch.save stores records '
                        'uncompressed')
            total += info.file_size
    if total > size:
        _refuse(f'{path}: its records declare {total} bytes in a file of '
                f'{size}')


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint file as data: the one loader mmghm uses.

    The container is checked (:func:`check_checkpoint_container`), the
    pickle is read with ``torch.load(weights_only=True)`` and mmghm's
    allow-list, and the result passes :func:`sanitize_checkpoint`.
    """
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    # The allow-list is registered here too (idempotent), so that a reader
    # needs no side effect of importing the package root for it.
    register_checkpoint_safe_globals()
    try:
        check_checkpoint_container(path)
        checkpoint = torch.load(path, map_location=map_location,
                                weights_only=True)
    except CheckpointRefusedError:
        raise
    except UNPICKLING_ERRORS + (NotImplementedError, zipfile.BadZipFile,
                                zipfile.LargeZipFile, OSError) as e:
        # torch's own refusals (globals never allowed) and a damaged file.
        raise CheckpointRefusedError(
            f'{path} is not a checkpoint mmghm can load: '
            f'{type(e).__name__}: {e}') from e
    return sanitize_checkpoint(checkpoint, path)


def _sanitizing(loader: Callable) -> Callable:
    @functools.wraps(loader)
    def load(filename, *args, **kwargs):
        return sanitize_checkpoint(loader(filename, *args, **kwargs),
                                   str(filename))

    load._mmghm_sanitizing = True
    return load


def install_checkpoint_loader() -> None:
    """Route every checkpoint MMEngine loads (``--resume``, auto-resume,
    ``load_from``, ``Runner.load_checkpoint``, ``EMAHook``, MMPretrain's
    ``init_model``) through mmghm: local files through
    :func:`load_checkpoint_file`, the other schemes (``http://``,
    ``torchvision://``...) through :func:`sanitize_checkpoint` after
    MMEngine's own loader. Idempotent."""
    from mmengine.runner.checkpoint import CheckpointLoader
    schemes = CheckpointLoader._schemes
    for prefix, loader in list(schemes.items()):
        if getattr(loader, '_mmghm_sanitizing', False):
            continue
        if prefix == '':
            def local(filename, map_location=None):
                return load_checkpoint_file(filename, map_location)

            local._mmghm_sanitizing = True
            schemes[prefix] = local
        else:
            schemes[prefix] = _sanitizing(loader)
