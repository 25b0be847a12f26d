"""Atomic file writes: a file appears under its final name complete or not
at all.

A crash, a kill or a full disk while writing leaves at most a hidden
temporary file (``.<name>.tmp-<pid>-<random>`` beside the target), never a
partial file with a valid-looking name: the data go to the temporary file,
are flushed to disk (``fsync``) and the file is renamed over the target with
:func:`os.replace`, which is atomic on POSIX and Windows file systems.

:func:`atomic_write` writes bytes or text; :func:`atomic_open` is the same as
a context manager for writers that take a file object (``json.dump``,
``np.savez``); :func:`atomic_json_dump` is ``json.dump`` through it.
:class:`AtomicLocalBackend` is MMEngine's ``LocalBackend`` with atomic
``put``/``put_text``, registered as the file backend ``'mmghm_atomic_local'``
(what :class:`mmghm.engine.hooks.AtomicCheckpointHook` saves checkpoints
with).
"""
import contextlib
import json
import os
import os.path as osp
import secrets
from pathlib import Path
from typing import IO, Any, Iterator, Union

from mmengine.fileio import LocalBackend, register_backend

__all__ = [
    'atomic_open', 'atomic_write', 'atomic_json_dump', 'temporary_name',
    'AtomicLocalBackend', 'ATOMIC_LOCAL_BACKEND'
]

#: The name :class:`AtomicLocalBackend` is registered under in MMEngine's
#: file backends (``backend_args=dict(backend=ATOMIC_LOCAL_BACKEND)``).
ATOMIC_LOCAL_BACKEND = 'mmghm_atomic_local'

PathLike = Union[str, Path]


def temporary_name(path: PathLike, keep_extension: bool = False) -> str:
    """A hidden, unique name beside ``path`` to write it under first
    (``.<name>.tmp-<pid>-<random>``, plus ``path``'s extension with
    ``keep_extension``, for writers that check it). Hidden, so that globs
    such as ``*.pth`` do not see it."""
    folder, name = osp.split(osp.abspath(os.fspath(path)))
    ext = osp.splitext(name)[1] if keep_extension else ''
    return osp.join(
        folder, f'.{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}{ext}')


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot
    be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: PathLike,
                mode: str = 'w',
                encoding: str = 'utf-8') -> Iterator[IO]:
    """``open(path, mode)`` whose file gets its name only when the ``with``
    block ends without an exception.

    Args:
        path: The final file name; its folder is created if missing.
        mode: ``'w'`` (text) or ``'wb'`` (bytes).
        encoding: Text encoding (text mode only).

    On an exception the temporary file is removed and the target is left as
    it was (the previous version, or absent).
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got "
                         f'{mode!r}')
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = temporary_name(path)
    kwargs = {} if 'b' in mode else dict(encoding=encoding)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def atomic_write(path: PathLike,
                 data: Union[bytes, str],
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` (bytes, or text in ``encoding``) to ``path``
    atomically (see :func:`atomic_open`)."""
    if not isinstance(data, (bytes, bytearray, memoryview, str)):
        raise TypeError(f'atomic_write: data must be bytes or str, got '
                        f'{type(data).__name__}')
    mode = 'w' if isinstance(data, str) else 'wb'
    with atomic_open(path, mode, encoding=encoding) as f:
        f.write(data)


def atomic_json_dump(obj: Any, path: PathLike, **kwargs) -> None:
    """``json.dump(obj, f, **kwargs)`` plus a final newline, atomically.

    The object is serialised before anything is written, so an object
    that cannot be serialised leaves no file at all."""
    text = json.dumps(obj, **kwargs) + '\n'
    atomic_write(path, text)


@register_backend(ATOMIC_LOCAL_BACKEND, force=True)
class AtomicLocalBackend(LocalBackend):
    """MMEngine's ``LocalBackend`` whose ``put``/``put_text`` write to a
    temporary file and rename it into place (:func:`atomic_write`).

    MMEngine's ``save_checkpoint`` serialises a checkpoint to memory and
    hands the bytes to the file backend's ``put``; with this backend a
    crash or a full disk while saving never leaves a truncated
    ``epoch_N.pth``. Select it with
    ``backend_args=dict(backend='mmghm_atomic_local')``.
    """

    def put(self, obj: bytes, filepath: PathLike) -> None:
        atomic_write(filepath, obj)

    def put_text(self,
                 obj: str,
                 filepath: PathLike,
                 encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj, encoding=encoding)
