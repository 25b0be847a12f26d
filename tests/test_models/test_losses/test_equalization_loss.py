"""EqualizationLoss against the softmax EQL of Tan et al. (CVPR 2020)."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from mmghm.models.losses import EqualizationLoss

# 6 classes, 1000 images: frequencies .6, .25, .1, .04, .01, 0
COUNTS = [600, 250, 100, 40, 10, 0]
C = len(COUNTS)


def ref_eql(row, label, counts, lambda_, beta):
    """-log(e^{z_y} / sum_k w_k e^{z_k}), w_k = 1 - beta_k T(f_k) (1 - y_k)
    for one example; ``beta`` is the 0/1 draw of each class."""
    total = sum(counts)
    denom = 0.0
    for k, zk in enumerate(row):
        f = counts[k] / total
        t = 1.0 if f < lambda_ else 0.0
        y_k = 1.0 if k == label else 0.0
        w = 1.0 - beta[k] * t * (1.0 - y_k)
        denom += w * math.exp(zk)
    return -(row[label] - math.log(denom))


def batch(B=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(B, C, generator=gen, dtype=torch.float64) * 2
    y = torch.arange(B) % C  # every class, rare ones included
    return z, y


def test_gamma_zero_is_cross_entropy():
    z, y = batch()
    loss = EqualizationLoss(C, COUNTS, lambda_=0.05, gamma=0.0)
    assert torch.allclose(loss(z, y), F.cross_entropy(z, y))


@pytest.mark.parametrize('lambda_', [0.0, 0.011, 0.05, 0.2, 1.0])
def test_gamma_one_drops_every_rare_negative(lambda_):
    z, y = batch()
    loss = EqualizationLoss(C, COUNTS, lambda_=lambda_, gamma=1.0,
                            reduction='none')
    ref = [ref_eql(row, label, COUNTS, lambda_, [1.0] * C)
           for row, label in zip(z.tolist(), y.tolist())]
    assert torch.allclose(loss(z, y), torch.tensor(ref, dtype=z.dtype))


def test_threshold_is_strict_and_on_frequency():
    loss = EqualizationLoss(C, COUNTS, lambda_=0.04)  # f = 0.04 not rare
    assert loss.rare.tolist() == [False, False, False, False, True, True]
    assert loss.tail_ratio == pytest.approx(2 / 6)
    loss.set_class_counts([c * 7 for c in COUNTS])  # same frequencies
    assert loss.rare.tolist() == [False, False, False, False, True, True]


def test_random_drop_matches_published_distribution():
    # beta_k ~ Bernoulli(gamma) for every (example, class): each loss value
    # is one of the 2^R subset losses, and the batch mean converges to
    # their expectation (computed exactly by enumeration).
    lambda_, gamma = 0.05, 0.7  # rare: classes 3, 4, 5
    rare = [3, 4, 5]
    row = [0.3, -0.2, 0.1, 1.5, 0.7, 2.0]
    label = 0
    outcomes = {}
    expected = 0.0
    for bits in itertools.product([0, 1], repeat=len(rare)):
        beta = [0.0] * C
        for k, b in zip(rare, bits):
            beta[k] = float(b)
        value = ref_eql(row, label, COUNTS, lambda_, beta)
        prob = math.prod(gamma if b else 1 - gamma for b in bits)
        outcomes[round(value, 9)] = prob
        expected += prob * value
    loss = EqualizationLoss(C, COUNTS, lambda_=lambda_, gamma=gamma,
                            reduction='none')
    n = 40000
    torch.manual_seed(0)
    z = torch.tensor([row], dtype=torch.float64).expand(n, C)
    values = loss(z, torch.full((n, ), label))
    seen = {round(v, 9) for v in values.tolist()}
    assert seen <= set(outcomes), seen - set(outcomes)
    assert len(seen) == len(outcomes)  # every subset occurs
    # frequency of the "nothing dropped" outcome (= CE) is (1 - gamma)^3
    ce = round(float(F.cross_entropy(z[:1], torch.tensor([label]))), 9)
    share = (values.sub(ce).abs() < 1e-8).double().mean()
    assert abs(float(share) - (1 - gamma)**3) < 0.01
    std = values.std() / math.sqrt(n)
    assert abs(float(values.mean()) - expected) < 5 * float(std)


def test_label_of_a_rare_class_is_never_dropped():
    z, _ = batch()
    y = torch.full((8, ), 5)  # the empty class, rare
    loss = EqualizationLoss(C, COUNTS, lambda_=0.5, gamma=1.0)
    out = loss(z, y, reduction_override='none')
    assert torch.isfinite(out).all()
    ref = [ref_eql(row, 5, COUNTS, 0.5, [1.0] * C) for row in z.tolist()]
    assert torch.allclose(out, torch.tensor(ref, dtype=z.dtype))


def test_dropped_logits_get_no_gradient():
    z, y = batch()
    z = z.clone().requires_grad_()
    loss = EqualizationLoss(C, COUNTS, lambda_=0.05, gamma=1.0)
    loss(z, y).backward()
    assert torch.isfinite(z.grad).all()
    for b, label in enumerate(y.tolist()):
        for k in (3, 4, 5):  # rare negatives: no discouraging gradient
            if k != label:
                assert z.grad[b, k] == 0
    # frequent negatives still are discouraged
    assert (z.grad[:, 1][y != 1] > 0).all()


def test_zero_counts_and_state():
    loss = EqualizationLoss(C)
    z, y = batch()
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        loss(z, y)
    loss.set_class_counts([0] * C)  # all frequencies 0: all rare
    assert loss.rare.all()
    out = loss(z, y)
    assert torch.isfinite(out)
    loss.set_class_counts(COUNTS)
    fresh = EqualizationLoss(C)
    fresh.load_state_dict(loss.state_dict())
    assert torch.equal(fresh.rare, loss.rare)
    torch.manual_seed(1)
    a = loss(z, y)
    torch.manual_seed(1)
    assert torch.equal(fresh(z, y), a)


@pytest.mark.parametrize('kwargs, match', [
    (dict(lambda_=-0.1), 'lambda_'),
    (dict(lambda_=2.0), 'lambda_'),
    (dict(gamma=1.5), 'gamma'),
    (dict(gamma=-0.5), 'gamma'),
    (dict(class_counts=[1, 2, 3]), 'class_counts'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EqualizationLoss(C, **kwargs)
