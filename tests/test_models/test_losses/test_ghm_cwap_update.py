"""GHMCWAPLoss.update() (Algorithm 1, method.md §7) for a class with no
example since the last update: it keeps its bins (``edges[k]``) and its
reference histogram (``ref_density[k]``), while every other class gets the
interval's density as its reference and AURA bins made from it."""
import math

import pytest
import torch

from mmghm.models.losses import GHMCWAPLoss

C, N = 4, 6
# Every class with enough examples that some bins hold more than e (the
# AURA widths 1 / log(max(v, e)) are then not all equal: non-uniform bins).
LABELS = torch.cat([torch.full((n, ), c) for c, n in enumerate([48, 36, 30,
                                                                24])])


def feed(loss: GHMCWAPLoss, labels: torch.Tensor, seed: int) -> None:
    """One training forward (it counts the batch into ``density``)."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(len(labels), C, generator=gen) * 2
    loss(logits.requires_grad_(True), labels)


def aura_edges(density_row: list) -> list:
    """Algorithm 1 from the formula (method.md §7), in float64: widths
    proportional to 1 / log(max(v_i, e)), normalised to sum to 1, edges their
    cumulative sum with the ends pinned to exactly 0 and 1."""
    widths = [1.0 / math.log(max(v, math.e)) for v in density_row]
    total = sum(widths)
    edges, acc = [0.0], 0.0
    for w in widths[:-1]:
        acc += w / total
        edges.append(acc)
    return edges + [1.0]


@pytest.mark.parametrize('absent', [0, 3])
def test_absent_class_keeps_its_bins_and_reference_others_rebin(absent):
    loss = GHMCWAPLoss(C, num_bins=N)
    uniform = torch.linspace(0, 1, N + 1)
    # interval 1: every class
    feed(loss, LABELS, seed=0)
    loss.update()
    edges1, ref1 = loss.edges.clone(), loss.ref_density.clone()
    # what the absent class must keep is not what a reset would give
    assert not torch.allclose(edges1[absent], uniform)
    assert ref1[absent].sum() > 0

    # interval 2: no example of class `absent`
    feed(loss, LABELS[LABELS != absent], seed=1)
    density2 = loss.density.clone()
    others = [c for c in range(C) if c != absent]
    assert density2[absent].sum() == 0
    assert (density2[others].sum(1) > 0).all()
    loss.update()

    # the absent class: bit for bit what it had
    assert torch.equal(loss.edges[absent], edges1[absent])
    assert torch.equal(loss.ref_density[absent], ref1[absent])
    # the others: reference <- the interval's density, AURA bins from it
    for c in others:
        assert torch.equal(loss.ref_density[c], density2[c].float())
        expected = torch.tensor(aura_edges(density2[c].tolist()),
                                dtype=torch.float64)
        torch.testing.assert_close(loss.edges[c].double(), expected,
                                   rtol=0, atol=1e-6)
        assert loss.edges[c, 0] == 0 and loss.edges[c, N] == 1
        assert not torch.allclose(loss.edges[c], edges1[c])
    assert torch.equal(loss.density,
                       torch.zeros(C, N, dtype=loss.density.dtype))
    assert int(loss.num_updates) == 2
    # the margins keep using the absent class's old reference
    S = [max(1.0, sum(float(v)**loss.alpha for v in row if v > 0))
         for row in loss.ref_density]
    assert S[absent] == pytest.approx(
        sum(float(v)**loss.alpha for v in ref1[absent] if v > 0))
    torch.testing.assert_close(loss.log_effective_size(),
                               torch.tensor(S, dtype=torch.float64).log())


def test_class_absent_at_the_first_update_keeps_uniform_bins_and_zeros():
    loss = GHMCWAPLoss(C, num_bins=N)
    initial = loss.edges.clone()
    torch.testing.assert_close(initial[2], torch.linspace(0, 1, N + 1))
    feed(loss, LABELS[LABELS != 2], seed=0)
    loss.update()
    assert torch.equal(loss.edges[2], initial[2])
    assert torch.equal(loss.ref_density[2], torch.zeros(N))
    assert (loss.ref_density[[0, 1, 3]].sum(1) > 0).all()


def test_ura_absent_class_keeps_its_reference_and_bins_stay_uniform():
    loss = GHMCWAPLoss(C, num_bins=N, adaptive=False)
    initial = loss.edges.clone()
    feed(loss, LABELS, seed=0)
    loss.update()
    ref1 = loss.ref_density.clone()
    feed(loss, LABELS[LABELS != 1], seed=1)
    density2 = loss.density.clone()
    loss.update()
    assert torch.equal(loss.ref_density[1], ref1[1])
    assert torch.equal(loss.ref_density[[0, 2, 3]],
                       density2[[0, 2, 3]].float())
    assert torch.equal(loss.edges, initial)
    torch.testing.assert_close(initial,
                               torch.linspace(0, 1, N + 1).expand(C, N + 1))
