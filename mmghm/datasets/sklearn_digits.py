"""The handwritten digits that scikit-learn ships, as an image data set.

Real data with no download: ``sklearn.datasets.load_digits`` holds 1,797
8x8 greyscale images of the digits 0-9 (UCI "Optical Recognition of
Handwritten Digits", 174-183 a class), pixel values 0..16. mmghm uses it as
the README's demo data set, long-tailed through
:class:`mmghm.datasets.LongTailedDataset`.
"""
from typing import List, Optional

import numpy as np
from mmpretrain.datasets import BaseDataset

from mmghm.registry import DATASETS

SPLITS = ('train', 'test')


@DATASETS.register_module()
class SklearnDigits(BaseDataset):
    """scikit-learn's handwritten digits as uint8 HxWx3 images.

    Pixels are scaled from 0..16 to 0..255 (``round(x * 255 / 16)``) and the
    grey channel is repeated three times, so MMPretrain's image transforms
    (``Resize``, ``RandomCrop``, ``PackInputs``, ...) apply unchanged to
    ``results['img']``.

    The split is fixed and stratified: going through the images of each class
    in their order in scikit-learn's file, every 5th image (positions 4, 9,
    14, ... within its class) is ``'test'``, the others are ``'train'``. This
    gives 1,442 training and 355 test images (140-147 and 34-36 a class), no
    randomness involved.

    Args:
        split: ``'train'`` or ``'test'``.
        metainfo: Extra meta information. Classes are ``'0'`` .. ``'9'``.
        **kwargs: Other arguments of MMPretrain's ``BaseDataset``
            (``pipeline``, ``test_mode``, ``lazy_init``, ...).
    """

    METAINFO = {'classes': tuple(str(i) for i in range(10))}
    #: One image in ``TEST_EVERY`` of each class goes to the test split.
    TEST_EVERY = 5

    def __init__(self,
                 split: str = 'train',
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if split not in SPLITS:
            raise ValueError(
                f'split must be one of {SPLITS}, but got {split!r}.')
        self.split = split
        super().__init__(ann_file='', metainfo=metainfo, **kwargs)

    @classmethod
    def split_indices(cls, labels: np.ndarray, split: str) -> np.ndarray:
        """Indices of ``split`` among images with ``labels`` (see above)."""
        rank = np.empty(len(labels), dtype=np.int64)
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            rank[idx] = np.arange(len(idx))
        is_test = rank % cls.TEST_EVERY == cls.TEST_EVERY - 1
        return np.flatnonzero(is_test if split == 'test' else ~is_test)

    def load_data_list(self) -> List[dict]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
        labels = digits.target.astype(np.int64)
        data_list = []
        for i in self.split_indices(labels, self.split):
            img = np.repeat(images[i][:, :, None], 3, axis=2)
            data_list.append(dict(img=img, gt_label=int(labels[i])))
        return data_list

    def extra_repr(self) -> List[str]:
        return [f'Split: \t{self.split}', 'Source: \tsklearn.load_digits']
