"""SoftmaxFocalLoss against Lin et al.'s -alpha (1 - p)^gamma log p."""
import math

import pytest
import torch
from mmpretrain.models.losses import CrossEntropyLoss

from mmghm.models.losses import SoftmaxFocalLoss
from mmghm.registry import MODELS

C = 5


def ref_focal(z, y, gamma, alpha=None):
    """Per-example focal loss with p = softmax(z), loops and floats."""
    out = []
    for row, label in zip(z.tolist(), y.tolist()):
        m = max(row)
        denom = sum(math.exp(v - m) for v in row)
        p = math.exp(row[label] - m) / denom
        a = 1.0 if alpha is None else (
            alpha if isinstance(alpha, float) else alpha[label])
        out.append(-a * (1.0 - p)**gamma * math.log(p))
    return torch.tensor(out, dtype=torch.float64)


def batch(B=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(B, C, generator=gen, dtype=torch.float64) * 2
    y = torch.randint(0, C, (B, ), generator=gen)
    return z, y


@pytest.mark.parametrize('gamma', [0.0, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize('alpha', [None, 0.25, [0.1, 0.2, 0.3, 1.0, 2.0]])
def test_values(gamma, alpha):
    z, y = batch()
    loss = SoftmaxFocalLoss(gamma=gamma, alpha=alpha, reduction='none')
    ref = ref_focal(z, y, gamma, alpha)
    assert torch.allclose(loss(z, y), ref, rtol=1e-10)


def test_default_hyper_parameters():
    loss = SoftmaxFocalLoss()
    assert loss.gamma == 2.0 and loss.alpha is None and \
        loss.alpha_scalar is None
    assert loss.loss_name == 'loss_focal'


def test_gamma_zero_is_cross_entropy():
    z, y = batch()
    ours = SoftmaxFocalLoss(gamma=0.0)(z.float(), y, avg_factor=10)
    ce = CrossEntropyLoss()(z.float(), y, avg_factor=10)
    assert torch.allclose(ours, ce)


def test_focusing_down_weights_easy_examples():
    # An easy example (p_y ~ 0.99) loses far more than a hard one.
    z = torch.tensor([[6.0, 0, 0, 0, 0], [0.0, 0, 0, 0, 0]],
                     dtype=torch.float64)
    y = torch.tensor([0, 0])
    fl = SoftmaxFocalLoss(gamma=2.0, reduction='none')(z, y)
    ce = SoftmaxFocalLoss(gamma=0.0, reduction='none')(z, y)
    assert fl[0] / ce[0] < 1e-3 and fl[1] / ce[1] > 0.6


@pytest.mark.parametrize('gamma', [0.5, 2.0])
def test_gradcheck(gamma):
    z, y = batch(B=4)
    loss = SoftmaxFocalLoss(gamma=gamma)
    assert torch.autograd.gradcheck(lambda t: loss(t, y),
                                    (z.clone().requires_grad_(), ))


def test_certain_prediction_has_finite_gradient():
    # p_y == 1 in float32 with gamma < 1: (1 - p)^gamma has an infinite
    # derivative at 0; the gradient must stay finite (it is 0 there).
    z = torch.tensor([[200.0, 0, 0, 0, 0]], requires_grad=True)
    out = SoftmaxFocalLoss(gamma=0.5)(z, torch.tensor([0]))
    out.backward()
    assert torch.isfinite(z.grad).all() and float(out.detach()) == 0.0


def test_weight_avg_factor_ignore():
    z, y = batch()
    loss = SoftmaxFocalLoss(ignore_index=-1)
    per = ref_focal(z, y, 2.0)
    w = torch.linspace(0, 1, 10, dtype=torch.float64)
    assert torch.allclose(loss(z, y, weight=w, avg_factor=4),
                          (per * w).sum() / 4)
    y_ign = y.clone()
    y_ign[0] = -1
    assert torch.allclose(loss(z, y_ign), per[1:].mean())


@pytest.mark.parametrize('kwargs, match', [
    (dict(gamma=-1.0), 'gamma'),
    (dict(alpha=0.0), 'alpha'),
    (dict(alpha=-0.25), 'alpha'),
    (dict(alpha=[1.0, -1.0]), 'alpha'),
    (dict(alpha='x'), 'alpha'),
    (dict(alpha=[1.0, 1.0], num_classes=3), 'alpha'),
    (dict(num_classes=1), 'num_classes'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxFocalLoss(**kwargs)


def test_per_class_alpha_sets_num_classes():
    loss = MODELS.build(dict(type='mmghm.SoftmaxFocalLoss',
                             alpha=[1.0] * C))
    assert loss.num_classes == C
    with pytest.raises(ValueError, match='num_classes'):
        loss(torch.randn(3, C + 1), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='Mixup'):
        loss(torch.randn(3, C), torch.full((3, C), 1.0 / C))
