"""LongTailedDataset: exact LT counts, seeded selection, wrappers, errors."""
import math

import numpy as np
import pytest
from mmengine.dataset import BaseDataset as MMEngineBaseDataset
from mmengine.dataset import ClassBalancedDataset, RepeatDataset
from mmpretrain.datasets import BaseDataset, CustomDataset

from mmghm.datasets import LongTailedDataset, long_tailed_counts
from mmghm.utils.class_counts import dataset_class_counts

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
# Published totals (Cui et al. 2019 / LDAM-DRW; the table).
TOTALS = {
    'cifar10': (10, 5000, {500: 10011, 100: 12406, 10: 20431, 1: 50000}),
    'cifar100': (100, 500, {500: 8155, 100: 10847, 10: 19573, 1: 50000}),
    'tinyimagenet': (200, 500, {500: 16132, 100: 21549, 10: 39072,
                                1: 100000}),
}
CIFAR10_IF100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


class LabelList(MMEngineBaseDataset):
    """A data set that is only a list of labels (order as given)."""

    def __init__(self, labels, classes=None, **kwargs):
        self._labels = list(labels)
        metainfo = None if classes is None else dict(classes=tuple(classes))
        super().__init__(metainfo=metainfo, serialize_data=False, **kwargs)

    def load_data_list(self):
        return [dict(gt_label=int(l), name=f'x{i}')
                for i, l in enumerate(self._labels)]


def balanced_labels(num_classes, per_class, interleave=True):
    labels = np.tile(np.arange(num_classes), per_class) if interleave \
        else np.repeat(np.arange(num_classes), per_class)
    return labels.tolist()


def reference_selection(labels, targets, seed):
    """LDAM-DRW's gen_imbalanced_data, written out: per-class shuffle.

    LDAM-DRW seeds NumPy's global generator (``np.random.seed(seed)``); a
    ``RandomState(seed)`` of our own draws the same numbers without changing
    the global state other tests see.
    """
    rng = np.random.RandomState(seed)
    labels = np.asarray(labels)
    kept = []
    for cls, n in enumerate(targets):
        idx = np.where(labels == cls)[0]
        rng.shuffle(idx)
        kept.extend(idx[:n].tolist())
    return sorted(kept)


@pytest.mark.parametrize('name', sorted(TOTALS))
def test_published_totals_formula(name):
    num_classes, n_max, totals = TOTALS[name]
    for imb, total in totals.items():
        counts = long_tailed_counts(num_classes, n_max, imb)
        assert sum(counts) == total
        assert counts[0] == n_max
        assert counts[-1] == int(n_max / imb)
    assert long_tailed_counts(10, 5000, 100) == CIFAR10_IF100


@pytest.mark.parametrize('name', ['cifar100', 'tinyimagenet'])
@pytest.mark.parametrize('imb', [500, 100, 10, 1])
def test_published_totals_from_labels(name, imb):
    num_classes, n_max, totals = TOTALS[name]
    base = LabelList(
        balanced_labels(num_classes, n_max),
        classes=[f'c{i}' for i in range(num_classes)])
    lt = LongTailedDataset(base, imbalance_factor=imb)
    assert len(lt) == totals[imb]
    counts = lt.metainfo['class_counts']
    assert counts == long_tailed_counts(num_classes, n_max, imb)
    assert np.bincount(lt.get_gt_labels(),
                       minlength=num_classes).tolist() == counts


def test_selection_matches_ldam_reference():
    labels = balanced_labels(10, 300)
    base = LabelList(labels)
    for seed in (0, 3):
        lt = LongTailedDataset(base, imbalance_factor=20, seed=seed)
        targets = long_tailed_counts(10, 300, 20)
        assert lt.get_ori_indices().tolist() == reference_selection(
            labels, targets, seed)
    a = LongTailedDataset(base, imbalance_factor=20, seed=0)
    b = LongTailedDataset(base, imbalance_factor=20, seed=0)
    c = LongTailedDataset(base, imbalance_factor=20, seed=1)
    assert a.get_ori_indices().tolist() == b.get_ori_indices().tolist()
    assert a.get_ori_indices().tolist() != c.get_ori_indices().tolist()


def test_samples_come_from_the_wrapped_dataset():
    labels = balanced_labels(4, 30, interleave=False)
    base = LabelList(labels, classes='abcd')
    lt = LongTailedDataset(base, imbalance_factor=3, seed=5)
    ori = lt.get_ori_indices()
    for i in range(len(lt)):
        info = lt.get_data_info(i)
        assert info['name'] == f'x{ori[i]}'
        assert info['gt_label'] == labels[ori[i]]
        assert info['sample_idx'] == i
        assert lt[i]['name'] == f'x{ori[i]}'  # through base's pipeline
        assert lt.get_cat_ids(i) == [labels[ori[i]]]
    assert lt.metainfo['classes'] == tuple('abcd')
    assert lt.metainfo['imbalance_factor'] == 3
    # 30 * (1/3) ** (i / 3): 30, 20.8, 14.4, 10
    assert lt.metainfo['class_counts'] == [30, 20, 14, 10]


def test_step_imbalance_and_n_max():
    base = LabelList(balanced_labels(6, 100))
    lt = LongTailedDataset(base, imbalance_factor=10, imbalance_type='step')
    assert lt.metainfo['class_counts'] == [100, 100, 100, 10, 10, 10]
    lt = LongTailedDataset(base, imbalance_factor=4, n_max=80)
    assert lt.metainfo['class_counts'] == [
        int(80 * 0.25**(i / 5)) for i in range(6)
    ]
    # Default n_max: the smallest class, so unequal data sets work too.
    uneven = LabelList([0] * 50 + [1] * 40 + [2] * 45)
    lt = LongTailedDataset(uneven, imbalance_factor=4)
    assert lt.metainfo['class_counts'] == [40, 20, 10]


def test_real_cifar10_lt_counts(cifar10_jpeg_root):
    """The exact CIFAR-10-LT sizes, on the real images via CustomDataset."""
    base = CustomDataset(
        data_prefix=str(cifar10_jpeg_root / 'train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')])
    assert base.metainfo['classes'] == CIFAR10_CLASSES
    assert len(base) == 50000
    for imb, total in TOTALS['cifar10'][2].items():
        lt = LongTailedDataset(base, imbalance_factor=imb)
        assert len(lt) == total
        if imb == 100:
            assert lt.metainfo['class_counts'] == CIFAR10_IF100
            lt100 = lt
    # Every kept image lies in its class folder; images load through the
    # wrapped data set's own pipeline.
    labels = lt100.get_gt_labels()
    for i in range(0, len(lt100), 997):
        path = lt100.get_data_info(i)['img_path']
        assert path.replace('\\', '/').split('/')[-2] == \
            CIFAR10_CLASSES[labels[i]]
    item = lt100[len(lt100) - 1]
    assert tuple(item['inputs'].shape) == (3, 32, 32)
    assert int(item['data_samples'].gt_label) == 9
    # Through a config dict, resolved in MMPretrain's scope.
    lt_cfg = LongTailedDataset(
        dict(type='CustomDataset',
             data_prefix=str(cifar10_jpeg_root / 'train')),
        imbalance_factor=100)
    assert lt_cfg.get_ori_indices().tolist() == \
        lt100.get_ori_indices().tolist()


def test_lazy_init_from_config():
    lt = LongTailedDataset(
        dict(type='mmghm.SklearnDigits', split='train'),
        imbalance_factor=10,
        lazy_init=True)
    assert not lt.dataset._fully_initialized
    assert 'class_counts' not in lt.metainfo
    assert len(lt) == sum(lt.metainfo['class_counts'])  # forces full_init
    assert lt.metainfo['class_counts'][0] == 140  # smallest train class
    assert lt.metainfo['class_counts'] == long_tailed_counts(10, 140, 10)


def test_mmengine_wrappers_wrap_it():
    base = LabelList(balanced_labels(5, 100), classes='abcde')
    lt = LongTailedDataset(base, imbalance_factor=25)
    counts = lt.metainfo['class_counts']
    assert counts == [100, 44, 20, 8, 4]
    thr = 0.2
    cb = ClassBalancedDataset(lt, oversample_thr=thr)
    # Independent repeat factors: r(c) = max(1, sqrt(thr / f(c))).
    freq = np.array(counts) / sum(counts)
    repeat = np.ceil(np.maximum(1.0, np.sqrt(thr / freq))).astype(int)
    assert len(cb) == int((np.array(counts) * repeat).sum())
    assert dataset_class_counts(cb) == counts
    cb_cfg = ClassBalancedDataset(
        dict(type='mmghm.LongTailedDataset', dataset=base,
             imbalance_factor=25), oversample_thr=thr)
    assert len(cb_cfg) == len(cb)
    rep = RepeatDataset(lt, times=3)
    assert len(rep) == 3 * len(lt)
    assert dataset_class_counts(rep) == counts


def test_get_subset_updates_counts_and_shares_base():
    base = LabelList(balanced_labels(3, 20), classes='abc')
    lt = LongTailedDataset(base, imbalance_factor=4)
    labels = lt.get_gt_labels()
    sub = lt.get_subset([0, 1, 2, len(lt) - 1])
    assert sub.dataset is lt.dataset
    assert sub.metainfo['class_counts'] == np.bincount(
        labels[[0, 1, 2, len(lt) - 1]], minlength=3).tolist()
    assert lt.metainfo['class_counts'] == [20, 10, 5]
    lt.get_subset_(5)
    assert len(lt) == 5
    assert sum(lt.metainfo['class_counts']) == 5


@pytest.mark.parametrize('imb', [0.5, 0, -3, 'ten', None, True,
                                 math.inf, math.nan])
def test_bad_imbalance_factor(imb):
    with pytest.raises(ValueError, match='imbalance_factor'):
        LongTailedDataset(LabelList([0, 1]), imbalance_factor=imb)


def test_bad_arguments():
    base = LabelList(balanced_labels(4, 10), classes='abcd')
    with pytest.raises(ValueError, match="imbalance_type.*'linear'"):
        LongTailedDataset(base, imbalance_factor=2, imbalance_type='linear')
    with pytest.raises(ValueError, match='seed'):
        LongTailedDataset(base, imbalance_factor=2, seed=-1)
    with pytest.raises(ValueError, match='n_max'):
        LongTailedDataset(base, imbalance_factor=2, n_max=0)
    with pytest.raises(TypeError, match='list'):
        LongTailedDataset([1, 2], imbalance_factor=2)


def test_zero_image_class_is_an_error():
    base = LabelList(balanced_labels(4, 10), classes='abcd')
    with pytest.raises(ValueError, match=r"class 3 \('d'\) with 0 images"):
        LongTailedDataset(base, imbalance_factor=20)


def test_n_max_above_the_data_is_an_error():
    base = LabelList(balanced_labels(3, 10))
    with pytest.raises(ValueError,
                       match='asks for 11 images of class 0.*only 10'):
        LongTailedDataset(base, imbalance_factor=2, n_max=11)


def test_label_outside_class_list_is_an_error():
    base = LabelList([0, 1, 2, 5], classes='abc')
    with pytest.raises(ValueError, match='label 5, outside its 3 classes'):
        LongTailedDataset(base, imbalance_factor=1)


def test_class_without_images_is_an_error():
    base = LabelList([0, 0, 2, 2], classes='abc')
    with pytest.raises(ValueError, match=r"no images of class 1 \('b'\)"):
        LongTailedDataset(base, imbalance_factor=1)


def test_dataset_without_labels_is_an_error(tmp_path):
    (tmp_path / 'a.png').write_bytes(b'')
    unlabelled = CustomDataset(data_prefix=str(tmp_path), with_label=False)
    with pytest.raises(ValueError, match='sample 0 has no gt_label'):
        LongTailedDataset(unlabelled, imbalance_factor=2)

    class MultiLabel(BaseDataset):

        def load_data_list(self):
            return [dict(gt_label=[0, 1])]

    with pytest.raises(ValueError, match='one integer label per sample'):
        LongTailedDataset(MultiLabel(ann_file=''), imbalance_factor=2)
