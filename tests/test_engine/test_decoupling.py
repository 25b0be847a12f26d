"""The decoupled second stage changes only the classifier.

Short stage-2 trainings (in-process Runner, the digits cRT config of
configs/decoupling, 64 class-balanced draws an epoch) from a stage-1
checkpoint whose BatchNorm statistics are far from their initial values:

* cRT: every backbone parameter and BN buffer is bit-identical to the
  checkpoint's, the classifier is re-initialised and trained; without
  FreezeRepresentationHook the same training changes the backbone (so the
  comparison can fail);
* LWS: only the per-class scales change;
* resume: stage 2 with the class-balanced sampler resumed after its first
  epoch ends bit-for-bit where the uninterrupted run ends (the sampler's
  draws follow (seed, epoch), and a resumed stage 2 keeps its head).
"""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmghm  # noqa: F401  (registers mmghm's modules)

ROOT = Path(__file__).resolve().parents[2]
CRT = ROOT / 'configs/decoupling/softmax-crt_resnet20_demo_digits-lt.py'
REPRESENTATION = ('backbone.', 'neck.')


def stage2_cfg(work_dir, load_from, max_epochs=1, hooks=True, lws=False):
    cfg = Config.fromfile(str(CRT))
    cfg.work_dir = str(work_dir)
    cfg.load_from = str(load_from)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.train_cfg.val_interval = 100
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0)]
    cfg.train_dataloader.sampler.epoch_length = 64  # 2 batches of 32
    cfg.default_hooks.logger.interval = 1
    if lws:
        cfg.model.head.type = 'mmghm.LWSLinearClsHead'
        for hook in cfg.custom_hooks:
            if hook.type == 'mmghm.FreezeRepresentationHook':
                hook.reinit_head = False
    if not hooks:
        cfg.custom_hooks = [h for h in cfg.custom_hooks
                            if h.type != 'mmghm.FreezeRepresentationHook']
    return cfg


@pytest.fixture(scope='module')
def stage1(tmp_path_factory):
    """A stage-1 checkpoint: the model with BN statistics and a classifier
    unlike fresh ones (running stats random, classifier weights 1000)."""
    cfg = Config.fromfile(str(CRT))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.data_preprocessor = dict(type='ClsDataPreprocessor',
                                       **cfg.data_preprocessor)
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    model.init_weights()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features,
                                                 generator=gen))
                m.running_var.copy_(torch.rand(m.num_features,
                                               generator=gen) + 0.5)
                m.num_batches_tracked.fill_(300)
        model.head.fc.weight.fill_(1000.0)
    path = tmp_path_factory.mktemp('stage1') / 'stage1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path, {k: v.clone() for k, v in model.state_dict().items()}


def train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def final_state(work_dir, epoch):
    ckpt = torch.load(Path(work_dir) / f'epoch_{epoch}.pth',
                      map_location='cpu', weights_only=False)
    return ckpt


def changed(before, after):
    return sorted(k for k in before if not torch.equal(before[k], after[k]))


def test_crt_changes_only_the_classifier(stage1, tmp_path):
    path, before = stage1
    after = final_state(*[train(stage2_cfg(tmp_path, path)).work_dir, 1])
    after = after['state_dict']
    assert changed(before, after) == ['head.fc.bias', 'head.fc.weight']
    representation = [k for k in before if k.startswith(REPRESENTATION)]
    assert any('running_mean' in k for k in representation)
    assert any('num_batches_tracked' in k for k in representation)
    # re-initialised (std 0.01) and trained 2 steps: far from the 1000s
    assert after["head.fc.weight"].abs().max() < 100.0


def test_without_the_hook_stage2_changes_the_backbone(stage1, tmp_path):
    """What the hook prevents: weights and BN statistics move."""
    path, before = stage1
    runner = train(stage2_cfg(tmp_path, path, hooks=False))
    after = final_state(runner.work_dir, 1)['state_dict']
    moved = changed(before, after)
    assert 'backbone.conv1.weight' in moved
    assert 'backbone.bn1.running_mean' in moved or \
        'backbone.norm1.running_mean' in moved


def test_lws_learns_only_the_scales(stage1, tmp_path):
    path, before = stage1
    runner = train(stage2_cfg(tmp_path, path, lws=True))
    after = final_state(runner.work_dir, 1)['state_dict']
    assert changed(before, after) == []  # fc and representation kept
    assert set(after) - set(before) == {'head.scales'}
    assert not torch.equal(after['head.scales'], torch.ones(10))


def test_stage2_without_a_checkpoint_is_refused():
    from types import SimpleNamespace

    from mmghm.engine.hooks import FreezeRepresentationHook
    runner = SimpleNamespace(iter=0, _load_from=None)
    with pytest.raises(ValueError, match='load_from'):
        FreezeRepresentationHook().before_train(runner)
    with pytest.raises(ValueError, match='modules must be'):
        FreezeRepresentationHook(modules='backbone')


def test_resumed_stage2_equals_uninterrupted(stage1, tmp_path):
    path, _ = stage1
    straight = train(stage2_cfg(tmp_path / 'straight', path, max_epochs=2))
    first = train(stage2_cfg(tmp_path / 'first', path, max_epochs=1))
    cfg = stage2_cfg(tmp_path / 'resumed', path, max_epochs=2)
    cfg.load_from = str(Path(first.work_dir) / 'epoch_1.pth')
    cfg.resume = True
    resumed = train(cfg)
    a = final_state(straight.work_dir, 2)
    b = final_state(resumed.work_dir, 2)
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert changed(a['state_dict'], b['state_dict']) == []
    for sa, sb in zip(a['optimizer']['state'].values(),
                      b['optimizer']['state'].values()):
        assert torch.equal(sa['momentum_buffer'], sb['momentum_buffer'])
    # the epochs drew different class-balanced batches
    sampler = straight.train_dataloader.sampler
    assert type(sampler).__name__ == 'ClassBalancedSampler'
    assert not torch.equal(sampler.draw(0), sampler.draw(1))
