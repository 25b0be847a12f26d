"""ClassBalancedLoss and EffectiveNumberLoss against Cui et al.'s formulas."""
import math

import pytest
import torch
from mmpretrain.models.losses import CrossEntropyLoss

from mmghm.models.losses import (ClassBalancedLoss, EffectiveNumberLoss,
                                 effective_number_weights,
                                 inverse_frequency_weights)
from mmghm.registry import MODELS

COUNTS = [500, 120, 40, 9, 1, 0]  # long-tailed, with an empty class
C = len(COUNTS)


# ---------------------------------------------------------------------------
# slow references, straight from the formulas (loops, Python floats)
# ---------------------------------------------------------------------------
def ref_inverse_weights(counts):
    inv = [1.0 / max(n, 1) for n in counts]
    return [w / sum(inv) * len(counts) for w in inv]


def ref_effective_weights(counts, beta):
    # Cui et al. Eq. 5-6: weight = 1 / E_n, E_n = (1 - beta^n) / (1 - beta)
    w = [(1.0 - beta) / (1.0 - beta**max(n, 1)) if beta > 0 else 1.0
         for n in counts]
    return [x / sum(w) * len(counts) for x in w]


def log_softmax_row(row):
    m = max(row)
    lse = m + math.log(sum(math.exp(v - m) for v in row))
    return [v - lse for v in row]


def log_sigmoid(x):
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(
        math.exp(x))


def ref_losses(z, y, weights, loss_type, gamma=0.0):
    """Per-example losses of Cui et al. Eq. 7 (softmax), 8 (sigmoid) and 9
    (focal), before the batch reduction."""
    out = []
    for row, label in zip(z.tolist(), y.tolist()):
        w = weights[label]
        if loss_type == 'softmax':
            out.append(-w * log_softmax_row(row)[label])
            continue
        total = 0.0
        for c, v in enumerate(row):
            zt = v if c == label else -v  # p^t = sigmoid(zt)
            bce = -log_sigmoid(zt)
            if loss_type == 'focal':
                p_t = math.exp(log_sigmoid(zt))
                bce *= (1.0 - p_t)**gamma
            total += bce
        out.append(w * total)
    return torch.tensor(out, dtype=torch.float64)


def batch(B=12, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(B, C, generator=gen, dtype=dtype) * 3
    y = torch.randint(0, C - 1, (B, ), generator=gen)  # class C-1 has 0
    return z, y


# ---------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------
def test_inverse_frequency_weights_exact():
    w = inverse_frequency_weights(torch.tensor([4, 1]))
    assert torch.allclose(w, torch.tensor([0.4, 1.6], dtype=torch.float64))
    w = inverse_frequency_weights(torch.tensor(COUNTS))
    assert torch.allclose(w, torch.tensor(ref_inverse_weights(COUNTS),
                                          dtype=torch.float64))
    assert math.isclose(float(w.sum()), C)


@pytest.mark.parametrize('beta', [0.0, 0.9, 0.99, 0.999, 0.9999])
def test_effective_number_weights(beta):
    w = effective_number_weights(torch.tensor(COUNTS), beta)
    ref = torch.tensor(ref_effective_weights(COUNTS, beta),
                       dtype=torch.float64)
    assert torch.allclose(w, ref, rtol=1e-9)
    assert torch.isfinite(w).all()
    assert math.isclose(float(w.sum()), C)
    if beta == 0:
        assert torch.equal(w, torch.ones(C, dtype=torch.float64))
    else:  # rarer classes weigh more
        assert (w[:-1].diff() > 0).all()


def test_effective_number_tends_to_inverse_frequency():
    # beta -> 1: E_n -> n, i.e. inverse frequency (Cui et al. Sec. 3.1).
    counts = torch.tensor([1000, 100, 10, 1])
    w = effective_number_weights(counts, 1 - 1e-9)
    assert torch.allclose(w, inverse_frequency_weights(counts), rtol=1e-5)


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_class_balanced_values(reduction):
    z, y = batch()
    loss = ClassBalancedLoss(C, class_counts=COUNTS, reduction=reduction)
    ref = ref_losses(z, y, ref_inverse_weights(COUNTS), 'softmax')
    ref = {'mean': ref.mean(), 'sum': ref.sum(), 'none': ref}[reduction]
    assert torch.allclose(loss(z, y), ref, rtol=1e-10)


def test_class_balanced_equals_mmpretrain_class_weight_ce():
    z, y = batch(dtype=torch.float32)
    w = ref_inverse_weights(COUNTS)
    ours = ClassBalancedLoss(C, class_counts=COUNTS)(z, y, avg_factor=12)
    theirs = CrossEntropyLoss(class_weight=w)(z, y, avg_factor=12)
    assert torch.allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize('loss_type, gamma', [('softmax', 0.0),
                                              ('sigmoid', 0.0),
                                              ('focal', 1.0),
                                              ('focal', 2.0),
                                              ('focal', 0.5)])
@pytest.mark.parametrize('beta', [0.9999, 0.99])
def test_effective_number_values(loss_type, gamma, beta):
    z, y = batch()
    loss = EffectiveNumberLoss(
        C, class_counts=COUNTS, beta=beta, loss_type=loss_type, gamma=gamma,
        reduction='none')
    ref = ref_losses(z, y, ref_effective_weights(COUNTS, beta), loss_type,
                     gamma)
    assert torch.allclose(loss(z, y), ref, rtol=1e-9, atol=1e-12)


def test_focal_with_gamma_zero_is_sigmoid():
    z, y = batch()
    a = EffectiveNumberLoss(C, COUNTS, loss_type='focal', gamma=0.0)
    b = EffectiveNumberLoss(C, COUNTS, loss_type='sigmoid')
    assert torch.allclose(a(z, y), b(z, y))


@pytest.mark.parametrize('loss_type', ['softmax', 'sigmoid', 'focal'])
def test_effective_number_gradcheck(loss_type):
    z, y = batch(B=5)
    loss = EffectiveNumberLoss(C, COUNTS, loss_type=loss_type, gamma=2.0)
    assert torch.autograd.gradcheck(lambda t: loss(t, y),
                                    (z.clone().requires_grad_(), ))


def test_weight_and_avg_factor():
    z, y = batch()
    w = torch.rand(12, generator=torch.Generator().manual_seed(3),
                   dtype=torch.float64)
    loss = EffectiveNumberLoss(C, COUNTS, loss_type='focal')
    per = loss(z, y, reduction_override='none')
    assert torch.allclose(loss(z, y, weight=w), (per * w).mean())
    assert torch.allclose(loss(z, y, weight=w, avg_factor=5.0),
                          (per * w).sum() / 5.0)
    assert torch.allclose(
        loss(z, y, weight=w, reduction_override='sum'), (per * w).sum())
    with pytest.raises(ValueError, match='avg_factor'):
        loss(z, y, avg_factor=5.0, reduction_override='sum')
    with pytest.raises(ValueError, match='weight'):
        loss(z, y, weight=torch.ones(11))
    scaled = EffectiveNumberLoss(C, COUNTS, loss_type='focal',
                                 loss_weight=2.5)
    assert torch.allclose(scaled(z, y), 2.5 * loss(z, y))


def test_ignore_index():
    z, y = batch()
    y_ign = y.clone()
    y_ign[[1, 4]] = 255
    loss = ClassBalancedLoss(C, COUNTS, ignore_index=255)
    keep = y_ign != 255
    per = ref_losses(z[keep], y[keep], ref_inverse_weights(COUNTS),
                     'softmax')
    assert torch.allclose(loss(z, y_ign), per.mean())  # mean over kept
    none = loss(z, y_ign, reduction_override='none')
    assert torch.equal(none[~keep], torch.zeros(2, dtype=torch.float64))


# ---------------------------------------------------------------------------
# soft targets, zero counts, state
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('cls, kwargs', [(ClassBalancedLoss, {}),
                                         (EffectiveNumberLoss, {})])
def test_soft_targets(cls, kwargs):
    z, _ = batch()
    t = torch.softmax(torch.randn(12, C, dtype=torch.float64), dim=1)
    loss = cls(C, COUNTS, reduction='none', **kwargs)
    w = loss.class_weight
    ref = []
    for row, trow in zip(z.tolist(), t.tolist()):
        logp = log_softmax_row(row)
        ref.append(-sum(tc * w[c] * logp[c] for c, tc in enumerate(trow)))
    assert torch.allclose(loss(z, t), torch.tensor(ref, dtype=z.dtype))
    # one-hot soft targets give the hard-label loss
    _, y = batch()
    onehot = torch.nn.functional.one_hot(y, C).to(z.dtype)
    assert torch.allclose(loss(z, onehot), loss(z, y))


@pytest.mark.parametrize('loss_type', ['sigmoid', 'focal'])
def test_soft_targets_rejected_by_sigmoid_forms(loss_type):
    z, _ = batch()
    t = torch.softmax(torch.randn(12, C, dtype=torch.float64), dim=1)
    loss = EffectiveNumberLoss(C, COUNTS, loss_type=loss_type)
    with pytest.raises(ValueError, match='Mixup'):
        loss(z, t)


@pytest.mark.parametrize('cls, kwargs', [
    (ClassBalancedLoss, {}),
    (EffectiveNumberLoss, dict(loss_type='softmax')),
    (EffectiveNumberLoss, dict(loss_type='sigmoid')),
    (EffectiveNumberLoss, dict(loss_type='focal')),
])
def test_zero_counts_no_nan(cls, kwargs):
    loss = cls(C, class_counts=[0] * (C - 1) + [3], **kwargs)
    assert torch.isfinite(loss.class_weight).all()
    z = torch.randn(8, C, requires_grad=True)
    y = torch.arange(8) % C  # includes the classes with zero counts
    out = loss(z, y)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z.grad).all()
    loss.set_class_counts([0] * C)  # no example at all: equal weights
    assert torch.allclose(loss.class_weight,
                          torch.ones(C, dtype=torch.float64))


def test_counts_from_hook_and_state_dict():
    z, y = batch()
    loss = EffectiveNumberLoss(C, loss_type='focal')
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        loss(z, y)
    loss.set_class_counts(torch.tensor(COUNTS))
    value = loss(z, y)
    fresh = EffectiveNumberLoss(C, loss_type='focal')
    fresh.load_state_dict(loss.state_dict())
    assert fresh.has_counts
    assert torch.equal(fresh.class_weight, loss.class_weight)
    assert torch.equal(fresh(z, y), value)
    # counts survive .half() in float32; the derived weights stay float64
    fresh.half()
    assert fresh.class_counts.dtype == torch.float32
    assert fresh.class_weight.dtype == torch.float64
    half = fresh(z.half(), y)
    assert half.dtype == torch.float32
    assert torch.allclose(half.double(), value, rtol=2e-3)


def test_build_from_registry():
    loss = MODELS.build(
        dict(type='mmghm.EffectiveNumberLoss', num_classes=C,
             class_counts=COUNTS, loss_type='sigmoid'))
    assert isinstance(loss, EffectiveNumberLoss)
    assert loss.loss_name == 'loss_effective_number'
    assert MODELS.build(dict(type='mmghm.ClassBalancedLoss', num_classes=C,
                             class_counts=COUNTS)).loss_name == 'loss_cb'


@pytest.mark.parametrize('kwargs, match', [
    (dict(beta=1.0), 'beta'),
    (dict(beta=-0.5), 'beta'),
    (dict(beta='high'), 'beta'),
    (dict(loss_type='hinge'), 'loss_type'),
    (dict(gamma=-1.0), 'gamma'),
    (dict(class_counts=[1, 2]), 'class_counts'),
    (dict(class_counts=[1, -2, 3, 4, 5, 6]), 'class_counts'),
    (dict(reduction='avg'), 'reduction'),
    (dict(loss_name='effnum'), 'loss_name'),
    (dict(ignore_index=2.5), 'ignore_index'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EffectiveNumberLoss(C, **kwargs)


def test_bad_inputs():
    loss = ClassBalancedLoss(C, COUNTS)
    with pytest.raises(ValueError, match='num_classes'):
        ClassBalancedLoss(1)
    with pytest.raises(ValueError, match='num_classes=6'):
        loss(torch.randn(4, C + 1), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r'\[6\]'):
        loss(torch.randn(4, C), torch.tensor([0, 1, 6, 2]))
    with pytest.raises(ValueError, match='reduction'):
        loss(torch.randn(4, C), torch.tensor([0, 1, 2, 2]),
             reduction_override='avg')
