"""ImageNet-LT (Liu et al., CVPR 2019) from its standard split lists."""
from typing import List, Optional

from mmengine.fileio import exists, get_file_backend, list_from_file
from mmpretrain.datasets import CustomDataset
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES

from mmghm.registry import DATASETS
from .utils import check_relative_path

SPLITS = ('train', 'val', 'test')


def read_split_list(ann_file: str, num_classes: int,
                    dataset: str) -> List[tuple]:
    """Read ``"<relative image path> <label>"`` lines, checking each one.

    Args:
        ann_file: The list file.
        num_classes: Labels must lie in ``0 .. num_classes - 1``.
        dataset: Name used in error messages.

    Returns:
        list[tuple[str, int]]: (path, label) per non-empty line.

    Raises:
        ValueError: a malformed line, a label out of range, or a path that
            leads out of the data root (absolute, ``..``, a URL:
            :func:`mmghm.datasets.utils.check_relative_path`).
    """
    if not exists(ann_file):
        raise FileNotFoundError(f'{dataset}: split list {ann_file} not found.')
    samples = []
    for lineno, line in enumerate(list_from_file(ann_file), 1):
        line = line.strip()
        if not line:
            continue
        fields = line.rsplit(maxsplit=1)
        if len(fields) != 2 or not fields[1].lstrip('-').isdigit():
            raise ValueError(
                f'{dataset}: {ann_file} line {lineno} is malformed: {line!r}; '
                'expected "<relative image path> <integer label>".')
        label = int(fields[1])
        if not 0 <= label < num_classes:
            raise ValueError(
                f'{dataset}: {ann_file} line {lineno} has label {label}, '
                f'outside the {num_classes} classes (0..{num_classes - 1}).')
        samples.append((check_relative_path(
            fields[0], f'{dataset}: {ann_file} line {lineno}'), label))
    if not samples:
        raise ValueError(f'{dataset}: {ann_file} lists no image.')
    return samples


@DATASETS.register_module()
class ImageNetLT(CustomDataset):
    """ImageNet-LT: a Pareto-distributed subset of ImageNet-2012.

    1,000 classes; 115,846 training images (1,280 down to 5 a class), 20,000
    validation and 50,000 test images (balanced). The split lists
    ``ImageNet_LT_{train,val,test}.txt`` (from the OLTR release) hold one
    ``"<path relative to the ImageNet root> <label>"`` line per image, e.g.
    ``train/n01440764/n01440764_190.JPEG 0``; labels are ImageNet's own
    class indices, so the class names are MMPretrain's ImageNet categories.

    This is MMPretrain's ``CustomDataset`` (annotation-file mode) with every
    line checked, so a wrong list fails with the file, line and problem
    rather than an unpacking error.

    Args:
        data_root: The ImageNet root (holding ``train/``, ``val/``).
        split: ``'train'``, ``'val'`` or ``'test'``; picks the default list
            ``ImageNet_LT_{split}.txt``.
        ann_file: The split list, relative to ``data_root`` unless absolute.
            Defaults to ``ImageNet_LT_{split}.txt``.
        data_prefix: Prefix of the image paths, relative to ``data_root``.
        **kwargs: Other arguments of ``CustomDataset`` / ``BaseDataset``.

    Example:
        >>> dataset = dict(type='mmghm.ImageNetLT', data_root='data/imagenet',
        ...                ann_file='meta/ImageNet_LT_train.txt',
        ...                pipeline=train_pipeline)
    """

    METAINFO = {'classes': IMAGENET_CATEGORIES}

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 ann_file: Optional[str] = None,
                 data_prefix: str = '',
                 **kwargs):
        if split not in SPLITS:
            raise ValueError(
                f'split must be one of {SPLITS}, but got {split!r}.')
        self.split = split
        if ann_file is None:
            ann_file = f'ImageNet_LT_{split}.txt'
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            ann_file=ann_file,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        samples = read_split_list(self.ann_file, len(self.CLASSES),
                                  type(self).__name__)
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        return [
            dict(img_path=backend.join_path(self.img_prefix, path),
                 gt_label=label) for path, label in samples
        ]
