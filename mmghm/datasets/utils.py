"""Data helpers: CIFAR-10 as JPEG files, and annotation paths checked.

:func:`find_cifar10_jpeg` / :func:`prepare_cifar10_jpeg` locate and unpack a
``cifar10-jpeg.zip`` (CIFAR-10 as ``train/<class>/NNNN.jpg`` and
``test/<class>/NNNN.jpg``, the layout MMPretrain's ``CustomDataset`` reads)
into a cache folder. The zip is wherever its user keeps it: named by
``$MMGHM_CIFAR10_ZIP`` or given as an argument (or ``data/cifar10-jpeg.zip``
under the working directory); nothing here knows of any other place.
"""
import ntpath
import os
import os.path as osp
import posixpath
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Optional, Union

#: The splits a CIFAR-10 JPEG zip must hold, as ``<split>/<class>/*.jpg``.
CIFAR10_SPLITS = ('train', 'test')

CIFAR10_ZIP_NAME = 'cifar10-jpeg.zip'
#: Environment variable that overrides where the zip is looked for.
CIFAR10_ZIP_ENV = 'MMGHM_CIFAR10_ZIP'
_COMPLETE_MARKER = '.mmghm_unpacked'


def find_cifar10_jpeg() -> Optional[Path]:
    """Locate ``cifar10-jpeg.zip`` (CIFAR-10 as JPEG files).

    Looked for, in order: ``$MMGHM_CIFAR10_ZIP`` (when set, only there), and
    ``data/cifar10-jpeg.zip`` under the working directory.

    Returns:
        Path | None: The zip file, or None when it is nowhere to be found.
    """
    env = os.environ.get(CIFAR10_ZIP_ENV)
    if env:
        return Path(env) if osp.isfile(env) else None
    path = Path.cwd() / 'data' / CIFAR10_ZIP_NAME
    return path if path.is_file() else None


def default_cache_dir() -> Path:
    """``$MMGHM_CACHE_DIR/mmghm_cifar10``, or the same in the temp dir."""
    base = os.environ.get('MMGHM_CACHE_DIR', tempfile.gettempdir())
    return Path(base) / 'mmghm_cifar10'


def prepare_cifar10_jpeg(cache_dir: Union[str, Path, None] = None,
                         zip_path: Union[str, Path, None] = None) -> Path:
    """Unpack ``cifar10-jpeg.zip`` once and return the unpacked folder.

    The folder then holds ``train/<class>/*.jpg`` (5,000 a class) and
    ``test/<class>/*.jpg`` (1,000 a class); point a ``CustomDataset``'s
    ``data_prefix`` at ``<folder>/train`` or ``<folder>/test``. Unpacking goes
    to a private temporary folder that is renamed into place only when
    complete, so concurrent callers never see a half-unpacked copy.

    Args:
        cache_dir: Where to unpack. Defaults to :func:`default_cache_dir`.
        zip_path: The zip file. Defaults to :func:`find_cifar10_jpeg`.

    Returns:
        Path: ``cache_dir``, complete.

    Raises:
        FileNotFoundError: If the zip file cannot be found.
        ValueError: If the zip lacks a split (``train/`` or ``test/``, each
            with ``<class>/<image>`` files); nothing is unpacked then.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    if (cache_dir / _COMPLETE_MARKER).is_file():
        return cache_dir
    zip_path = Path(zip_path) if zip_path else find_cifar10_jpeg()
    if zip_path is None or not zip_path.is_file():
        raise FileNotFoundError(
            f'{CIFAR10_ZIP_NAME} not found (looked at '
            f'{zip_path or "$" + CIFAR10_ZIP_ENV + " and data/"}). '
            f'Set ${CIFAR10_ZIP_ENV} to its path, or pass zip_path.')
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=cache_dir.name + '.partial-',
                                dir=cache_dir.parent))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            _check_cifar10_members(zf.namelist(), zip_path)
            zf.extractall(tmp)
        (tmp / _COMPLETE_MARKER).write_text(str(zip_path) + '\n')
        if cache_dir.exists():  # an incomplete leftover, or another winner
            if (cache_dir / _COMPLETE_MARKER).is_file():
                return cache_dir
            shutil.rmtree(cache_dir, ignore_errors=True)
        try:
            os.replace(tmp, cache_dir)
        except OSError:  # another process renamed its copy first
            if not (cache_dir / _COMPLETE_MARKER).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return cache_dir


def _check_cifar10_members(names, zip_path) -> None:
    """Refuse a CIFAR-10 zip without ``train/<class>/<image>`` or
    ``test/<class>/<image>`` entries (before unpacking, naming the split)."""
    missing = [
        split for split in CIFAR10_SPLITS
        if not any(n.startswith(split + '/') and not n.endswith('/')
                   and n.count('/') >= 2 for n in names)
    ]
    if missing:
        raise ValueError(
            f'{zip_path} holds no {" and no ".join(s + "/" for s in missing)}'
            f' split: a CIFAR-10 JPEG zip holds {CIFAR10_SPLITS[0]}/<class>/'
            f'<image> and {CIFAR10_SPLITS[1]}/<class>/<image>; nothing was '
            'unpacked.')


def check_relative_path(path: str, where: str, name_only: bool = False) -> str:
    """An image path read from an annotation file, checked to stay inside
    the data root: relative, without ``..`` leading out of it, without a
    URL scheme, NUL or backslash-separated parts.

    The check is on the text (symbolic links that the data root itself
    holds are the data set's layout and are followed as usual).

    Args:
        path: The path as the file gives it.
        where: The file and line, for the error message.
        name_only: The entry names one file or folder (no ``/``), as
            TinyImageNet's wnids and validation images do.

    Returns:
        ``path``, normalised (``a/./b`` -> ``a/b``).

    Raises:
        ValueError: naming ``where``, the path and the rule it breaks.
    """
    problem = None
    if not isinstance(path, str) or not path:
        problem = 'is empty or not a string'
    elif '\x00' in path:
        problem = 'holds a NUL character'
    elif '://' in path:
        problem = 'is a URL'
    elif '\\' in path:
        problem = 'holds a backslash'
    elif posixpath.isabs(path) or ntpath.isabs(path):
        problem = 'is absolute'
    else:
        norm = posixpath.normpath(path)
        if norm == '..' or norm.startswith('../'):
            problem = 'leads out of the data root with ".."'
        elif name_only and ('/' in path or path in ('.', '..')):
            problem = 'is not a single file or folder name'
    if problem:
        raise ValueError(
            f'{where}: image path {path!r} {problem}; annotation files may '
            'only name files inside the data root (relative paths without '
            '"..").')
    return posixpath.normpath(path)
