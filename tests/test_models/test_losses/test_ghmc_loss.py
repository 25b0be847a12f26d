"""GHMCLoss against a loop reference of Li et al.'s GHM-C (AAAI 2019)."""
import math

import pytest
import torch

from mmghm.models.losses import GHMCLoss


class RefGHMC:
    """GHM-C as in the paper / MMDetection: a Python loop over the bins."""

    def __init__(self, bins, momentum):
        self.bins, self.momentum = bins, momentum
        self.edges = [i / bins for i in range(bins + 1)]
        self.acc_sum = [0.0] * bins

    def weights(self, z, y, valid):
        B, C = len(z), len(z[0])
        g = [[abs(1 / (1 + math.exp(-z[b][c])) - (1.0 if c == y[b] else 0.))
              for c in range(C)] for b in range(B)]
        tot = max(sum(valid) * C, 1.0)
        w = [[0.0] * C for _ in range(B)]
        n = 0
        for i in range(self.bins):
            lo, hi = self.edges[i], self.edges[i + 1]
            inds = [(b, c) for b in range(B) for c in range(C) if valid[b]
                    and lo <= g[b][c] and (g[b][c] < hi or
                                           (i == self.bins - 1
                                            and g[b][c] <= hi))]
            if not inds:
                continue
            n += 1
            if self.momentum > 0:
                self.acc_sum[i] = (self.momentum * self.acc_sum[i] +
                                   (1 - self.momentum) * len(inds))
                value = tot / self.acc_sum[i]
            else:
                value = tot / len(inds)
            for b, c in inds:
                w[b][c] = value
        if n > 0:
            w = [[v / n for v in row] for row in w]
        return torch.tensor(w, dtype=torch.float64), tot

    def __call__(self, z, y, valid=None):
        """sum(beta * BCE) / tot, differentiable in z (beta constant)."""
        if valid is None:
            valid = [True] * len(y)
        w, tot = self.weights(z.tolist(), y.tolist(), valid)
        t = torch.nn.functional.one_hot(y, z.shape[1]).to(z.dtype)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            z, t, reduction='none')
        return (w * bce).sum() / tot


def batches(n, B=16, C=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n):
        yield (torch.randn(B, C, generator=gen, dtype=torch.float64) * 3,
               torch.randint(0, C, (B, ), generator=gen))


@pytest.mark.parametrize('bins, momentum', [(30, 0.75), (30, 0.0), (7, 0.5)])
def test_values_and_grads_over_batches(bins, momentum):
    loss = GHMCLoss(bins=bins, momentum=momentum)
    ref = RefGHMC(bins, momentum)
    for z, y in batches(5):
        z1 = z.clone().requires_grad_()
        z2 = z.clone().requires_grad_()
        out = loss(z1, y, avg_factor=len(y))  # as ClsHead calls it
        expected = ref(z2, y)
        assert torch.allclose(out, expected, rtol=1e-6)  # float32 EMA
        out.backward()
        expected.backward()
        assert torch.allclose(z1.grad, z2.grad, rtol=1e-6, atol=1e-12)
        assert torch.allclose(loss.acc_sum.double(),
                              torch.tensor(ref.acc_sum, dtype=torch.float64),
                              rtol=1e-6)


def test_defaults_and_state():
    loss = GHMCLoss()
    assert loss.bins == 30 and loss.momentum == 0.75
    assert loss.loss_name == 'loss_ghmc'
    assert 'acc_sum' in loss.state_dict()
    z, y = next(batches(1))
    loss(z, y)
    fresh = GHMCLoss()
    fresh.load_state_dict(loss.state_dict())
    assert torch.equal(fresh.acc_sum, loss.acc_sum)
    assert torch.equal(fresh(z, y), loss(z, y))
    loss.half()
    assert loss.acc_sum.dtype == torch.float32


def test_no_state_change_outside_training():
    loss = GHMCLoss()
    z, y = next(batches(1))
    loss(z, y)
    state = loss.acc_sum.clone()
    loss.eval()
    value_eval = loss(z, y)
    assert torch.equal(loss.acc_sum, state)
    loss.train()
    with torch.no_grad():
        value_nograd = loss(z, y)
    assert torch.equal(loss.acc_sum, state)
    assert torch.equal(value_eval, value_nograd)
    # the evaluation value is the one training would give from this state
    assert torch.equal(loss(z, y), value_eval)
    assert not torch.equal(loss.acc_sum, state)


def test_ignored_and_zero_weight_examples_are_not_counted():
    z, y = next(batches(1))
    valid = [i % 3 != 0 for i in range(len(y))]
    y_ign = torch.where(torch.tensor(valid), y, torch.full_like(y, 255))
    loss = GHMCLoss(ignore_index=255)
    ref = RefGHMC(30, 0.75)
    assert torch.allclose(loss(z, y_ign), ref(z, y, valid))
    assert torch.allclose(loss.acc_sum.double(),
                          torch.tensor(ref.acc_sum, dtype=torch.float64))
    # weight 0 = MMDetection's label_weight 0: left out of the statistics
    loss2 = GHMCLoss()
    w = torch.tensor(valid, dtype=torch.float64)
    out = loss2(z, y, weight=w, avg_factor=sum(valid))
    assert torch.allclose(out, RefGHMC(30, 0.75)(z, y, valid))
    assert torch.equal(loss2.acc_sum, loss.acc_sum)


def test_edge_values_fall_in_the_upper_bin():
    """g on an edge belongs to the bin above it, g = 1 to the last bin: the
    EMA (momentum > 0) records which of the 30 bins each term occupied."""
    loss = GHMCLoss(momentum=0.75)
    ref = RefGHMC(30, 0.75)
    y = torch.tensor([0])
    # label 0: g = 1 - sigmoid(200) = 0, sigmoid(0) = 0.5, sigmoid(-200) = 0
    z1 = torch.tensor([[200.0, 0.0, -200.0]], dtype=torch.float64)
    # g = 1 - sigmoid(-200) = 1, sigmoid(200) = 1, sigmoid(0) = 0.5
    z2 = torch.tensor([[-200.0, 200.0, 0.0]], dtype=torch.float64)
    expected = torch.zeros(30)
    for z, counts in ((z1, {0: 2, 15: 1}), (z2, {29: 2, 15: 1})):
        value = loss(z, y, reduction_override='none')
        # acc <- 0.75 acc + 0.25 count, only in the bins this batch occupies
        for i, n in counts.items():
            expected[i] = 0.75 * expected[i] + 0.25 * n
        assert torch.equal(loss.acc_sum, expected)
        w, _ = ref.weights(z.tolist(), y.tolist(), [True])
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            z, torch.nn.functional.one_hot(y, 3).double(), reduction='none')
        assert torch.allclose(value, (w * bce).sum(1) / 3)
    assert expected.nonzero().view(-1).tolist() == [0, 15, 29]
    assert torch.allclose(loss.acc_sum.double(),
                          torch.tensor(ref.acc_sum, dtype=torch.float64))


def test_all_ignored_batch_is_zero_with_graph():
    loss = GHMCLoss(ignore_index=-1)
    z = torch.randn(4, 3, requires_grad=True)
    out = loss(z, torch.full((4, ), -1))
    out.backward()
    assert float(out.detach()) == 0.0
    assert torch.equal(z.grad, torch.zeros(4, 3))
    assert torch.equal(loss.acc_sum, torch.zeros(30))


@pytest.mark.parametrize('kwargs, match', [
    (dict(bins=0), 'bins'),
    (dict(bins=2.5), 'bins'),
    (dict(momentum=1.0), 'momentum'),
    (dict(momentum=-0.1), 'momentum'),
    (dict(num_classes=0), 'num_classes'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GHMCLoss(**kwargs)
