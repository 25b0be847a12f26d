"""dataset_class_counts through wrappers; unpacking the CIFAR-10 zip."""
import zipfile

import pytest
from mmengine.dataset import BaseDataset as MMEngineBaseDataset
from mmengine.dataset import (ClassBalancedDataset, ConcatDataset,
                              RepeatDataset)
from mmpretrain.datasets import BaseDataset

from mmghm.datasets import LongTailedDataset
from mmghm.datasets.utils import find_cifar10_jpeg, prepare_cifar10_jpeg
from mmghm.utils.class_counts import dataset_class_counts


class Labels(BaseDataset):
    """MMPretrain data set of labels only (counted via get_gt_labels)."""

    def __init__(self, labels, classes=None):
        self._labels = labels
        super().__init__(ann_file='', classes=classes)

    def load_data_list(self):
        return [dict(gt_label=label) for label in self._labels]


class CatIds(MMEngineBaseDataset):
    """MMEngine data set with only get_cat_ids (e.g. multi-label)."""

    def __init__(self, cat_ids):
        self._cat_ids = cat_ids
        super().__init__()

    def load_data_list(self):
        return [dict(cats=c) for c in self._cat_ids]

    def get_cat_ids(self, idx):
        return self.get_data_info(idx)['cats']


def test_counts_from_labels_and_metainfo():
    plain = Labels([0, 2, 2, 1, 2], classes=['a', 'b', 'c', 'd'])
    assert dataset_class_counts(plain) == [1, 1, 3, 0]  # length from classes
    assert dataset_class_counts(Labels([1, 1, 3])) == [0, 2, 0, 1]
    assert dataset_class_counts(CatIds([[0, 1], [1], [2, 0]])) == [2, 2, 1]
    lt = LongTailedDataset(Labels([0, 1, 2] * 8), imbalance_factor=4)
    assert dataset_class_counts(lt) == [8, 4, 2]


def test_counts_look_through_wrappers():
    a = Labels([0, 0, 1], classes=list('ab'))
    b = Labels([1, 2, 2, 2], classes=list('abc'))
    assert dataset_class_counts(RepeatDataset(a, times=5)) == [2, 1]
    cb = ClassBalancedDataset(b, oversample_thr=0.9)
    assert len(cb) > len(b)
    assert dataset_class_counts(cb) == [0, 1, 3]
    concat = ConcatDataset([a, b], ignore_keys=['classes'])
    assert dataset_class_counts(concat) == [2, 2, 3]
    # MMEngine's wrappers nest only through configs.
    nested = ConcatDataset(
        [dict(type='RepeatDataset', dataset=a, times=2), a])
    assert dataset_class_counts(nested) == [4, 2]


def test_counts_errors():
    with pytest.raises(ValueError, match='label 2 outside its 2 classes'):
        dataset_class_counts(Labels([0, 2], classes=list('ab')))
    with pytest.raises(TypeError, match='Cannot read per-class counts'):
        dataset_class_counts(object())


def test_prepare_unpacks_once(tmp_path):
    zip_path = tmp_path / 'cifar10-jpeg.zip'
    with zipfile.ZipFile(zip_path, 'w') as zf:
        zf.writestr('train/cat/0000.jpg', b'x')
        zf.writestr('test/dog/0000.jpg', b'y')
    cache = tmp_path / 'cache' / 'mmghm_cifar10'
    root = prepare_cifar10_jpeg(cache, zip_path)
    assert root == cache
    assert (root / 'train' / 'cat' / '0000.jpg').read_bytes() == b'x'
    # Reused when complete: the zip is not even opened again.
    zip_path.unlink()
    assert prepare_cifar10_jpeg(cache, zip_path) == cache
    assert [p.name for p in cache.parent.iterdir()] == ['mmghm_cifar10']
    with pytest.raises(FileNotFoundError, match='cifar10-jpeg.zip not found'):
        prepare_cifar10_jpeg(tmp_path / 'other', zip_path)


def test_find_respects_environment(tmp_path, monkeypatch):
    monkeypatch.setenv('MMGHM_CIFAR10_ZIP', str(tmp_path / 'none.zip'))
    assert find_cifar10_jpeg() is None
    (tmp_path / 'c.zip').write_bytes(b'')
    monkeypatch.setenv('MMGHM_CIFAR10_ZIP', str(tmp_path / 'c.zip'))
    assert find_cifar10_jpeg() == tmp_path / 'c.zip'


def test_find_looks_in_data_under_the_working_directory(tmp_path,
                                                        monkeypatch):
    monkeypatch.delenv('MMGHM_CIFAR10_ZIP', raising=False)
    monkeypatch.chdir(tmp_path)
    assert find_cifar10_jpeg() is None
    # A zip beside the working directory (where a shared folder might be)
    # is not looked at: only data/ and the environment variable.
    (tmp_path / 'shared' / 'data').mkdir(parents=True)
    (tmp_path / 'shared' / 'data' / 'cifar10-jpeg.zip').write_bytes(b'')
    sub = tmp_path / 'repo'
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert find_cifar10_jpeg() is None
    (sub / 'data').mkdir()
    (sub / 'data' / 'cifar10-jpeg.zip').write_bytes(b'')
    assert find_cifar10_jpeg() == sub / 'data' / 'cifar10-jpeg.zip'
