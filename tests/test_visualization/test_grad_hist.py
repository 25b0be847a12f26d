"""The data behind the gradient-norm pictures (mmghm.visualization.grad_hist),
checked against references computed straight from sampled g values and from
method.md's formulas."""
import math
import warnings

import numpy as np
import pytest
import torch

from mmghm.visualization.grad_hist import (CHECKPOINT_KEY, GradHistState,
                                           aura_edges, draw_class_histograms,
                                           draw_fig2, fig2_data,
                                           figure_to_rgb, load_grad_hist,
                                           rebin, select_classes,
                                           state_from_checkpoint)

N = 6
F = 60


def count_like_the_loss(g, edges):
    """Bin each g as method.md §2 says (left-closed, g = 1 in the last bin)
    and return (counts, density) with density = counts / (N * d)."""
    counts = np.zeros(len(edges) - 1)
    for x in g:
        i = next((i for i in range(len(edges) - 1)
                  if edges[i] <= x < edges[i + 1]), len(edges) - 2)
        counts[i] += 1
    return counts, counts / ((len(edges) - 1) * np.diff(edges))


def random_edges(rng, n):
    w = rng.uniform(0.2, 1.0, n)
    e = np.concatenate([[0.0], np.cumsum(w / w.sum())])
    e[-1] = 1.0
    return e


@pytest.fixture
def sampled():
    """Three classes (300, 60, 5 examples) with known g, counted into
    random in-force bins, plus their fine histograms."""
    rng = np.random.default_rng(0)
    sizes = [300, 60, 5]
    g = [rng.beta(0.5, 6, 300), rng.beta(1, 3, 60), rng.uniform(0, 1, 5)]
    ref_edges = np.stack([random_edges(rng, N) for _ in sizes])
    ref = np.stack([count_like_the_loss(x, e)[1]
                    for x, e in zip(g, ref_edges)])
    fine = np.stack([np.histogram(x, np.linspace(0, 1, F + 1))[0]
                     for x in g])
    state = GradHistState(
        ref_density=ref, ref_edges=ref_edges, edges=aura_edges(ref),
        fine_hist=fine, adaptive=True, num_updates=3, epoch=3)
    return state, g, sizes


def test_rebin_against_overlaps():
    rng = np.random.default_rng(1)
    src, dst = random_edges(rng, 7), random_edges(rng, 4)
    counts = rng.integers(0, 20, 7).astype(float)
    expected = np.zeros(4)
    for j in range(4):
        for i in range(7):
            overlap = max(0.0, min(src[i + 1], dst[j + 1]) -
                          max(src[i], dst[j]))
            expected[j] += counts[i] * overlap / (src[i + 1] - src[i])
    np.testing.assert_allclose(rebin(counts, src, dst), expected)
    # per-row edges and the total kept
    out = rebin(np.stack([counts, 2 * counts]), np.stack([src, src]), dst)
    np.testing.assert_allclose(out[1], 2 * expected)
    assert out.sum() == pytest.approx(3 * counts.sum())


def test_aura_edges_follow_algorithm_1():
    density = np.array([[50.0, 10.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                        [3.0, 3.0, 3.0, 3.0]])
    edges = aura_edges(density)
    # widths ∝ 1 / log(max(v, e)), normalised (method.md §7)
    w = 1 / np.log(np.maximum(density[0], math.e))
    np.testing.assert_allclose(np.diff(edges[0]), w / w.sum(), atol=1e-6)
    assert edges[0, 0] == 0 and edges[0, -1] == 1
    # a class without examples keeps its (initial, uniform) bins
    np.testing.assert_allclose(edges[1], np.linspace(0, 1, 5), atol=1e-7)
    np.testing.assert_allclose(edges[2], np.linspace(0, 1, 5), atol=1e-6)


def test_state_counts_and_round_trip(sampled, tmp_path):
    state, g, sizes = sampled
    for c, x in enumerate(g):
        counts, _ = count_like_the_loss(x, state.ref_edges[c])
        np.testing.assert_allclose(state.bin_counts()[c], counts)
    np.testing.assert_allclose(state.counts(), sizes)
    state.class_names = None
    state.extra['updated'] = np.array([True, True, False])
    path = str(tmp_path / 'grad_hist' / 'epoch_3.npz')
    state.save(path)
    back = GradHistState.load(path)
    np.testing.assert_allclose(back.ref_density, state.ref_density,
                               rtol=1e-6)
    np.testing.assert_allclose(back.ref_edges, state.ref_edges, atol=1e-7)
    np.testing.assert_array_equal(back.fine_hist, state.fine_hist)
    np.testing.assert_array_equal(back.extra['updated'],
                                  [True, True, False])
    assert (back.adaptive, back.epoch, back.num_updates) == (True, 3, 3)
    state.epoch = 12  # later dumps win, in numeric (not text) order
    state.save(str(tmp_path / 'grad_hist' / 'epoch_12.npz'))
    assert load_grad_hist(str(tmp_path)).epoch == 12  # a work dir
    assert load_grad_hist(str(tmp_path / 'grad_hist')).epoch == 12


def test_state_checks_shapes():
    with pytest.raises(ValueError, match=r'edges must have shape'):
        GradHistState(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match='fine_hist'):
        GradHistState(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 4)),
                      fine_hist=np.zeros((3, 9)))
    # detection: C + 1 logits, C dataset counts -> counts not used
    s = GradHistState(np.ones((3, 2)), np.tile([0, .5, 1], (3, 1)),
                      np.tile([0, .5, 1], (3, 1)), class_counts=[5, 1])
    assert s.class_counts is None


def test_select_classes():
    head, tail = select_classes([5, 9, 0, 1, 9, 3], 2, 2)
    assert head == [1, 4] and tail == [3, 5]  # the empty class is skipped
    head, tail = select_classes([3, 2], 2, 2)
    assert head == [0, 1] and tail == []


def test_fig2_data_aura_run(sampled):
    state, g, sizes = sampled
    d = fig2_data(state)
    w = 1 / F
    assert d['cls'] == 0 and d['head'] == [0] and d['tail'] == [2]
    # (a): fine histograms of all / head / tail classes, from the samples
    every = np.concatenate(g)
    np.testing.assert_allclose(
        d['a_overall'] * w, np.histogram(every, np.linspace(0, 1, F + 1))[0])
    np.testing.assert_allclose(d['a_tail'] * w, state.fine_hist[2])
    # (b): uniform N bins of the head class's g, exact as F % N == 0
    true_ura = np.histogram(g[0], np.linspace(0, 1, N + 1))[0]
    np.testing.assert_allclose(d['ura_heights'] / N, true_ura)
    assert d['ura_source'] == 'rebinned'
    # (c): the loss's own histogram with its in-force bins
    counts, _ = count_like_the_loss(g[0], state.ref_edges[0])
    np.testing.assert_allclose(
        d['aura_heights'] * np.diff(d['aura_edges']), counts)
    assert d['aura_source'] == 'state' and d['real_source'] == 'fine'
    # drawn on 12 bins: sums of 5 fine bins; the bars keep all the data
    d12 = fig2_data(state, display_bins=12)
    np.testing.assert_allclose(
        d12['real_heights'] / 12,
        state.fine_hist[0].reshape(12, 5).sum(axis=1))
    np.testing.assert_allclose(d12['ura_heights'], d['ura_heights'])
    with pytest.raises(ValueError, match='display_bins'):
        fig2_data(state, display_bins=0)


def test_fig2_data_ura_run_without_fine(sampled):
    state, g, sizes = sampled
    uniform = np.tile(np.linspace(0, 1, N + 1), (3, 1))
    ref = np.stack([count_like_the_loss(x, uniform[0])[1] for x in g])
    ura = GradHistState(ref_density=ref, ref_edges=uniform, edges=uniform,
                        adaptive=False)
    d = fig2_data(ura, cls=1, display_bins=12)
    assert d['real_source'] == 'bins' and d['ura_source'] == 'state'
    np.testing.assert_allclose(d['real_edges'], np.linspace(0, 1, 13))
    true_ura = np.histogram(g[1], np.linspace(0, 1, N + 1))[0]
    np.testing.assert_allclose(d['ura_heights'] / N, true_ura)
    # (c): the bins Algorithm 1 makes from this histogram, filled from it
    np.testing.assert_allclose(d['aura_edges'], aura_edges(ref)[1],
                               atol=1e-7)
    assert np.sum(d['aura_heights'] * np.diff(d['aura_edges'])) == \
        pytest.approx(60)
    # (a) on a 12-bin grid: each uniform bin split in two halves
    np.testing.assert_allclose(
        d['a_overall'] / 12,
        np.repeat(sum(np.histogram(x, np.linspace(0, 1, N + 1))[0]
                      for x in g) / 2, 2))
    with pytest.raises(ValueError, match=r'cls classes \[3\]'):
        fig2_data(ura, cls=3)


def fake_checkpoint(state, hook=True, prefix='head.loss_module'):
    sd = {
        f'{prefix}.edges': torch.tensor(state.edges, dtype=torch.float32),
        f'{prefix}.ref_density': torch.tensor(state.ref_density,
                                              dtype=torch.float32),
        f'{prefix}.density': torch.zeros(state.ref_density.shape),
        f'{prefix}.num_updates': torch.tensor(state.num_updates),
        'backbone.weight': torch.zeros(2),
    }
    ckpt = dict(state_dict=sd, meta=dict(epoch=state.epoch, iter=40))
    if hook:
        ckpt[CHECKPOINT_KEY] = {
            prefix: dict(
                ref_edges=torch.tensor(state.ref_edges, dtype=torch.float32),
                ref_edges_known=torch.ones(3, dtype=torch.bool),
                fine_ref=torch.tensor(state.fine_hist).long(),
                fine_running=None, class_counts=None, adaptive=True)
        }
    return ckpt


def test_state_from_checkpoint(sampled):
    state, _, _ = sampled
    got = state_from_checkpoint(fake_checkpoint(state))
    np.testing.assert_allclose(got.ref_edges, state.ref_edges, atol=1e-7)
    np.testing.assert_array_equal(got.fine_hist, state.fine_hist)
    assert got.loss_name == 'head.loss_module' and got.epoch == 3
    # a bare AURA checkpoint: the widths of the reference are unknown
    bare = fake_checkpoint(state, hook=False)
    with pytest.raises(ValueError, match='approx'):
        state_from_checkpoint(bare)
    approx = state_from_checkpoint(bare, approx=True)
    assert not approx.ref_edges_known.any()
    np.testing.assert_allclose(approx.ref_edges, state.edges, atol=1e-7)
    # uniform edges (URA) are exact without the hook
    uniform = GradHistState(state.ref_density,
                            np.tile(np.linspace(0, 1, N + 1), (3, 1)),
                            np.tile(np.linspace(0, 1, N + 1), (3, 1)),
                            num_updates=5)
    assert state_from_checkpoint(fake_checkpoint(
        uniform, hook=False)).ref_edges_known.all()
    # several losses need a key; wrong keys and empty models are named
    two = fake_checkpoint(state)
    two['state_dict'].update(fake_checkpoint(state, prefix='aux')
                             ['state_dict'])
    with pytest.raises(ValueError, match='several'):
        state_from_checkpoint(two)
    assert state_from_checkpoint(two, loss_key='head.loss_module').epoch == 3
    with pytest.raises(ValueError, match="'nope' is not"):
        state_from_checkpoint(two, loss_key='nope')
    with pytest.raises(ValueError, match='no GHM-CWAP histograms'):
        state_from_checkpoint(dict(state_dict={'a.weight': torch.zeros(1)}))
    fresh = fake_checkpoint(state)
    fresh['state_dict']['head.loss_module.num_updates'] = torch.tensor(0)
    with pytest.raises(ValueError, match='no AURA update yet'):
        state_from_checkpoint(fresh)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_grad_hist(str(tmp_path / 'x.npz'))
    with pytest.raises(FileNotFoundError, match='neither'):
        load_grad_hist(str(tmp_path))
    np.savez(str(tmp_path / 'other.npz'), a=np.zeros(2))
    with pytest.raises(ValueError, match='not a gradient-histogram dump'):
        load_grad_hist(str(tmp_path / 'other.npz'))


def test_drawings(sampled):
    state, _, _ = sampled
    fig = draw_fig2(fig2_data(state), yscale='log', dpi=50)
    img = figure_to_rgb(fig)
    assert img.shape == (200, 675, 3) and img.dtype == np.uint8
    assert img.std() > 10
    with pytest.raises(ValueError, match='yscale'):
        draw_fig2(fig2_data(state), yscale='sqrt')
    with pytest.raises(ValueError, match='xmax'):
        draw_fig2(fig2_data(state), xmax=0)
    # a class with nothing counted yet draws without log-scale warnings
    empty = GradHistState(np.zeros((3, N)), state.ref_edges, state.edges)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        img = figure_to_rgb(draw_class_histograms(empty, [0, 2]))
    assert img.shape == (187, 432, 3)


def _checkpoint_of(loss):
    return dict(state_dict={f'head.loss.{k}': v
                            for k, v in loss.state_dict().items()},
                meta=dict(epoch=2, iter=20))


def test_state_from_checkpoint_uses_the_loss_reference_bins():
    """The loss keeps the bins its reference was counted in: a checkpoint
    alone gives the exact state; rows unknown (an older version) need
    approx and are marked."""
    from mmghm.models.losses import GHMCWAPLoss
    loss = GHMCWAPLoss(4, num_bins=N)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        loss(torch.randn(64, 4, generator=gen) * 3,
             torch.randint(0, 4, (64, ), generator=gen))
        loss.update()
    state = state_from_checkpoint(_checkpoint_of(loss))
    np.testing.assert_array_equal(state.ref_edges, loss.ref_edges.numpy())
    assert state.ref_edges_known.all() and state.adaptive is True
    assert not np.allclose(state.ref_edges, state.edges)  # AURA moved them
    np.testing.assert_allclose(state.bin_counts().sum(), 64, rtol=1e-5)
    loss.ref_edges[1] = float('nan')  # unknown for class 1
    with pytest.raises(ValueError, match='approx'):
        state_from_checkpoint(_checkpoint_of(loss))
    state = state_from_checkpoint(_checkpoint_of(loss), approx=True)
    assert state.ref_edges_known.tolist() == [True, False, True, True]
    np.testing.assert_array_equal(state.ref_edges[1], state.edges[1])


def _fig2_like(overall_mass, class_right):
    """fig2_data-shaped input: panel (a) over 100 uniform bins holding the
    given mass per bin index; the class's distributions end at
    ``class_right``."""
    edges = np.linspace(0, 1, 101)
    overall = np.zeros(100)
    for i, m in overall_mass.items():
        overall[i] = m / 0.01  # density: mass / bin width
    cls_edges = np.array([0.0, class_right / 2, class_right, 1.0])
    cls_heights = np.array([5.0, 1.0, 0.0])
    data = dict(a_edges=edges, a_overall=overall)
    for kind in ('real', 'ura', 'aura'):
        data[f'{kind}_edges'] = cls_edges
        data[f'{kind}_heights'] = cls_heights
    return data


@pytest.mark.parametrize('mass, class_right, expected', [
    # 98.5% of the examples in [0, 0.01), 1% in [0.27, 0.28), 0.5% at
    # 0.9: the 99% point is 0.28 -> 0.3 (the class ends at 0.15)
    ({0: 98.5, 27: 1.0, 90: 0.5}, 0.15, 0.3),
    # the drawn class reaches 0.73: all of it is kept -> 0.8
    ({0: 98.5, 27: 1.0, 90: 0.5}, 0.73, 0.8),
    # everything at g < 0.01: at least one step of 0.1
    ({0: 100.0}, 0.005, 0.1),
    # 2% of the examples near 1: the whole axis
    ({0: 98.0, 99: 2.0}, 0.2, 1.0),
])
def test_auto_xmax_keeps_99_percent_and_the_drawn_class(mass, class_right,
                                                        expected):
    from mmghm.visualization.grad_hist_draw import auto_xmax
    assert auto_xmax(_fig2_like(mass, class_right)) == pytest.approx(
        expected)


def test_fig2_defaults_are_log_y_and_the_auto_g_range(sampled):
    """Without arguments Fig. 2 has a log y axis on every panel and ends
    the g axis where auto_xmax says; the paper's form stays available."""
    from mmghm.visualization.grad_hist_draw import auto_xmax
    state, _, _ = sampled
    data = fig2_data(state)
    right = auto_xmax(data)
    fig = draw_fig2(data, dpi=50)
    assert [ax.get_yscale() for ax in fig.axes] == ['log'] * 3
    assert all(ax.get_xlim() == pytest.approx((0, right)) for ax in fig.axes)
    title = fig._suptitle.get_text()
    assert 'y axis log' in title
    assert (f'g axis cut at {right:g}' in title) == (right < 1)
    paper = draw_fig2(data, yscale='linear', xmax=1, dpi=50)
    assert [ax.get_yscale() for ax in paper.axes] == ['linear'] * 3
    assert paper.axes[0].get_xlim() == pytest.approx((0, 1))
    with pytest.raises(ValueError, match="xmax must be 'auto' or a number"):
        draw_fig2(data, xmax='full')


def test_plot_grad_norm_names_the_class_once(sampled, tmp_path, capsys):
    import importlib.util
    from pathlib import Path
    state, _, _ = sampled
    dump = tmp_path / 'epoch_3.npz'
    state.save(str(dump))
    tool = Path(__file__).resolve().parents[2] / 'tools' / 'analysis' / \
        'plot_grad_norm.py'
    spec = importlib.util.spec_from_file_location('plot_grad_norm', tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / 'fig2.png'
    data = module.main([str(dump), '--cls', '2', '--out', str(out)])
    printed = capsys.readouterr().out
    assert ', class 2, real distribution' in printed
    assert 'class class' not in printed
    assert out.is_file() and data['out'] == str(out)
    with pytest.raises(SystemExit):
        module.parse_args([str(dump), '--xmax', '1.5'])
