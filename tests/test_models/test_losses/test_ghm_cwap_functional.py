"""Each pure function of the GHM-CWAP core against a slow reference written
from method.md with loops over examples, bins and classes."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmghm.models.losses import ghm_cwap_functional as gf


def random_edges(gen, C, N):
    w = torch.rand(C, N, generator=gen, dtype=torch.float64) + 0.1
    edges = torch.zeros(C, N + 1, dtype=torch.float64)
    edges[:, 1:] = (w / w.sum(1, keepdim=True)).cumsum(1)
    edges[:, -1] = 1
    return edges.float()


def ref_size(row, alpha):
    # S = sum_i v_i^alpha over non-empty bins, at least 1 (method.md §3)
    return max(1.0, sum(v**alpha for v in row if v > 0))


@pytest.mark.parametrize('alpha', [0.9, 0.5, 0.0, 1.0])
def test_effective_size(alpha):
    gen = torch.Generator().manual_seed(0)
    density = torch.rand(5, 7, generator=gen, dtype=torch.float64) * 4
    density[density < 1.5] = 0
    density[4] = 0  # an unseen class: S = 1
    expected = [ref_size(row.tolist(), alpha) for row in density]
    got = gf.effective_size(density, alpha)
    torch.testing.assert_close(got, torch.tensor(expected,
                                                 dtype=torch.float64))
    assert got[4] == 1.0


def ref_margins(S, gamma, m, background=None):
    """M_{m,n} = gamma * log(min(1, S_n / S_m)); none for the background."""
    C = len(S)
    out = torch.zeros(C, dtype=torch.float64)
    if m == background:
        return out
    for n in range(C):
        if n != background:
            out[n] = gamma * math.log(min(1.0, S[n] / S[m]))
    return out


@pytest.mark.parametrize('background', [None, 2])
def test_margin_cross_entropy_matches_autograd_of_eq3(background):
    gen = torch.Generator().manual_seed(1)
    B, C, gamma, alpha = 24, 5, 0.8, 0.9
    density = torch.rand(C, 6, generator=gen, dtype=torch.float64) * 30
    S = [ref_size(r.tolist(), alpha) for r in density]
    shift = gf.margin_shift(density, alpha, gamma)
    if background is not None:
        shift = gf.split_background_shift(shift, background)
    logits = torch.randn(B, C, generator=gen, dtype=torch.float64) * 3
    label = torch.randint(0, C, (B, ), generator=gen)
    label[:3] = background if background is not None else 0
    z = logits.clone().requires_grad_(True)
    loss, g = gf.margin_cross_entropy(z, label, shift)
    upstream = torch.rand(B, generator=gen, dtype=torch.float64)
    (loss * upstream).sum().backward()

    z_ref = logits.clone().requires_grad_(True)
    rows = []
    gs = []
    for k in range(B):
        m = int(label[k])
        adj = z_ref[k] + ref_margins(S, gamma, m, background)
        rows.append(-torch.log_softmax(adj, 0)[m])
        gs.append(1 - torch.softmax(adj.detach(), 0)[m])
    expected = torch.stack(rows)
    (expected * upstream).sum().backward()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(g, torch.stack(gs))
    torch.testing.assert_close(z.grad, z_ref.grad)
    assert not g.requires_grad


def test_margin_cross_entropy_without_margins_is_cross_entropy():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(10, 4, generator=gen, dtype=torch.float64)
    label = torch.randint(0, 4, (10, ), generator=gen)
    loss, g = gf.margin_cross_entropy(logits, label, None)
    torch.testing.assert_close(
        loss, F.cross_entropy(logits, label, reduction='none'))
    torch.testing.assert_close(g, 1 - torch.exp(-loss))


def ref_bin(edges_row, g):
    # left-closed bins, g = 1 in the last (method.md §2)
    N = len(edges_row) - 1
    for i in range(N):
        if edges_row[i] <= g < edges_row[i + 1]:
            return i
    return N - 1


def test_bin_index_finds_each_class_bin_and_edges_go_up():
    gen = torch.Generator().manual_seed(3)
    C, N = 6, 5
    edges = random_edges(gen, C, N)
    label = torch.randint(0, C, (200, ), generator=gen)
    g = torch.rand(200, generator=gen)
    # exactly on inner edges, on 0 and on 1
    g[:C * (N - 1)] = edges[:, 1:N].reshape(-1)
    label[:C * (N - 1)] = torch.arange(C).repeat_interleave(N - 1)
    g[-3:] = torch.tensor([0.0, 1.0, 1.0])
    cell = gf.bin_index(g, label, gf.inner_edge_table(edges))
    expected = [int(y) * N + ref_bin(edges[int(y)].tolist(), float(x))
                for x, y in zip(g, label)]
    assert cell.tolist() == expected
    # an edge value belongs to the bin above it
    assert (cell[:C * (N - 1)] % N).tolist() == list(range(1, N)) * C
    nan = gf.bin_index(torch.tensor([float('nan')]), torch.tensor([4]),
                       gf.inner_edge_table(edges))
    assert nan.tolist() == [4 * N]


def test_bin_mass_and_accumulate_density():
    gen = torch.Generator().manual_seed(4)
    C, N = 3, 4
    edges = random_edges(gen, C, N)
    mass = gf.bin_mass(edges)
    for c in range(C):
        for i in range(N):
            d = float(edges[c, i + 1]) - float(edges[c, i])
            assert mass[c, i].item() == pytest.approx(1 / (N * d), rel=1e-6)
    uniform = torch.linspace(0, 1, N + 1).expand(C, N + 1)
    torch.testing.assert_close(gf.bin_mass(uniform),
                               torch.ones(C, N, dtype=torch.float64),
                               rtol=1e-6, atol=0)
    density = torch.zeros(C, N, dtype=torch.float64)
    cell = torch.tensor([0, 5, 5, 11, 0])
    add = torch.tensor([1.0, 2.0, 0.5, 3.0, 0.0], dtype=torch.float64)
    gf.accumulate_density_(density, cell, add)
    expected = torch.zeros(C * N, dtype=torch.float64)
    for k, v in zip(cell.tolist(), add.tolist()):
        expected[k] += v
    assert torch.equal(density.view(-1), expected)


@pytest.mark.parametrize('form', ['tempered', 'paper'])
def test_intra_weights(form):
    gen = torch.Generator().manual_seed(5)
    C, N, B, alpha = 4, 5, 30, 0.9
    density = torch.rand(C, N, generator=gen, dtype=torch.float64) * 10
    density[density < 3] = 0
    label = torch.randint(0, C, (B, ), generator=gen)
    bins = torch.randint(0, N, (B, ), generator=gen)
    cell = label * N + bins
    mass = torch.rand(B, generator=gen, dtype=torch.float64) + 0.5
    member = torch.rand(B, generator=gen) > 0.2
    w = gf.intra_weights(density, cell, label, mass, member, alpha, form)
    raw = []
    for k in range(B):
        c, i = int(label[k]), int(bins[k])
        v = max(float(density[c, i]), float(mass[k]))  # empty: one example
        if form == 'tempered':
            raw.append(v**(alpha - 1))
        else:
            row = density[c].tolist()
            if row[i] <= 0:
                row[i] = v
            S = sum(x**alpha for x in row if x > 0)
            K = sum(1 for x in row if x > 0)
            raw.append(S / v**alpha / K)
    raw = torch.tensor(raw, dtype=torch.float64) * member
    expected = raw * (member.sum() / raw.sum())
    torch.testing.assert_close(w, expected)
    assert w[member].mean().item() == pytest.approx(1.0)
    assert (w[~member] == 0).all()


def ref_aura_edges(row):
    widths = [1.0 / math.log(max(v, math.e)) for v in row]
    total = sum(widths)
    edges, acc = [0.0], 0.0
    for w in widths[:-1]:
        acc += w / total
        edges.append(acc)
    return edges + [1.0]


def test_aura_edges():
    gen = torch.Generator().manual_seed(6)
    density = torch.rand(5, 8, generator=gen, dtype=torch.float64) * 200
    density[0] = 0  # all widths equal: uniform bins
    edges = gf.aura_edges(density)
    assert edges.dtype == torch.float32
    for c in range(5):
        torch.testing.assert_close(
            edges[c].double(),
            torch.tensor(ref_aura_edges(density[c].tolist()),
                         dtype=torch.float64), rtol=0, atol=1e-6)
    assert (edges[:, 0] == 0).all() and (edges[:, -1] == 1).all()


@pytest.mark.parametrize('adaptive', [True, False])
def test_aura_update_keeps_unseen_classes(adaptive):
    """Algorithm 1: a class with no example since the last update keeps its
    reference, its reference bins and its bins; the others take the running
    density, counted in the current bins, and (AURA) new bins."""
    gen = torch.Generator().manual_seed(7)
    C, N = 4, 6
    density = torch.rand(C, N, generator=gen, dtype=torch.float64) * 50
    density[2] = 0  # class 2 unseen in this period
    ref = torch.rand(C, N, generator=gen) * 9
    edges = random_edges(gen, C, N)
    ref_edges = random_edges(gen, C, N)
    step = gf.aura_update(density, ref, edges, ref_edges, adaptive)
    assert step.seen.tolist() == [True, True, False, True]
    assert torch.equal(step.ref_density[2], ref[2])
    assert torch.equal(step.ref_edges[2], ref_edges[2])
    assert torch.equal(step.edges[2], edges[2])
    for c in (0, 1, 3):
        assert torch.equal(step.ref_density[c], density[c].float())
        assert torch.equal(step.ref_edges[c], edges[c])
        if adaptive:
            torch.testing.assert_close(
                step.edges[c].double(),
                torch.tensor(ref_aura_edges(density[c].tolist()),
                             dtype=torch.float64), rtol=0, atol=1e-6)
        else:
            assert torch.equal(step.edges[c], edges[c])


@pytest.mark.parametrize('shape', [(512, 3000), (4, 19, 40, 30)])
def test_margin_cross_entropy_large_and_dense_match_native_autograd(shape):
    """Sizes where the softmax kernels work in chunks (the CPU path computes
    in place on its own temporaries), and dense (B, C, H, W) logits."""
    gen = torch.Generator().manual_seed(8)
    C = shape[1]
    logits = torch.randn(*shape, generator=gen) * 3
    label = torch.randint(0, C, shape[:1] + shape[2:], generator=gen)
    shift = torch.randn(C, generator=gen)
    z = logits.clone().requires_grad_(True)
    loss, g = gf.margin_cross_entropy(z, label, shift)
    upstream = torch.rand(label.shape, generator=gen)
    (loss * upstream).sum().backward()
    z_ref = logits.clone().requires_grad_(True)
    view = (1, C) + (1, ) * (len(shape) - 2)
    margins = torch.minimum(shift.view(view), shift[label].unsqueeze(1))
    log_prob = torch.log_softmax(z_ref + margins, dim=1)
    expected = -log_prob.gather(1, label.unsqueeze(1)).squeeze(1)
    (expected * upstream).sum().backward()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(g, 1 - torch.exp(-expected.detach()))
    torch.testing.assert_close(z.grad, z_ref.grad)
