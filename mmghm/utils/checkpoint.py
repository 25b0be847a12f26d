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
from typing import Any, Callable, Dict, List, Tuple, Union

import numpy as np
import torch
from mmengine.utils import digit_version

__all__ = [
    'CheckpointRefusedError', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals'
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
    if type(value) is not np.ndarray or value.ndim != 1 or \
            value.dtype.kind not in _NUMERIC_KINDS:
        _refuse(f'HistoryBuffer.{field} must be a 1-D numeric numpy array, '
                f'got {type(value).__name__}')
    return value


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


def _numeric_dtype(spec: Any, *flags: Any) -> np.dtype:
    """Stand-in for ``numpy.dtype`` (pickled as ``dtype('f8', False,
    True)``): numeric dtypes only."""
    if not isinstance(spec, str) or any(type(f) is not bool for f in flags) \
            or len(flags) > 2:
        _refuse(f'numpy.dtype{(spec, ) + flags!r}')
    try:
        dtype = np.dtype(spec, *flags)
    except TypeError as e:
        _refuse(f'numpy.dtype({spec!r}): {e}')
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or \
            dtype.subdtype is not None:
        _refuse(f'numpy dtype {spec!r} (only bool, integer, float and '
                'complex dtypes are loaded)')
    return dtype


def _core_multiarray():
    return getattr(np, '_core', None) or np.core


def _checked_reconstruct(subtype: Any, shape: Any, code: Any) -> np.ndarray:
    """Stand-in for numpy's ``_reconstruct``: how ndarray pickles start."""
    if subtype is not np.ndarray or shape != (0, ) or code != b'b':
        _refuse(f'numpy _reconstruct{(subtype, shape, code)!r} (only '
                'plain numpy.ndarray)')
    return _core_multiarray().multiarray._reconstruct(subtype, shape, code)


def _checked_scalar(dtype: Any, data: Any = None) -> np.generic:
    """Stand-in for numpy's ``scalar``: a numeric scalar from its bytes."""
    if type(dtype) not in _numeric_dtype_classes() or \
            dtype.kind not in _NUMERIC_KINDS or type(data) is not bytes or \
            len(data) != dtype.itemsize:
        _refuse(f'numpy scalar of dtype {dtype!r} from '
                f'{type(data).__name__} (only numeric scalars from their '
                'bytes)')
    return _core_multiarray().multiarray.scalar(dtype, data)


def _numeric_dtype_classes() -> List[type]:
    """The classes of numpy's numeric dtypes (``numpy.dtypes``, >= 1.25);
    a dtype pickled by a checkpoint is one of them (its BUILD needs it)."""
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is None:  # numpy < 1.25: dtypes are all np.dtype instances
        return [np.dtype]
    classes = []
    for char in '?bBhHiIlLqQefdgFDG':
        cls = type(np.dtype(char))
        if cls not in classes:
            classes.append(cls)
    return classes


GlobalEntry = Union[Callable, Tuple[Callable, str]]


def checkpoint_safe_globals() -> List[GlobalEntry]:
    """The allow-list entries :func:`register_checkpoint_safe_globals` adds.

    ``(stand_in, 'module.name')`` pairs bind a global name of MMEngine's
    checkpoints to its checked stand-in; plain classes are numpy's ndarray
    and numeric dtype classes, which build only numeric data.
    """
    entries: List[GlobalEntry] = [
        (_history_buffer_statistic, 'builtins.getattr'),
        (_CheckedHistoryBuffer,
         'mmengine.logging.history_buffer.HistoryBuffer'),
        (_numeric_dtype, 'numpy.dtype'),
        np.ndarray,
    ]
    for core in ('numpy.core', 'numpy._core'):
        entries.append(
            (_checked_reconstruct, f'{core}.multiarray._reconstruct'))
        entries.append((_checked_scalar, f'{core}.multiarray.scalar'))
    entries.extend(_numeric_dtype_classes())
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
