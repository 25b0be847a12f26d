"""GHM-CWAP under MMEngine's training features, each against a plain fp32
eager run of the same MMPretrain model (issue 21, part 3).

The model is a real MMPretrain ``ImageClassifier`` (a narrow ResNet_CIFAR,
global average pooling, ``LinearClsHead`` with ``mmghm.GHMCWAPLoss``)
trained by the Runner on a fixed, long-tailed synthetic image set of 10
classes, so each run takes a few seconds. What each test asserts and with
what tolerance is in docs/training_features.md.
"""

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

import mmghm  # noqa: F401  (registers the loss and the hooks)
from mmghm.engine.hooks import find_ghm_cwap_losses

C = 10
COUNTS = [24, 17, 12, 9, 6, 4, 3, 3, 2, 2]  # 82 images, imbalance 12
NUM_BINS = 10
STATE = ('density', 'ref_density', 'edges', 'ref_edges', 'num_updates')


class TinyLT(Dataset):
    """Fixed 3 x 16 x 16 uint8 images: a pattern per class plus noise."""

    def __init__(self, counts=COUNTS, seed=0):
        gen = torch.Generator().manual_seed(seed)
        patterns = torch.rand(C, 3, 16, 16, generator=gen) * 200
        self.y = torch.cat(
            [torch.full((n, ), c) for c, n in enumerate(counts)])
        x = patterns[self.y] + torch.rand(len(self.y), 3, 16, 16,
                                          generator=gen) * 55
        self.x = x.to(torch.uint8)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return dict(inputs=self.x[i],
                    data_samples=DataSample().set_gt_label(int(self.y[i])))


def model_cfg(norm='BN', frozen_stages=-1, **loss):
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=C, mean=[128] * 3,
            std=[64] * 3),
        backbone=dict(
            type='ResNet_CIFAR', depth=18, num_stages=2, strides=(1, 2),
            dilations=(1, 1), out_indices=(1, ),
            stem_channels=8, base_channels=8, frozen_stages=frozen_stages,
            norm_cfg=dict(type=norm)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead', num_classes=C, in_channels=16,
            loss=dict(type='mmghm.GHMCWAPLoss', num_classes=C,
                      num_bins=NUM_BINS, **loss)))


def loader(batch_size=8, shuffle=True, dataset=None):
    return dict(
        dataset=dataset if dataset is not None else TinyLT(),
        batch_size=batch_size, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=shuffle, seed=0))


def runner_cfg(work_dir, epochs=2, hooks=(), model=None, optim=None,
               **extra):
    cfg = dict(
        model=model or model_cfg(),
        work_dir=str(work_dir),
        train_dataloader=loader(),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=optim or dict(
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(checkpoint=None,
                           logger=dict(type='LoggerHook', interval=50)),
        custom_hooks=[dict(type='mmghm.AURAHook'), *hooks],
        randomness=dict(seed=0),
        default_scope='mmpretrain')
    cfg.update(extra)
    return cfg


def train(work_dir, **kwargs):
    runner = Runner(**runner_cfg(work_dir, **kwargs))
    runner.train()
    return runner


def the_loss(runner):
    (loss, ) = find_ghm_cwap_losses(runner.model)
    return loss


def state(runner):
    loss = the_loss(runner)
    return {k: getattr(loss, k).clone() for k in STATE}


def class_counts(density, edges):
    """Examples per class in a histogram: each adds ``1 / (N * d)`` to its
    bin (method.md §2), so ``sum(v * N * d)`` counts them."""
    return (density.double() * NUM_BINS * edges.double().diff(dim=1)).sum(1)


def weights(runner):
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()
            if not k.startswith('head.loss')}


class EpochStates(Hook):
    """The loss state and per-class counts after every epoch (after
    AURAHook: lower priority) and just before each update."""
    priority = 'LOW'

    def __init__(self):
        self.after = []

    def after_train_epoch(self, runner):
        self.after.append(state(runner))


@pytest.fixture(scope='module')
def fp32(tmp_path_factory):
    """The plain fp32 eager run every test compares with."""
    probe = EpochStates()
    runner = train(tmp_path_factory.mktemp('fp32'), hooks=[probe])
    return runner, probe


def test_plain_run_counts_every_image_once_per_epoch(fp32):
    runner, probe = fp32
    expected = torch.tensor(COUNTS, dtype=torch.float64)
    assert len(probe.after) == 2
    for s in probe.after:
        torch.testing.assert_close(
            class_counts(s['ref_density'], s['ref_edges']), expected,
            rtol=1e-6, atol=1e-4)  # ref_density is float32
    assert int(the_loss(runner).num_updates) == 2


# ----------------------------------------------------------------------
# --amp: AmpOptimWrapper, bf16 autocast on the CPU
# ----------------------------------------------------------------------
def test_amp_bf16_histograms_and_weights_match_fp32(fp32, tmp_path,
                                                    monkeypatch):
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    # AmpOptimWrapper asserts a CUDA/NPU/MLU device; its bf16 autocast runs
    # on the CPU as it is (the GradScaler disables itself without CUDA).
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    probe = EpochStates()
    runner = train(
        tmp_path, hooks=[probe],
        optim=dict(type='AmpOptimWrapper', dtype='bfloat16',
                   optimizer=dict(type='SGD', lr=0.05, momentum=0.9)))
    assert type(runner.optim_wrapper).__name__ == 'AmpOptimWrapper'
    ref_runner, ref_probe = fp32
    loss = the_loss(runner)
    expected = torch.tensor(COUNTS, dtype=torch.float64)
    for s, r in zip(probe.after, ref_probe.after):
        # every image counted once, like fp32
        torch.testing.assert_close(
            class_counts(s['ref_density'], s['ref_edges']), expected,
            rtol=1e-6, atol=1e-4)
        # the histograms differ only where bf16 logits moved a g across a
        # bin edge (measured: not at all); at most 5% of a class's mass
        moved = (s['ref_density'] - r['ref_density']).abs().sum(1) / \
            r['ref_density'].sum(1)
        assert float(moved.max()) < 0.05, moved
        torch.testing.assert_close(s['edges'], r['edges'], rtol=0,
                                   atol=0.02)
    for name, t in state(runner).items():
        assert torch.isfinite(t.double()).all(), name
    for name in ('_shift_ref', '_shift_run', '_mass'):
        assert torch.isfinite(getattr(loss, name)).all(), name
    w, w_ref = weights(runner), weights(ref_runner)
    for key, value in w.items():
        assert torch.isfinite(value.double()).all(), key
    # bf16 convolutions: the weights drift from fp32 by ~0.3% in 2 epochs
    fc = 'head.fc.weight'
    rel = (w[fc] - w_ref[fc]).norm() / w_ref[fc].norm()
    assert 0 < float(rel) < 0.02, rel  # > 0: autocast was on


# ----------------------------------------------------------------------
# optim_wrapper.accumulative_counts
# ----------------------------------------------------------------------
class IterCounts(Hook):
    """Examples in the running density after every iteration."""
    priority = 'LOW'

    def __init__(self):
        self.totals = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        loss = the_loss(runner)
        self.totals.append(float(class_counts(loss.density,
                                              loss.edges).sum()))


def test_accumulative_counts_count_every_micro_batch_once(fp32, tmp_path):
    probe, iters = EpochStates(), IterCounts()
    runner = train(
        tmp_path, hooks=[probe, iters],
        optim=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
                   accumulative_counts=3))
    assert runner.optim_wrapper._accumulative_counts == 3
    # 82 images in batches of 8: 10 full micro-batches and one of 2; the
    # running density grows by each micro-batch (stepping or not) once
    per_epoch = [8.0 * k for k in range(1, 11)] + [82.0]
    assert len(iters.totals) == 2 * len(per_epoch)
    for got, want in zip(iters.totals, per_epoch * 2):
        assert got == pytest.approx(want, abs=1e-5)  # float32 edges
    expected = torch.tensor(COUNTS, dtype=torch.float64)
    for s in probe.after:
        torch.testing.assert_close(
            class_counts(s['ref_density'], s['ref_edges']), expected,
            rtol=1e-6, atol=1e-4)
    assert int(the_loss(runner).num_updates) == 2


# ----------------------------------------------------------------------
# EMAHook
# ----------------------------------------------------------------------
def ema_run(work_dir, epochs=2, resume_from=None):
    return train(
        work_dir, epochs=epochs,
        hooks=[dict(type='EMAHook', momentum=0.2, begin_iter=2)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1),
                           logger=dict(type='LoggerHook', interval=50)),
        load_from=resume_from, resume=resume_from is not None)


def ema_hook(runner):
    from mmengine.hooks import EMAHook
    (hook, ) = [h for h in runner.hooks if isinstance(h, EMAHook)]
    return hook


def test_ema_copy_neither_counts_nor_drives_aura_and_resumes_exactly(
        fp32, tmp_path):
    runner = ema_run(tmp_path / 'straight')
    ref_runner, _ = fp32
    # The EMA copy is never trained: training equals the plain run exactly
    # (histograms, bins and weights), i.e. nothing was counted twice and
    # AURAHook updated the trained loss only, once an epoch.
    for name, value in state(runner).items():
        assert torch.equal(value, state(ref_runner)[name]), name
    for key, value in weights(runner).items():
        assert torch.equal(value, weights(ref_runner)[key]), key
    (ema_loss, ) = find_ghm_cwap_losses(ema_hook(runner).ema_model.module)
    assert ema_loss is not the_loss(runner)
    # its buffers are copies of the trained loss's (update_buffers=False)
    for name in STATE:
        assert torch.equal(getattr(ema_loss, name),
                           getattr(the_loss(runner), name)), name
    assert int(ema_loss.num_updates) == 2
    # the EMA weights did move away from the trained ones
    ema_fc = ema_hook(runner).ema_model.module.head.fc.weight
    assert not torch.equal(ema_fc, runner.model.head.fc.weight)

    # resume from the first epoch's checkpoint (with its EMA state)
    ckpt = torch.load(tmp_path / 'straight' / 'epoch_1.pth',
                      weights_only=False)
    assert 'ema_state_dict' in ckpt
    # EMAHook saves the EMA copy as the checkpoint's state_dict: its loss
    # holds the state right after the epoch's update (as the trained loss
    # does), not the one before it, so a load_from counts nothing twice
    saved = ckpt['state_dict']
    prefix = 'head.loss_module.'
    assert int(saved[prefix + 'num_updates']) == 1
    assert not saved[prefix + 'density'].any()
    torch.testing.assert_close(
        class_counts(saved[prefix + 'ref_density'],
                     saved[prefix + 'ref_edges']),
        torch.tensor(COUNTS, dtype=torch.float64), rtol=1e-6, atol=1e-4)
    resumed = ema_run(tmp_path / 'resumed',
                      resume_from=str(tmp_path / 'straight' / 'epoch_1.pth'))
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    ema_a = ema_hook(runner).ema_model.state_dict()
    ema_b = ema_hook(resumed).ema_model.state_dict()
    for key, value in ema_a.items():
        assert torch.equal(value, ema_b[key]), key


# ----------------------------------------------------------------------
# validation inside an epoch, and a test run
# ----------------------------------------------------------------------
class EvalGuard(Hook):
    """The loss state around every validation and test run."""
    priority = 'LOW'

    def __init__(self):
        self.pairs = []

    def before_val(self, runner):
        self._before = state(runner)

    def after_val(self, runner):
        self.pairs.append(('val', self._before, state(runner)))

    def before_test(self, runner):
        self._before = state(runner)

    def after_test(self, runner):
        self.pairs.append(('test', self._before, state(runner)))


def iter_run(work_dir, val=False):
    guard = EvalGuard()
    extra = {}
    if val:
        evaluation = dict(dataloader=loader(16, False, TinyLT(seed=1)),
                          evaluator=dict(type='Accuracy', topk=(1, )))
        extra = dict(
            val_dataloader=evaluation['dataloader'], val_cfg=dict(),
            val_evaluator=evaluation['evaluator'],
            test_dataloader=evaluation['dataloader'], test_cfg=dict(),
            test_evaluator=evaluation['evaluator'])
    runner = Runner(**runner_cfg(
        work_dir,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=22,
                       val_interval=4),
        custom_hooks=[dict(type='mmghm.AURAHook', by_epoch=False,
                           interval=11), guard],
        **extra))
    runner.train()
    if val:
        runner.test()
    return runner, guard


def test_validation_inside_an_epoch_and_testing_leave_the_state_alone(
        tmp_path):
    plain, _ = iter_run(tmp_path / 'plain')
    runner, guard = iter_run(tmp_path / 'val', val=True)
    kinds = [kind for kind, _, _ in guard.pairs]
    # validation every 4 iterations of an 11-iteration epoch (and after
    # the last), then a test
    assert kinds == ['val'] * 6 + ['test']
    for kind, before, after in guard.pairs:
        for name in STATE:
            assert torch.equal(before[name], after[name]), (kind, name)
    # and the training it interleaves with is the plain one, exactly
    for name, value in state(runner).items():
        assert torch.equal(value, state(plain)[name]), name
    for key, value in weights(runner).items():
        assert torch.equal(value, weights(plain)[key]), key
    assert int(the_loss(runner).num_updates) == 2


# ----------------------------------------------------------------------
# a frozen backbone
# ----------------------------------------------------------------------
class InitialWeights(Hook):

    def before_train(self, runner):
        self.weights = weights(runner)


def test_frozen_backbone_trains_the_head_and_the_histograms(tmp_path):
    initial = InitialWeights()
    probe = EpochStates()
    runner = train(
        tmp_path, hooks=[initial, probe],
        model=model_cfg(frozen_stages=1),  # stem and layer1 frozen
        optim=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
                   paramwise_cfg=dict(custom_keys={
                       'backbone.layer2': dict(lr_mult=0.0)})))
    after = weights(runner)
    for key, value in initial.weights.items():
        if not key.startswith('backbone') or 'running_' in key or \
                'num_batches' in key:
            continue
        assert torch.equal(value, after[key]), key  # frozen
    assert not torch.equal(initial.weights['head.fc.weight'],
                           after['head.fc.weight'])
    expected = torch.tensor(COUNTS, dtype=torch.float64)
    for s in probe.after:
        torch.testing.assert_close(
            class_counts(s['ref_density'], s['ref_edges']), expected,
            rtol=1e-6, atol=1e-4)
        assert torch.isfinite(s['ref_density']).all()
    assert int(the_loss(runner).num_updates) == 2
