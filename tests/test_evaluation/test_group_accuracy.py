"""GroupAccuracy against hand-computed values."""
import json
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mmghm.evaluation.metrics import GroupAccuracy
from mmghm.registry import METRICS

# Training counts: Many (>100) = {0, 1}; Medium (20..100) = {2, 3, 4};
# Few (<20) = {5, 6}; with (100, 20, 10): Few = {5}, Rare = {6}.
COUNTS = [500, 101, 100, 50, 20, 19, 5]
# Test samples a class / correct: 0: 3 of 4, 1: 1 of 2, 2: 2 of 2, 3: 0 of 1,
# 4: none, 5: 1 of 4, 6: 1 of 1.
TARGET = [0, 0, 0, 0, 1, 1, 2, 2, 3, 5, 5, 5, 5, 6]
PRED = [0, 0, 0, 1, 1, 0, 2, 2, 0, 5, 0, 6, 4, 6]
TOP1 = 100 * 8 / 14
PER_CLASS = [75.0, 50.0, 100.0, 0.0, math.nan, 25.0, 100.0]
MEAN_CLASS = (75 + 50 + 100 + 0 + 25 + 100) / 6


def check(res, groups):
    assert res['top1'] == pytest.approx(TOP1)
    assert res['mean_class'] == pytest.approx(MEAN_CLASS)
    np.testing.assert_allclose(res['per_class'], PER_CLASS)
    assert res['num_samples'].tolist() == [4, 2, 2, 1, 0, 4, 1]
    assert list(res['groups']) == list(groups)
    for name, value in groups.items():
        if math.isnan(value):
            assert math.isnan(res['groups'][name]), name
        else:
            assert res['groups'][name] == pytest.approx(value), name


def test_three_groups_default():
    res = GroupAccuracy.calculate(PRED, TARGET, COUNTS)
    # Many (75 + 50) / 2; Medium (100 + 0) / 2 (class 4 has no test
    # sample); Few (25 + 100) / 2.
    check(res, dict(many=62.5, medium=50.0, few=62.5))
    assert res['group_of_class'].tolist() == [0, 0, 1, 1, 1, 2, 2]


def test_four_groups():
    res = GroupAccuracy.calculate(PRED, TARGET, COUNTS, mode='four')
    check(res, dict(many=62.5, medium=50.0, few=25.0, rare=100.0))
    assert res['group_of_class'].tolist() == [0, 0, 1, 1, 1, 2, 3]


def test_quantile_groups():
    # 7 classes by count: sizes 3, 2, 2 -> {0, 1, 2}, {3, 4}, {5, 6}.
    res = GroupAccuracy.calculate(PRED, TARGET, COUNTS, mode='quantile')
    check(res, dict(many=75.0, medium=0.0, few=62.5))
    res = GroupAccuracy.calculate(PRED, TARGET, COUNTS, mode='quantile',
                                  num_groups=4)
    # {0, 1}, {2, 3}, {4, 5}, {6}
    check(res, dict(many=62.5, medium=50.0, few=25.0, rare=100.0))


def test_quantile_cifar10_lt_thirds_and_ties():
    cifar10_if100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    groups = GroupAccuracy.assign_groups(cifar10_if100, mode='quantile')
    assert groups.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    # Order is by count, not by index; ties go by class index.
    groups = GroupAccuracy.assign_groups([5, 9, 5, 1, 5, 7], 'quantile')
    assert groups.tolist() == [1, 0, 1, 2, 2, 0]
    # Fixed thresholds leave groups empty on CIFAR-10-LT (IF 10: all > 100).
    assert set(GroupAccuracy.assign_groups(
        [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500])) == {0}


def test_threshold_boundaries():
    counts = [101, 100, 20, 19, 10, 9, 0]
    assert GroupAccuracy.assign_groups(counts).tolist() == \
        [0, 1, 1, 2, 2, 2, 2]
    assert GroupAccuracy.assign_groups(counts, 'four').tolist() == \
        [0, 1, 1, 2, 2, 3, 3]
    assert GroupAccuracy.assign_groups(
        counts, thresholds=(50, )).tolist() == [0, 0, 1, 1, 1, 1, 1]


def test_empty_group_is_nan_not_an_error():
    res = GroupAccuracy.calculate(PRED, TARGET, COUNTS,
                                  thresholds=(1000, 20))
    assert math.isnan(res['groups']['many'])
    # all classes with test samples among 'medium' (>= 20) and 'few'
    assert res['groups']['medium'] == pytest.approx((75 + 50 + 100 + 0) / 4)
    res = GroupAccuracy.calculate([1], [1], [5, 5, 5], mode='quantile',
                                  num_groups=5)
    assert [math.isnan(v) for v in res['groups'].values()] == \
        [True, False, True, True, True]


def test_group_names():
    res = GroupAccuracy.calculate(PRED, TARGET, COUNTS,
                                  thresholds=(60, ),
                                  group_names=['head', 'tail'])
    # head = {0, 1, 2}: (75 + 50 + 100) / 3; tail = {3, 5, 6}
    assert res['groups'] == pytest.approx(dict(head=75.0,
                                               tail=125.0 / 3))


@pytest.mark.parametrize('kwargs, match', [
    (dict(mode='median'), "mode must be one of"),
    (dict(thresholds=(20, 100)), 'strictly decreasing'),
    (dict(thresholds=(100, -1)), 'positive'),
    (dict(thresholds='abc'), 'sequence of numbers'),
    (dict(mode='four', thresholds=(100, 20)), 'needs 3 thresholds'),
    (dict(mode='quantile', thresholds=(1, )), 'not .quantile'),
    (dict(mode='quantile', num_groups=0), 'num_groups'),
    (dict(group_names=['a', 'b']), '3 distinct names'),
    (dict(group_names=['top1', 'b', 'c']), 'may not use'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupAccuracy(**kwargs)


def test_labels_outside_counts_are_errors():
    with pytest.raises(ValueError, match='predicted label is 7, but .* '
                       'known for 7 classes'):
        GroupAccuracy.calculate([7], [0], COUNTS)
    with pytest.raises(ValueError, match='true label is 9'):
        GroupAccuracy.calculate([0], [9], COUNTS)
    with pytest.raises(ValueError, match='no sample'):
        GroupAccuracy.calculate([], [], COUNTS)
    with pytest.raises(ValueError, match='class_counts'):
        GroupAccuracy(class_counts=[3, -1])


def samples(pred, target, num_classes, as_score=True):
    out = []
    for p, t in zip(pred, target):
        s = DataSample().set_gt_label(t)
        if as_score:
            score = torch.full((num_classes, ), 0.1)
            score[p] = 0.9
            s.set_pred_score(score)
        else:
            s.set_pred_label(p)
        out.append(s.to_dict())
    return out


@pytest.mark.parametrize('as_score', [True, False])
def test_through_mmengine_evaluator(as_score, tmp_path):
    evaluator = Evaluator(METRICS.build(
        dict(type='mmghm.GroupAccuracy', mode='four',
             out_file='acc/per_class.json')))
    evaluator.dataset_meta = dict(classes=tuple('abcdefg'))
    metric = evaluator.metrics[0]
    metric.set_class_counts(torch.tensor(COUNTS))
    metric.set_work_dir(str(tmp_path))
    evaluator.process(samples(PRED[:6], TARGET[:6], 7, as_score))
    evaluator.process(samples(PRED[6:], TARGET[6:], 7, as_score))
    metrics = evaluator.evaluate(14)
    assert list(metrics) == [
        'group_accuracy/top1', 'group_accuracy/mean_class',
        'group_accuracy/many', 'group_accuracy/medium', 'group_accuracy/few',
        'group_accuracy/rare'
    ]
    assert all(isinstance(v, float) for v in metrics.values())
    assert metrics['group_accuracy/top1'] == pytest.approx(TOP1)
    assert metrics['group_accuracy/rare'] == pytest.approx(100.0)
    dump = json.loads((tmp_path / 'acc' / 'per_class.json').read_text())
    assert dump['class_counts'] == COUNTS
    assert dump['classes'] == list('abcdefg')
    assert dump['per_class_accuracy'][4] is None
    assert dump['per_class_accuracy'][0] == 75.0
    assert dump['num_test_samples'] == [4, 2, 2, 1, 0, 4, 1]
    assert dump['group_of_class'] == [0, 0, 1, 1, 1, 2, 3]
    assert dump['groups']['few'] == 25.0
    assert dump['thresholds'] == [100, 20, 10]
    assert metric.last_result['per_class'][2] == 100.0


def test_evaluator_errors():
    metric = GroupAccuracy()
    metric.process(None, samples([0], [0], 3))
    with pytest.raises(RuntimeError, match='needs the per-class training '
                       "counts.*ClassCountsHook"):
        metric.evaluate(1)
    metric = GroupAccuracy(class_counts=[10, 10])
    metric.process(None, samples([0], [0], 3))
    with pytest.raises(ValueError, match='scores 3 classes, but training '
                       'class counts are known for 2'):
        metric.evaluate(1)
