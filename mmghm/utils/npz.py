"""Read ``.npz`` files (gradient-histogram dumps, image packs) as data, with
what they can make the reader allocate bounded by their size."""
import os
import zipfile
from typing import Dict

import numpy as np
from numpy.lib import format as npy_format

__all__ = ['load_npz', 'NPZ_MAX_EXPANSION']

#: Most bytes an .npz may unpack to, as a multiple of its size on disk.
#: ``np.savez`` stores records (1x); ``np.savez_compressed`` of JPEG bytes
#: and label arrays stays far below; a zip bomb is far above.
NPZ_MAX_EXPANSION = 64


def _check_record(zf: zipfile.ZipFile, info: zipfile.ZipInfo,
                  path: str) -> None:
    """The .npy header of one record must describe what the record holds."""
    with zf.open(info) as f:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
        header = f.tell()
    if dtype.hasobject:
        raise ValueError(f'{path}: {info.filename} holds Python objects; '
                         'only numeric and string arrays are read')
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need != info.file_size - header:
        raise ValueError(
            f'{path}: {info.filename} declares shape {shape} of {dtype} '
            f'({need} bytes) but holds {info.file_size - header} bytes')


def load_npz(path: str, max_expansion: int = NPZ_MAX_EXPANSION
             ) -> Dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without pickle.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an .npz, records that unpack to more than
            ``max_expansion`` times the file's size, an array header that
            disagrees with its data, or object arrays; the message names
            the file and the record.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} not found')
    size = os.path.getsize(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > max_expansion * max(size, 1):
                raise ValueError(
                    f'{path}: its records unpack to {total} bytes, more '
                    f'than {max_expansion} times its {size} bytes')
            for info in infos:
                if not info.filename.endswith('.npy'):
                    raise ValueError(f'{path}: {info.filename!r} is not an '
                                     '.npy record')
                _check_record(zf, info, path)
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError,
            EOFError, OSError) as e:
        raise ValueError(f'{path} is not a readable .npz file: '
                         f'{type(e).__name__}: {e}') from e
