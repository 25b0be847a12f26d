"""Which checkpoint file ``--resume`` (no value) resumes from, read safely.

MMEngine's auto-resume (``resume=True`` without ``load_from``) opens
``<work_dir>/last_checkpoint`` and hands its text, unchecked, to
``Runner.resume``, whose ``CheckpointLoader`` opens local paths anywhere
(``~`` expanded) and URLs (``http://``, ``s3://``, ``pavi://``,
``open-mmlab://`` ...). Whoever can write a work dir could thus make a
resumed training read any file or fetch any URL. mmghm resolves the
checkpoint itself (:func:`latest_intact_checkpoint`, used by
:func:`mmghm.utils.launch.resolve_resume`) and gives MMEngine an explicit,
checked local path, so MMEngine's ``find_latest_checkpoint`` never acts on
the file. The checks:

``last_checkpoint``
    a regular file (not a link, FIFO or device) of at most
    :data:`MAX_LAST_CHECKPOINT_BYTES` bytes, UTF-8, one line, no control
    characters, no URL scheme (nothing with ``://``). Its path, resolved
    as MMEngine would (relative to the current directory) and with every
    symbolic link followed, must lie inside the work dir (or the
    ``CheckpointHook``'s ``out_dir`` that the config names) and be a
    regular file. Anything else is refused with
    :class:`CheckpointPathError`; nothing outside is opened.
candidates
    the named checkpoint first, then the ``epoch_N.pth`` / ``iter_N.pth``
    files of those folders, newest (largest N) first, each resolved the same
    way. The first *intact* one is used (:func:`checkpoint_problem`: a
    regular, non-empty zip file whose central directory and records read
    back, as ``torch.save`` writes them); each skipped one is named in a
    warning, so a truncated newest checkpoint (a crash while saving) is
    reported and the previous one resumed.
"""
import os
import os.path as osp
import re
import stat
import warnings
import zipfile
from typing import List, Optional, Sequence, Tuple

__all__ = [
    'CheckpointPathError', 'MAX_LAST_CHECKPOINT_BYTES', 'checkpoint_problem',
    'read_last_checkpoint', 'latest_intact_checkpoint'
]

#: ``last_checkpoint`` holds one path; a longer file is not MMEngine's.
MAX_LAST_CHECKPOINT_BYTES = 4096
_CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


class CheckpointPathError(ValueError):
    """A checkpoint path read from a file was refused."""


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep)
               for root in roots)


def _describe_roots(roots: Sequence[str]) -> str:
    return ' or '.join(roots)


def read_last_checkpoint(work_dir: str,
                         roots: Optional[Sequence[str]] = None
                         ) -> Optional[str]:
    """The checkpoint ``<work_dir>/last_checkpoint`` names, checked.

    Args:
        work_dir: The work dir.
        roots: Folders (real paths) the named file must lie in; defaults to
            the work dir's real path.

    Returns:
        The real (symlink-free, absolute) path, which may not exist (a
        deleted checkpoint); None when there is no ``last_checkpoint`` or it
        is empty.

    Raises:
        CheckpointPathError: if the file or the path it holds is refused
            (see the module's documentation).
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.lexists(marker):
        return None
    roots = list(roots) if roots else [osp.realpath(work_dir)]
    what = f'{marker}'
    try:
        # O_NOFOLLOW: a link is refused, not followed; O_NONBLOCK: a FIFO
        # does not block the open (it is refused below).
        fd = os.open(marker,
                     os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0)
                     | getattr(os, 'O_NONBLOCK', 0))
    except OSError as e:
        raise CheckpointPathError(
            f'{what} cannot be opened as a regular file ({e.strerror}); it '
            'must be the plain file MMEngine writes (a symbolic link is '
            'refused).') from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CheckpointPathError(
                f'{what} is not a regular file; refusing to read it.')
        with os.fdopen(fd, 'rb', closefd=False) as f:
            raw = f.read(MAX_LAST_CHECKPOINT_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_LAST_CHECKPOINT_BYTES:
        raise CheckpointPathError(
            f'{what} is longer than {MAX_LAST_CHECKPOINT_BYTES} bytes; it '
            'should hold one checkpoint path.')
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        raise CheckpointPathError(f'{what} is not UTF-8 text ({e}).') from e
    text = text.strip()
    if not text:
        return None
    if '\n' in text or '\r' in text:
        raise CheckpointPathError(
            f'{what} holds more than one line; it should hold one '
            'checkpoint path.')
    odd = [c for c in text if ord(c) < 32 or ord(c) == 127]
    if odd:
        raise CheckpointPathError(
            f'{what} holds control characters {sorted(set(map(repr, odd)))}'
            '; it should hold one checkpoint path.')
    if '://' in text:
        raise CheckpointPathError(
            f'{what} names {text!r}, a URL; auto-resume only reads '
            f'checkpoints inside {_describe_roots(roots)}. Pass '
            '--resume URL to resume from a URL on purpose.')
    real = osp.realpath(text)
    if not _inside(real, roots):
        raise CheckpointPathError(
            f'{what} names {text!r} (really {real}), which is outside '
            f'{_describe_roots(roots)}; auto-resume only reads checkpoints '
            'inside the work dir. Pass --resume PATH to resume from another '
            'checkpoint on purpose.')
    if osp.lexists(real) and not osp.isfile(real):
        raise CheckpointPathError(
            f'{what} names {text!r}, which is not a regular file.')
    return real


def checkpoint_problem(path: str) -> Optional[str]:
    """None when ``path`` is an intact ``torch.save`` file, else what is
    wrong with it (truncated, not a zip, a record that fails its CRC).

    Reads the file's zip structure and every record once (torch writes them
    uncompressed, so this costs about one read of the file); nothing is
    unpickled.
    """
    try:
        info = os.stat(path)
    except OSError as e:
        return f'cannot be read ({e.strerror})'
    if not stat.S_ISREG(info.st_mode):
        return 'not a regular file'
    if info.st_size == 0:
        return 'empty'
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if not any(n == 'data.pkl' or n.endswith('/data.pkl')
                       for n in names):
                return 'not a torch.save file (no data.pkl record)'
            bad = zf.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
            ValueError, NotImplementedError) as e:
        return (f'truncated or not a checkpoint: its zip directory or '
                f'records cannot be read ({e})')
    if bad is not None:
        return f'record {bad!r} fails its CRC check (damaged)'
    return None


def _step(path: str) -> int:
    match = _CHECKPOINT_NAME.match(osp.basename(path))
    return int(match.group(2)) if match else -1


def _scan(folders: Sequence[str], roots: Sequence[str]) -> List[str]:
    """``epoch_N.pth`` / ``iter_N.pth`` in ``folders``, newest first, as
    real paths; a link leading outside ``roots`` is refused."""
    found = []
    for folder in folders:
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            if not _CHECKPOINT_NAME.match(name):
                continue
            path = osp.join(folder, name)
            real = osp.realpath(path)
            if not _inside(real, roots):
                raise CheckpointPathError(
                    f'{path} leads to {real}, outside '
                    f'{_describe_roots(roots)}; refusing to resume from a '
                    'checkpoint outside the work dir.')
            if osp.isfile(real):
                found.append(real)
    return sorted(set(found), key=lambda p: (_step(p), p), reverse=True)


def latest_intact_checkpoint(work_dir: str,
                             checkpoint_dirs: Sequence[str] = ()
                             ) -> Optional[str]:
    """The checkpoint auto-resume should resume from, or None (none saved).

    Args:
        work_dir: The run's work dir (holds ``last_checkpoint``).
        checkpoint_dirs: Other folders the config saves checkpoints to (the
            ``CheckpointHook``'s ``out_dir``); trusted, as the config is.

    Returns:
        The real path of the newest intact checkpoint: the one
        ``last_checkpoint`` names if intact, else the newest intact
        ``epoch_N.pth`` / ``iter_N.pth``; None when the work dir has no
        ``last_checkpoint`` and no checkpoint.

    Raises:
        CheckpointPathError: ``last_checkpoint`` or a checkpoint path is
            refused, or checkpoints exist but none is intact.
    """
    folders = [osp.realpath(work_dir)] + [
        osp.realpath(d) for d in checkpoint_dirs
        if osp.realpath(d) != osp.realpath(work_dir)
    ]
    named = read_last_checkpoint(work_dir, folders)
    candidates = ([named] if named else []) + [
        p for p in _scan(folders, folders) if p != named
    ]
    skipped: List[Tuple[str, str]] = []
    for path in candidates:
        problem = ('does not exist' if not osp.lexists(path) else
                   checkpoint_problem(path))
        if problem is None:
            if skipped:
                warnings.warn(
                    'auto-resume: skipped ' + '; '.join(
                        f'{p} ({why})' for p, why in skipped) +
                    f'; resuming from {path}, the newest intact checkpoint.',
                    UserWarning, stacklevel=2)
            return path
        skipped.append((path, problem))
    if skipped:
        raise CheckpointPathError(
            f'auto-resume: no intact checkpoint in {_describe_roots(folders)}'
            ': ' + '; '.join(f'{p} ({why})' for p, why in skipped) +
            '. Remove the damaged files to start afresh, or pass --resume '
            'PATH.')
    return None
