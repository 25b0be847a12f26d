"""An image folder with one sub-folder per class, checked before it is read.

MMPretrain's ``CustomDataset`` reads ``<data_root>/<data_prefix>/<class>/*``;
when that folder is missing it fails deep inside ``os.scandir`` with only
the path. :class:`ImageFolder` is the same data set, but first says which
folder is missing, which environment variable names the data root (the
configs under ``configs/own_data/`` read ``OWN_DATA_ROOT``) and whether it
is set, and the layout it expects.
"""
import os
import os.path as osp
from typing import Optional

from mmpretrain.datasets import CustomDataset

from mmghm.registry import DATASETS

#: The layout the message shows.
LAYOUT = ('<root>/train/<class>/*.jpg (or .png, ...) and '
          '<root>/test/<class>/*.jpg: one sub-folder per class, the same '
          'class names in both')


@DATASETS.register_module()
class ImageFolder(CustomDataset):
    """MMPretrain's ``CustomDataset`` (with class sub-folders) that names
    what is wrong when its folder is missing or has no class sub-folders.

    Args:
        root_env: The environment variable the config reads ``data_root``
            from (e.g. ``'OWN_DATA_ROOT'``), named in the error; None names
            none.
        **kwargs: ``CustomDataset``'s arguments.

    Raises:
        FileNotFoundError: when ``<data_root>/<data_prefix>`` is not a
            folder, or holds no class sub-folder; the message names the
            folder, ``root_env`` and whether it is set, and the layout.
    """

    def __init__(self, *args, root_env: Optional[str] = None, **kwargs):
        if root_env is not None and not (isinstance(root_env, str)
                                         and root_env):
            raise ValueError('root_env must be the name of an environment '
                             f'variable (a non-empty str) or None, got '
                             f'{root_env!r}.')
        self.root_env = root_env
        super().__init__(*args, **kwargs)

    def _where(self) -> str:
        if self.root_env is None:
            return ('Set data_root in the config (or --cfg-options '
                    '...data_root=/path)')
        value = os.environ.get(self.root_env)
        if value is None:
            return (f'{self.root_env} is not set, so the config fell back '
                    f'to {self.data_root!r} (relative to the folder you run '
                    f'from): export {self.root_env}=/path/to/root')
        return (f'{self.root_env} is set to {value!r}; point it at the '
                'folder that holds train/ and test/')

    def load_data_list(self):
        folder = self.img_prefix
        if self.with_label and not self.ann_file and \
                '://' not in str(folder):
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'{type(self).__name__}: the image folder {folder!r} '
                    f'does not exist. {self._where()}. Expected layout: '
                    f'{LAYOUT}.')
            with os.scandir(folder) as entries:
                has_class = any(e.is_dir() for e in entries)
            if not has_class:
                raise FileNotFoundError(
                    f'{type(self).__name__}: {folder!r} has no class '
                    f'sub-folders. {self._where()}. Expected layout: '
                    f'{LAYOUT}.')
        return super().load_data_list()
