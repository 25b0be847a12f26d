"""GradHistVisHook inside a real MMEngine Runner, and the Fig. 2 tool on the
outputs of that run.

A linear classifier trains for a few epochs on a long-tailed subset of the
handwritten digits scikit-learn ships (real data, no download) with
GHMCWAPLoss + AURAHook + GradHistVisHook and MMEngine's LocalVisBackend.
The checks are independent of the hook's own arithmetic: class counts come
from the data set, bins from the previous update's dump, pixels from the
PNG files.
"""
import copy
import glob
import importlib.util
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.structures import DataSample

from mmghm.engine.hooks import GradHistVisHook
from mmghm.engine.hooks.grad_hist_vis_hook import FineHistogram
from mmghm.models.losses import GHMCWAPLoss
from mmghm.visualization.grad_hist import CHECKPOINT_KEY, GradHistState

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
import plot_grad_norm  # noqa: E402

# Long-tailed class sizes taken from the digits (head 0 ... tail 9).
COUNTS = [60, 40, 26, 17, 11, 8, 6, 4, 3, 2]
N_BINS = 10


class DigitsLT(torch.utils.data.Dataset):
    """A long-tailed subset of scikit-learn's digits, 64 features each."""

    def __init__(self):
        # The file sklearn.datasets.load_digits reads, without importing
        # scikit-learn (seconds of import time).
        spec = importlib.util.find_spec('sklearn')
        if spec is None:
            pytest.skip('scikit-learn (its digits data) is not installed')
        path = osp.join(spec.submodule_search_locations[0], 'datasets',
                        'data', 'digits.csv.gz')
        data = np.loadtxt(path, delimiter=',')
        x, y = data[:, :-1], data[:, -1].astype(np.int64)
        keep = np.concatenate(
            [np.flatnonzero(y == c)[:n] for c, n in enumerate(COUNTS)])
        self.x = torch.from_numpy(x[keep] / 16.0).float()
        self.y = torch.from_numpy(y[keep]).long()
        self.metainfo = dict(
            classes=[str(c) for c in range(10)], class_counts=COUNTS)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return dict(
            inputs=self.x[i],
            data_samples=DataSample().set_gt_label(int(self.y[i])))


class LinearNet(BaseModel):
    """Logits = a linear layer; the loss is a GHMCWAPLoss."""

    def __init__(self, loss):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.loss_module = GHMCWAPLoss(**loss)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        logits = self.fc(torch.stack(inputs))
        if mode == 'loss':
            labels = torch.cat([d.gt_label for d in data_samples])
            return dict(loss=self.loss_module(logits, labels))
        if mode == 'predict':
            for d, s in zip(data_samples, logits.softmax(dim=1)):
                d.set_pred_score(s)
            return data_samples
        return logits


def make_runner(work_dir, name, by_epoch=True, adaptive=True, fine_bins=100,
                max_epochs=3, max_iters=12, interval=4, resume=False,
                load_from=None, with_aura=True, **hook_kwargs):
    dataset = DigitsLT()
    loader = dict(
        dataset=dataset, batch_size=16, num_workers=0,
        sampler=dict(type='DefaultSampler' if by_epoch else
                     'InfiniteSampler', shuffle=True))
    if by_epoch:
        train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
        aura = dict(type='mmghm.AURAHook')
    else:
        train_cfg = dict(by_epoch=False, max_iters=max_iters,
                         val_interval=max_iters)
        aura = dict(type='mmghm.AURAHook', by_epoch=False, interval=interval)
    return Runner(
        model=LinearNet(dict(num_classes=10, num_bins=N_BINS,
                             adaptive=adaptive)),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=loader,
        val_dataloader=dict(loader, sampler=dict(type='DefaultSampler',
                                                 shuffle=False)),
        val_evaluator=[
            dict(type='mmpretrain.Accuracy', topk=(1, )),
            dict(type='mmghm.GroupAccuracy', class_counts=COUNTS,
                 mode='quantile')
        ],
        val_cfg=dict(),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1 if by_epoch
                            else interval, by_epoch=by_epoch),
            logger=dict(type='LoggerHook', interval=2)),
        custom_hooks=([aura] if with_aura else []) + [
            dict(type='mmghm.GradHistVisHook', fine_bins=fine_bins,
                 **hook_kwargs)
        ],
        visualizer=dict(type='Visualizer',
                        vis_backends=[dict(type='LocalVisBackend')]),
        log_processor=dict(by_epoch=by_epoch),
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        default_scope='mmpretrain')


def vis_dir(work_dir):
    dirs = glob.glob(osp.join(str(work_dir), '*', 'vis_data'))
    assert len(dirs) == 1, dirs
    return dirs[0]


def read_scalars(work_dir):
    with open(osp.join(vis_dir(work_dir), 'scalars.json')) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def epoch_run(tmp_path_factory):
    """Three epochs of AURA with the hook, fine histogram of 100 bins."""
    work_dir = tmp_path_factory.mktemp('epoch_run')
    runner = make_runner(work_dir, 'gh_epoch')
    runner.train()
    return runner, work_dir


@pytest.fixture(scope='module')
def iter_run(tmp_path_factory):
    """12 iterations of URA, an update (and a log) every 4 iterations."""
    work_dir = tmp_path_factory.mktemp('iter_run')
    runner = make_runner(
        work_dir, 'gh_iter', by_epoch=False, adaptive=False, fine_bins=20,
        classes=[0, 9],
        outputs=('image', 'scalars', 'bin_scalars', 'dump'))
    runner.train()
    return runner, work_dir


def dumps(work_dir, stem):
    return {
        int(osp.basename(p)[len(stem) + 1:-4]): GradHistState.load(p)
        for p in glob.glob(osp.join(str(work_dir), 'grad_hist',
                                    f'{stem}_*.npz'))
    }


def test_dumps_match_data_and_loss_state(epoch_run):
    runner, work_dir = epoch_run
    states = dumps(work_dir, 'epoch')
    assert sorted(states) == [1, 2, 3]
    loss = runner.model.loss_module
    uniform = np.linspace(0, 1, N_BINS + 1)
    previous_edges = np.tile(uniform, (10, 1))
    for k in (1, 2, 3):
        s = states[k]
        assert s.epoch == k and s.num_updates == k and s.adaptive is True
        assert s.ref_edges_known.all()
        # Each epoch sees every example once: the reference counts are the
        # class sizes, whichever bins they fell in.
        bin_counts = s.bin_counts()
        np.testing.assert_allclose(bin_counts, np.round(bin_counts),
                                   atol=1e-3)
        np.testing.assert_allclose(bin_counts.sum(axis=1), COUNTS,
                                   atol=1e-3)
        np.testing.assert_array_equal(s.fine_hist.sum(axis=1), COUNTS)
        # The bins in force during epoch k are those made at update k-1.
        np.testing.assert_allclose(s.ref_edges, previous_edges, atol=1e-7)
        previous_edges = s.edges
        # Every example of the fine histogram lies in the loss's bin:
        # fine bins inside a coarse bin <= its count <= fine bins touching
        # it.
        fine_e = np.linspace(0, 1, 101)
        for c in range(10):
            for i in range(N_BINS):
                lo, hi = s.ref_edges[c, i], s.ref_edges[c, i + 1]
                inside = (fine_e[:-1] >= lo) & (fine_e[1:] <= hi)
                touch = (fine_e[1:] > lo) & (fine_e[:-1] < hi)
                n = round(bin_counts[c, i])
                assert s.fine_hist[c, inside].sum() <= n
                assert n <= s.fine_hist[c, touch].sum()
    # AURA has made non-uniform bins by now (the head class is peaked).
    assert not np.allclose(states[3].edges[0], uniform, atol=1e-3)
    # The last dump is the loss's state at the end of training ...
    last = states[3]
    np.testing.assert_allclose(last.ref_density,
                               loss.ref_density.numpy(), rtol=1e-6)
    np.testing.assert_allclose(last.edges, loss.edges.numpy(), atol=1e-7)
    assert last.num_updates == int(loss.num_updates) == 3
    # ... and the checkpoint holds it: the loss's state (the bins of its
    # reference included) and the hook's fine histogram.
    ckpt = torch.load(osp.join(str(work_dir), 'epoch_3.pth'),
                      map_location='cpu', weights_only=True)
    np.testing.assert_allclose(
        ckpt['state_dict']['loss_module.ref_density'].numpy(),
        last.ref_density, rtol=1e-6)
    np.testing.assert_allclose(
        ckpt['state_dict']['loss_module.ref_edges'].numpy(), last.ref_edges,
        atol=1e-7)
    saved = ckpt[CHECKPOINT_KEY]['loss_module']
    np.testing.assert_array_equal(saved['fine_ref'].numpy(), last.fine_hist)
    assert last.class_names == [str(c) for c in range(10)]
    np.testing.assert_array_equal(last.class_counts, COUNTS)


def test_visualizer_files(epoch_run):
    runner, work_dir = epoch_run
    scalars = read_scalars(work_dir)
    hist = [r for r in scalars if any(k.startswith('grad_hist/') for k in r)]
    assert [r['step'] for r in hist] == [1, 2, 3]
    states = dumps(work_dir, 'epoch')
    for r in hist:
        s = states[r['step']]
        classes = sorted({int(k.split('/')[1][len('class_'):])
                          for k in r if k.startswith('grad_hist/')})
        # Default: the two most and two least frequent classes.
        assert classes == [0, 1, 8, 9]
        for c in classes:
            assert r[f'grad_hist/class_{c}/count'] == pytest.approx(
                COUNTS[c])
            widths = np.diff(s.edges[c])
            assert r[f'grad_hist/class_{c}/min_width'] == pytest.approx(
                widths.min(), abs=1e-6)
            assert r[f'grad_hist/class_{c}/max_width'] == pytest.approx(
                widths.max(), abs=1e-6)
            assert r[f'grad_hist/class_{c}/nonempty_bins'] == int(
                (s.ref_density[c] > 0).sum())
            # S_c = sum_i v_i^alpha (alpha = 0.9) over the reference
            v = s.ref_density[c]
            assert r[f'grad_hist/class_{c}/eff_size'] == pytest.approx(
                max(1.0, (v[v > 0]**0.9).sum()), rel=1e-5)
    # Validation metrics that are scalars, group accuracies included, reach
    # every visualizer backend through LoggerHook after each validation.
    val = [r for r in scalars if 'accuracy/top1' in r]
    assert [r['step'] for r in val] == [1, 2, 3]
    for r in val:
        groups = {k for k in r if k.startswith('group_accuracy/')}
        assert {'group_accuracy/top1', 'group_accuracy/mean_class'} < groups
        assert len(groups) >= 5  # top1, mean_class and the three groups
    for step in (1, 2, 3):
        path = osp.join(vis_dir(work_dir), 'vis_image',
                        f'grad_hist_{step}.png')
        img = cv2.imread(path)
        assert img is not None, path
        # 4 panels of 3 x 2.6 inches at 72 dpi
        assert img.shape == (187, 864, 3)
        assert img.std() > 10  # not a blank canvas


def test_plot_tool_on_dumps_and_checkpoint(epoch_run, tmp_path):
    runner, work_dir = epoch_run
    last = GradHistState.load(
        osp.join(str(work_dir), 'grad_hist', 'epoch_3.npz'))
    out = tmp_path / 'fig2.png'
    data = plot_grad_norm.main([str(work_dir), '--out', str(out)])
    img = cv2.imread(str(out))
    assert img.shape == (400, 1350, 3) and img.std() > 10
    assert out.stat().st_size > 20_000
    # (a): the fine histograms, summed over all / head / tail classes
    w = 1 / 100
    np.testing.assert_allclose(data['a_overall'] * w,
                               last.fine_hist.sum(axis=0))
    np.testing.assert_allclose(data['a_head'] * w, last.fine_hist[0])
    np.testing.assert_allclose(data['a_tail'] * w, last.fine_hist[9])
    assert data['cls'] == 0 and data['real_source'] == 'fine'
    # (c) is the loss's own histogram of the head class, true widths
    np.testing.assert_allclose(data['aura_edges'], last.ref_edges[0])
    np.testing.assert_allclose(data['aura_heights'],
                               last.ref_density[0] * N_BINS)
    # (b) re-bins the fine histogram (100 bins) into 10 uniform bins:
    # exact sums of 10 fine bins
    np.testing.assert_allclose(
        data['ura_heights'] / N_BINS,
        last.fine_hist[0].reshape(N_BINS, 10).sum(axis=1))
    # The checkpoint of the same epoch gives the same picture data.
    ckpt = osp.join(str(work_dir), 'epoch_3.pth')
    data_ckpt = plot_grad_norm.main([ckpt, '--out', str(tmp_path / 'c.png')])
    for key in ('a_overall', 'aura_edges', 'aura_heights', 'ura_heights'):
        np.testing.assert_allclose(data_ckpt[key], data[key], rtol=1e-6)
    assert osp.getsize(tmp_path / 'c.png') > 20_000


def test_plot_tool_bare_checkpoint(epoch_run, tmp_path):
    """The loss keeps the bins its reference was counted in, so a
    checkpoint without the hook's record is exact; one of an older version
    (no ``ref_edges`` either) needs --approx."""
    _, work_dir = epoch_run
    last = GradHistState.load(
        osp.join(str(work_dir), 'grad_hist', 'epoch_3.npz'))
    ckpt = torch.load(osp.join(str(work_dir), 'epoch_3.pth'),
                      map_location='cpu', weights_only=True)
    del ckpt[CHECKPOINT_KEY]
    bare = str(tmp_path / 'bare.pth')
    torch.save(ckpt, bare)
    data = plot_grad_norm.main([bare, '--cls', '9'])
    assert data['ref_edges_known'] and data['real_source'] == 'bins'
    np.testing.assert_allclose(data['aura_edges'], last.ref_edges[9],
                               atol=1e-7)
    del ckpt['state_dict']['loss_module.ref_edges']
    old = str(tmp_path / 'old.pth')
    torch.save(ckpt, old)
    with pytest.raises(ValueError, match='AURA.*approx'):
        plot_grad_norm.main([old])
    data = plot_grad_norm.main([old, '--approx', '--cls', '9'])
    assert not data['ref_edges_known'] and data['real_source'] == 'bins'
    assert osp.getsize(str(tmp_path / 'old_fig2.png')) > 20_000


def test_iteration_based_ura(iter_run, tmp_path):
    runner, work_dir = iter_run
    states = dumps(work_dir, 'iter')
    # The hook follows the updates, whoever makes them: AURAHook updates
    # every 4 iterations here, and the hook was told nothing about it.
    assert sorted(states) == [4, 8, 12]
    for k, s in states.items():
        assert s.iter == k and s.adaptive is False
        # 4 iterations of 16 examples per update; classes not in the
        # period keep their previous reference.
        seen = s.extra['updated']
        assert s.fine_hist[seen].sum() == 64
        np.testing.assert_allclose(s.bin_counts()[seen].sum(), 64,
                                   atol=1e-3)
        # URA: uniform bins, the fine histogram (20 bins) sums exactly
        # into the loss's 10 bins.
        np.testing.assert_allclose(
            s.fine_hist.reshape(10, N_BINS, 2).sum(axis=2)[seen],
            s.bin_counts()[seen], atol=1e-3)
    # the chosen classes, every bin edge and density as a scalar
    hist = [r for r in read_scalars(work_dir)
            if any(k.startswith('grad_hist/') for k in r)]
    assert [r['step'] for r in hist] == [4, 8, 12]
    for r in hist:
        s = states[r['step']]
        assert {k.split('/')[1] for k in r if k.startswith('grad_hist/')} \
            == {'class_0', 'class_9'}
        for c in (0, 9):
            np.testing.assert_allclose(
                [r[f'grad_hist/class_{c}/edge_{i:02d}'] for i in range(11)],
                s.edges[c], atol=1e-6)
            np.testing.assert_allclose(
                [r[f'grad_hist/class_{c}/density_{i:02d}']
                 for i in range(10)], s.ref_density[c] * N_BINS, rtol=1e-6)
    images = glob.glob(osp.join(vis_dir(work_dir), 'vis_image', '*.png'))
    assert sorted(osp.basename(p) for p in images) == [
        'grad_hist_12.png', 'grad_hist_4.png', 'grad_hist_8.png'
    ]
    # Fig. 2 of a URA run: (b) is the loss's own histogram, (c) the AURA
    # bins Algorithm 1 makes from it, filled from the fine histogram.
    data = plot_grad_norm.main([str(work_dir), '--cls', '0', '--out',
                                str(tmp_path / 'f.png')])
    s = states[12]
    assert data['ura_source'] == 'state' and data['aura_source'] == \
        'rebinned'
    np.testing.assert_allclose(data['ura_heights'], s.ref_density[0] * 10)
    assert np.sum(data['aura_heights'] * np.diff(data['aura_edges'])) == \
        pytest.approx(s.fine_hist[0].sum())


def test_resume_restores_the_record(epoch_run, tmp_path):
    """Resuming from epoch 2 goes on to the same epoch-3 dump."""
    _, work_dir = epoch_run
    ckpt = osp.join(str(work_dir), 'epoch_2.pth')
    runner = make_runner(tmp_path, 'gh_resume', resume=True,
                         load_from=ckpt)
    runner.train()
    resumed = dumps(tmp_path, 'epoch')
    assert sorted(resumed) == [3]
    full = GradHistState.load(
        osp.join(str(work_dir), 'grad_hist', 'epoch_3.npz'))
    np.testing.assert_allclose(resumed[3].ref_edges, full.ref_edges,
                               atol=1e-7)
    np.testing.assert_allclose(resumed[3].ref_density, full.ref_density,
                               rtol=1e-5)
    np.testing.assert_array_equal(resumed[3].fine_hist, full.fine_hist)
    # After training the hook has let go of the loss: neither a counted
    # batch nor an update reaches it any more.
    hook = [h for h in runner.hooks if isinstance(h, GradHistVisHook)][0]
    loss = runner.model.loss_module
    fine = hook._fine['loss_module'].running.clone()
    loss.train()
    loss(torch.randn(4, 10), torch.tensor([0, 1, 2, 3]))
    loss.update()
    assert torch.equal(hook._fine['loss_module'].running, fine)
    logged = sorted(dumps(tmp_path, 'epoch'))
    hook.after_train_epoch(runner)  # where it would log an update in training
    assert sorted(dumps(tmp_path, 'epoch')) == logged


def test_hook_must_follow_the_update_and_checks_classes(tmp_path):
    # Epoch-based: the epoch-end update comes after the hook's epoch end.
    runner = make_runner(tmp_path / 'a', 'gh_order', max_epochs=1,
                         priority='ABOVE_NORMAL')
    with pytest.raises(ValueError, match=r'at \(epoch, iter\) = \(0, 12\) is '
                       r'seen only at the end of training: the hook must run '
                       r'after the hook that calls update\(\)'):
        runner.train()
    # Iteration-based: seen one iteration late.
    runner = make_runner(tmp_path / 'c', 'gh_order_iter', by_epoch=False,
                         max_iters=6, interval=2, priority='ABOVE_NORMAL')
    with pytest.raises(ValueError, match=r'at \(epoch, iter\) = \(0, 1\) is '
                       r'seen only at \(0, 2\)'):
        runner.train()
    runner = make_runner(tmp_path / 'b', 'gh_bad', max_epochs=1,
                         classes=[0, 10])
    with pytest.raises(ValueError, match=r'classes \[10\] are outside'):
        runner.train()


def test_without_aura_hook_nothing_is_logged(tmp_path):
    runner = make_runner(tmp_path, 'gh_no_aura', max_epochs=1,
                         with_aura=False)
    runner.train()
    assert not (tmp_path / 'grad_hist').exists()


@pytest.mark.parametrize('kwargs, match', [
    (dict(head_tail=(2, -1)), 'head_tail'),
    (dict(head_tail=3), 'head_tail'),
    (dict(fine_bins=1), 'fine_bins'),
    (dict(fine_bins=True), 'fine_bins'),
    (dict(classes=[]), 'classes'),
    (dict(classes=[0.5]), 'classes'),
    (dict(outputs=('image', 'video')), 'outputs'),
    (dict(outputs='image'), 'outputs'),
    (dict(yscale='sqrt'), 'yscale'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GradHistVisHook(**kwargs)


def _loss_rule_counts(g, labels, keep, C, F):
    """Fine counts written from method.md §2 with loops: an edge belongs to
    the bin above, g = 1 to the last bin."""
    out = np.zeros((C, F), dtype=np.int64)
    for gk, y, k in zip(g, labels, keep):
        if k:
            out[y, min(int(np.floor(gk * F)), F - 1)] += 1
    return out


def test_fine_histogram_counts_exactly_what_the_loss_counts():
    """Through the public batch observer: every counted example (valid label,
    finite logits, weight != 0, training with gradients), with the loss's own
    g; nothing in evaluation; a deep copy (an EMA model) starts without the
    observer."""
    C, F = 4, 8
    loss = GHMCWAPLoss(num_classes=C, num_bins=4, inter=False,
                       ignore_index=255)
    fine = FineHistogram(C, F, torch.device('cpu'))
    handle = loss.register_batch_observer(fine.observe)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(12, C, generator=gen) * 3
    logits[5, 2] = float('nan')
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 255, 3, 0, 1, 2, 3])
    weight = torch.ones(12)
    weight[9] = 0
    loss(logits, labels, weight=weight)
    safe = labels.clamp(max=C - 1)
    g = 1 - torch.softmax(logits.double(), 1).gather(
        1, safe[:, None]).squeeze(1)
    keep = (labels != 255) & (weight != 0) & torch.isfinite(g)
    expected = _loss_rule_counts(g.numpy(), safe.numpy(), keep.numpy(), C, F)
    np.testing.assert_array_equal(fine.running.numpy(), expected)
    assert fine.running.sum() == 9
    loss.eval()
    loss(logits, labels)
    loss.train()
    twin = copy.deepcopy(loss)
    twin(logits, labels)
    np.testing.assert_array_equal(fine.running.numpy(), expected)
    handle.remove()
    loss(logits, labels)
    np.testing.assert_array_equal(fine.running.numpy(), expected)


def test_every_rank_reduces_only_rank_0_writes(tmp_path, monkeypatch):
    """Distributed: each rank sums the fine histograms of all ranks (a
    collective, so every rank must call it at the same update) and only
    rank 0 writes files or calls the visualizer. The update here is made
    by hand, as a custom loop would."""
    import logging
    import types

    import torch.nn as nn

    from mmghm.engine.hooks import grad_hist_vis_hook as module
    calls = []

    def all_reduce(t, op='sum'):  # two ranks holding the same counts
        calls.append(op)
        t.mul_(2)

    monkeypatch.setattr(module.dist, 'all_reduce', all_reduce)
    monkeypatch.setattr(module.dist, 'is_main_process', lambda: False)

    class NoVisualizer:

        def __getattr__(self, name):
            raise AssertionError(f'rank 1 called visualizer.{name}')

    model = nn.Module()
    model.loss = GHMCWAPLoss(num_classes=3, num_bins=4)
    runner = types.SimpleNamespace(
        model=model, epoch=0, iter=9, work_dir=str(tmp_path),
        visualizer=NoVisualizer(), logger=logging.getLogger('test'))
    hook = GradHistVisHook(fine_bins=8)
    hook.before_train(runner)
    model.loss(torch.randn(5, 3), torch.tensor([0, 0, 1, 2, 2]))
    model.loss.update()  # the loss's own all_reduce is the patched one too
    hook.after_train_epoch(runner)
    assert calls == ['sum', 'sum']
    np.testing.assert_array_equal(hook._fine['loss'].reference.sum(axis=1),
                                  [4, 2, 4])
    assert not (tmp_path / 'grad_hist').exists()
    hook.after_train(runner)
