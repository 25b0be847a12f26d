"""Post-hoc logit shifts (mmghm.evaluation.logit_shift) against a loop
reference written from the definition argmax_c(log p_c - tau * log n_c)."""
import math

import numpy as np
import pytest

from mmghm.evaluation.logit_shift import (best_shift, logit_shift_curve,
                                          mean_curve, shifted_predictions)

COUNTS = [500, 200, 80, 30, 10, 4]


def _scores(num, rng):
    logits = rng.randn(num, len(COUNTS)) * 2
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


def _reference_pred(scores, counts, tau):
    out = []
    for row in scores:
        vals = [math.log(p) - tau * math.log(n) for p, n in zip(row, counts)]
        out.append(max(range(len(vals)), key=lambda c: vals[c]))
    return np.array(out)


@pytest.mark.parametrize('tau', [-1.0, -0.3, 0.0, 0.45, 1.5])
def test_shifted_predictions_match_loop_reference(tau):
    scores = _scores(300, np.random.RandomState(1))
    np.testing.assert_array_equal(
        shifted_predictions(scores, COUNTS, tau),
        _reference_pred(scores, COUNTS, tau))


def test_larger_tau_never_predicts_a_more_frequent_class():
    scores = _scores(400, np.random.RandomState(2))
    counts = np.array(COUNTS)
    previous = None
    for tau in np.linspace(-2, 2, 41):
        predicted_count = counts[shifted_predictions(scores, COUNTS, tau)]
        if previous is not None:
            assert (predicted_count <= previous).all()
        previous = predicted_count
    # At the ends every sample goes to the rarest / most frequent class.
    assert (counts[shifted_predictions(scores, COUNTS, 50.0)] == 4).all()
    assert (counts[shifted_predictions(scores, COUNTS, -50.0)] == 500).all()


def test_curve_counts_group_accuracy_by_hand():
    # Groups (quantile, 3): classes {0,1}, {2,3}, {4,5}.
    rng = np.random.RandomState(3)
    scores = _scores(600, rng)
    target = rng.randint(0, len(COUNTS), size=600)
    taus = [-0.5, 0.0, 0.8]
    curve = logit_shift_curve(scores, target, COUNTS, taus)
    for tau, row in zip(taus, curve):
        pred = _reference_pred(scores, COUNTS, tau)
        per_class = [100 * np.mean(pred[target == c] == c)
                     for c in range(len(COUNTS))]
        assert row['tau'] == tau
        assert row['top1'] == pytest.approx(100 * np.mean(pred == target))
        assert row['many'] == pytest.approx(np.mean(per_class[0:2]))
        assert row['medium'] == pytest.approx(np.mean(per_class[2:4]))
        assert row['few'] == pytest.approx(np.mean(per_class[4:6]))


def test_mean_curve_averages_each_tau_and_refuses_other_grids():
    a = [dict(tau=0.0, many=80.0, few=20.0), dict(tau=1.0, many=90.0,
                                                  few=10.0)]
    b = [dict(tau=0.0, many=70.0, few=40.0), dict(tau=1.0, many=86.0,
                                                  few=14.0)]
    assert mean_curve([a, b]) == [dict(tau=0.0, many=75.0, few=30.0),
                                  dict(tau=1.0, many=88.0, few=12.0)]
    with pytest.raises(ValueError, match='different taus'):
        mean_curve([a, [dict(tau=0.5, many=1.0, few=1.0)] * 2])


def test_best_shift_keeps_the_floor_and_prefers_small_tau_on_ties():
    curve = [dict(tau=-1.0, many=60.0, few=70.0),
             dict(tau=-0.5, many=79.0, few=55.0),
             dict(tau=0.5, many=81.0, few=40.0),
             dict(tau=0.25, many=80.0, few=40.0),
             dict(tau=1.0, many=85.0, few=20.0)]
    assert best_shift(curve, 'many', 80.0, 'few')['tau'] == 0.25
    assert best_shift(curve, 'many', 70.0, 'few')['tau'] == -0.5
    assert best_shift(curve, 'many', 90.0, 'few') is None
    with pytest.raises(KeyError, match="'rare' is not a column"):
        best_shift(curve, 'many', 80.0, 'rare')


@pytest.mark.parametrize('scores, counts, match', [
    (np.full((2, 3), 1 / 3), COUNTS, 'class_counts has 6 classes'),
    (np.full((2, 6), 1 / 6), [5, 4, 3, 2, 1, 0], 'must all be > 0'),
    (-np.ones((2, 6)), COUNTS, 'probabilities'),
    (np.ones(6), COUNTS, r'shape \(samples, classes\)'),
])
def test_bad_input_is_named(scores, counts, match):
    with pytest.raises(ValueError, match=match):
        shifted_predictions(scores, counts, 0.5)
