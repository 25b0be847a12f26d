"""SklearnDigits: the real scikit-learn digits as an MMPretrain data set."""
import numpy as np
import pytest
from sklearn.datasets import load_digits

from mmghm.datasets import LongTailedDataset, SklearnDigits
from mmghm.registry import DATASETS


@pytest.fixture(scope='module')
def digits():
    return load_digits()


def test_split_is_every_fifth_image_of_each_class(digits):
    train = SklearnDigits(split='train')
    test = SklearnDigits(split='test')
    assert (len(train), len(test)) == (1442, 355)
    # Independent reference: walk the file, counting images per class.
    seen = {}
    ref_test = []
    for i, label in enumerate(digits.target):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] % 5 == 0:
            ref_test.append(i)
    assert SklearnDigits.split_indices(digits.target,
                                       'test').tolist() == ref_test
    ref_train = sorted(set(range(1797)) - set(ref_test))
    assert SklearnDigits.split_indices(digits.target,
                                       'train').tolist() == ref_train
    assert test.get_gt_labels().tolist() == digits.target[ref_test].tolist()
    assert np.bincount(train.get_gt_labels()).tolist() == [
        143, 146, 142, 147, 145, 146, 145, 144, 140, 144
    ]


def test_images_are_uint8_rgb_scaled_from_0_16(digits):
    test = SklearnDigits(split='test')
    idx = SklearnDigits.split_indices(digits.target, 'test')
    for k in (0, 100, 354):
        img = test.get_data_info(k)['img']
        assert img.dtype == np.uint8 and img.shape == (8, 8, 3)
        src = digits.images[idx[k]]
        assert np.array_equal(img[..., 0], np.rint(src * 255 / 16))
        assert np.array_equal(img[..., 0], img[..., 2])
    assert test.get_data_info(0)['img'].max() == 255
    assert test.metainfo['classes'] == tuple('0123456789')


def test_pipeline_and_long_tail():
    ds = DATASETS.build(
        dict(type='mmghm.SklearnDigits', split='train',
             pipeline=[dict(type='Resize', scale=(32, 32)),
                       dict(type='RandomFlip', prob=0.5),
                       dict(type='PackInputs')]))
    item = ds[7]
    assert tuple(item['inputs'].shape) == (3, 32, 32)
    assert item['inputs'].dtype.is_floating_point is False
    assert int(item['data_samples'].gt_label) == ds.get_gt_labels()[7]
    lt = LongTailedDataset(ds, imbalance_factor=10)
    # n_max = smallest train class (140); 140 * 0.1 ** (i / 9)
    assert lt.metainfo['class_counts'] == [
        140, 108, 83, 64, 50, 38, 30, 23, 18, 14
    ]
    assert tuple(lt[0]['inputs'].shape) == (3, 32, 32)


def test_bad_split():
    with pytest.raises(ValueError, match="split must be one of .* 'val'"):
        SklearnDigits(split='val')
