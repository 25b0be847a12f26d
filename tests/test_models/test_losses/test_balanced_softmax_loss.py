"""BalancedSoftmaxLoss against Ren et al. 2020 / Menon et al. 2021."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmghm.models.losses import BalancedSoftmaxLoss

COUNTS = [300, 60, 12, 3, 0]
C = len(COUNTS)


def ref_balanced_softmax(z, y, counts):
    """Ren et al. Eq. 4: phi_y = n_y e^{z_y} / sum_j n_j e^{z_j}."""
    n = [max(c, 1) for c in counts]
    out = []
    for row, label in zip(z.tolist(), y.tolist()):
        terms = [nj * math.exp(v) for nj, v in zip(n, row)]
        out.append(-math.log(terms[label] / sum(terms)))
    return torch.tensor(out, dtype=torch.float64)


def ref_logit_adjusted(z, y, counts, tau):
    """Menon et al. Eq. 10: CE(z + tau * log pi, y)."""
    n = [max(c, 1) for c in counts]
    log_pi = [math.log(v / sum(n)) for v in n]
    out = []
    for row, label in zip(z.tolist(), y.tolist()):
        adj = [v + tau * lp for v, lp in zip(row, log_pi)]
        top = max(adj)
        lse = top + math.log(sum(math.exp(a - top) for a in adj))
        out.append(lse - adj[label])
    return torch.tensor(out, dtype=torch.float64)


def batch(B=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(B, C, generator=gen, dtype=torch.float64) * 2,
            torch.arange(B) % (C - 1))


def test_balanced_softmax_values():
    z, y = batch()
    loss = BalancedSoftmaxLoss(C, COUNTS, reduction='none')
    assert loss.tau == 1.0 and loss.loss_name == 'loss_balanced_softmax'
    assert torch.allclose(loss(z, y), ref_balanced_softmax(z, y, COUNTS))


@pytest.mark.parametrize('tau', [0.0, 0.5, 1.0, 2.0])
def test_logit_adjustment_tau(tau):
    z, y = batch()
    loss = BalancedSoftmaxLoss(C, COUNTS, tau=tau, reduction='none')
    assert torch.allclose(loss(z, y), ref_logit_adjusted(z, y, COUNTS, tau))
    if tau == 0:
        assert torch.allclose(loss(z, y), F.cross_entropy(z, y,
                                                          reduction='none'))


def test_soft_targets_and_reduction():
    z, y = batch()
    loss = BalancedSoftmaxLoss(C, COUNTS)
    onehot = F.one_hot(y, C).double()
    assert torch.allclose(loss(z, onehot), loss(z, y))
    t = 0.7 * onehot + 0.3 * F.one_hot((y + 1) % C, C).double()
    y2 = (y + 1) % C
    per1 = ref_balanced_softmax(z, y, COUNTS)
    per2 = ref_balanced_softmax(z, y2, COUNTS)
    assert torch.allclose(loss(z, t), (0.7 * per1 + 0.3 * per2).mean())
    w = torch.rand(10, dtype=torch.float64)
    assert torch.allclose(loss(z, y, weight=w, avg_factor=3.0),
                          (per1 * w).sum() / 3.0)


def test_gradcheck_zero_counts_and_state():
    z, y = batch(B=4)
    loss = BalancedSoftmaxLoss(C, COUNTS)
    assert torch.autograd.gradcheck(lambda t: loss(t, y),
                                    (z.clone().requires_grad_(), ))
    # the empty class as a label: finite (it counts as one example)
    out = loss(z, torch.full((4, ), C - 1))
    assert torch.isfinite(out)
    fresh = BalancedSoftmaxLoss(C)
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        fresh(z, y)
    fresh.load_state_dict(loss.state_dict())
    assert torch.equal(fresh(z, y), loss(z, y))


def test_bad_arguments():
    with pytest.raises(ValueError, match='tau'):
        BalancedSoftmaxLoss(C, COUNTS, tau=-1.0)
    with pytest.raises(ValueError, match='class_counts'):
        BalancedSoftmaxLoss(C, [1, 2])
    with pytest.raises(ValueError, match='num_classes'):
        BalancedSoftmaxLoss(C, COUNTS)(torch.randn(2, C + 2),
                                       torch.tensor([0, 1]))
