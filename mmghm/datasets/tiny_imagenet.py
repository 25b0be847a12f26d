"""TinyImageNet-200 in its official layout (the paper's Table 1)."""
from typing import List, Optional

from mmengine.fileio import exists, get_file_backend, list_from_file
from mmpretrain.datasets import BaseDataset

from mmghm.registry import DATASETS
from .utils import check_relative_path

SPLITS = ('train', 'val')


@DATASETS.register_module()
class TinyImageNet(BaseDataset):
    """TinyImageNet-200 (200 classes, 64x64; 500 train, 50 val a class).

    Reads the layout of the official ``tiny-imagenet-200.zip``::

        data_root/
        ├── wnids.txt                      # the 200 WordNet ids
        ├── train/<wnid>/images/<wnid>_<k>.JPEG
        └── val/
            ├── images/val_<k>.JPEG
            └── val_annotations.txt  # "val_<k>.JPEG<TAB><wnid><TAB>box"

    Labels follow the sorted WordNet ids (the order of ``ImageFolder`` and of
    MMPretrain's ``CustomDataset`` on ``train/``), so class 0 is
    ``n01443537``. The official test split has no labels and is not offered;
    the validation split serves as the test set, as in the long-tailed
    literature. Long-tailed versions: wrap in
    :class:`mmghm.datasets.LongTailedDataset`.

    Args:
        data_root: The ``tiny-imagenet-200`` folder.
        split: ``'train'`` or ``'val'``.
        **kwargs: Other arguments of MMPretrain's ``BaseDataset``
            (``pipeline``, ``test_mode``, ``lazy_init``, ...).
    """

    IMG_EXTENSIONS = ('.jpeg', '.jpg', '.png')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if split not in SPLITS:
            raise ValueError(
                f'split must be one of {SPLITS}, but got {split!r}.')
        self.split = split
        super().__init__(
            ann_file='wnids.txt',
            data_root=data_root,
            data_prefix='',
            metainfo=metainfo,
            **kwargs)

    def _read_wnids(self) -> List[str]:
        if not exists(self.ann_file):
            raise FileNotFoundError(
                f'TinyImageNet: {self.ann_file} not found; data_root must be '
                'the unpacked tiny-imagenet-200 folder.')
        wnids = [(i, w.strip())
                 for i, w in enumerate(list_from_file(self.ann_file), 1)]
        wnids = [
            check_relative_path(w, f'TinyImageNet: {self.ann_file} line {i}',
                                name_only=True) for i, w in wnids if w
        ]
        if not wnids:
            raise ValueError(f'TinyImageNet: {self.ann_file} lists no wnid.')
        dup = {w for w in wnids if wnids.count(w) > 1}
        if dup:
            raise ValueError(f'TinyImageNet: {self.ann_file} lists '
                             f'{sorted(dup)} more than once.')
        return sorted(wnids)

    def load_data_list(self) -> List[dict]:
        wnids = self._read_wnids()
        self._metainfo['classes'] = tuple(wnids)
        label_of = {w: i for i, w in enumerate(wnids)}
        backend = get_file_backend(self.data_root, enable_singleton=True)
        join = backend.join_path
        if self.split == 'train':
            return self._load_train(wnids, backend, join)
        return self._load_val(label_of, backend, join)

    def _is_image(self, name: str) -> bool:
        return name.lower().endswith(self.IMG_EXTENSIONS)

    def _load_train(self, wnids, backend, join) -> List[dict]:
        data_list = []
        for label, wnid in enumerate(wnids):
            folder = join(self.data_root, 'train', wnid, 'images')
            if not backend.isdir(folder):
                raise FileNotFoundError(
                    f'TinyImageNet: {folder} not found, but {wnid} is listed '
                    f'in {self.ann_file}.')
            files = sorted(f for f in backend.list_dir_or_file(
                folder, list_dir=False) if self._is_image(f))
            if not files:
                raise ValueError(f'TinyImageNet: no image in {folder}.')
            data_list.extend(
                dict(img_path=join(folder, f), gt_label=label)
                for f in files)
        return data_list

    def _load_val(self, label_of, backend, join) -> List[dict]:
        ann = join(self.data_root, 'val', 'val_annotations.txt')
        if not exists(ann):
            raise FileNotFoundError(
                f'TinyImageNet: {ann} not found (needed for split="val").')
        data_list = []
        for lineno, line in enumerate(list_from_file(ann), 1):
            if not line.strip():
                continue
            fields = line.split('\t') if '\t' in line else line.split()
            if len(fields) < 2 or not self._is_image(fields[0].strip()):
                raise ValueError(
                    f'TinyImageNet: {ann} line {lineno} is malformed: '
                    f'{line!r}; expected "<image>\\t<wnid>\\t<box>".')
            name, wnid = fields[0].strip(), fields[1].strip()
            name = check_relative_path(
                name, f'TinyImageNet: {ann} line {lineno}', name_only=True)
            if wnid not in label_of:
                raise ValueError(
                    f'TinyImageNet: {ann} line {lineno} names {wnid!r}, '
                    'which is not in wnids.txt.')
            data_list.append(
                dict(
                    img_path=join(self.data_root, 'val', 'images', name),
                    gt_label=label_of[wnid]))
        if not data_list:
            raise ValueError(f'TinyImageNet: {ann} holds no annotation.')
        return data_list

    def extra_repr(self) -> List[str]:
        return [f'Root: \t{self.data_root}', f'Split: \t{self.split}']
