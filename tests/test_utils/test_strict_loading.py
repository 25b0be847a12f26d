"""A checkpoint of another model is refused, not scored or resumed as if it
fitted (``default_hooks.strict_load``, mmghm.StrictLoadHook); ``partial``
(``--partial-load``) loads the matching part on purpose.

The attack of issue 20: a depth-32 config scoring a depth-20 checkpoint
(MMEngine loads with ``strict=False`` and only logs "missing keys"). The
checkpoints are built here from the digits demo config (10 classes).
"""
import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmghm.engine.hooks import CheckpointMismatchError
from mmghm.registry import DATASETS, MODELS
from mmghm.utils.launch import strict_loading

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'


def demo_config(work_dir: Path, depth: int = 20, num_classes: int = 10,
                partial: bool = False) -> Config:
    cfg = Config.fromfile(str(CONFIG))
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.depth = depth
    cfg.model.head.num_classes = num_classes
    cfg.model.head.loss.num_classes = num_classes
    cfg.train_dataloader.num_workers = 0
    cfg.test_dataloader.num_workers = 0
    cfg.val_dataloader.num_workers = 0
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].persistent_workers = False
    cfg.default_hooks.pop('summary')
    cfg.visualizer.vis_backends = []
    strict_loading(cfg, partial=partial)
    return cfg


def save_model_checkpoint(cfg: Config, path: Path) -> dict:
    """A checkpoint (MMEngine's layout) of a freshly built model of
    ``cfg``; returns its state dict."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(cfg.model))
    state = model.state_dict()
    torch.save({'meta': {'epoch': 1, 'iter': 9}, 'state_dict': state},
               str(path))
    return state


@pytest.fixture(scope='module')
def depth20(tmp_path_factory):
    folder = tmp_path_factory.mktemp('ckpt')
    path = folder / 'depth20.pth'
    state = save_model_checkpoint(demo_config(folder), path)
    return path, state


def runner_of(cfg: Config) -> Runner:
    return Runner.from_cfg(cfg)


def test_depth32_config_refuses_depth20_checkpoint(depth20, tmp_path):
    path, _ = depth20
    cfg = demo_config(tmp_path, depth=32)
    cfg.load_from = str(path)
    runner = runner_of(cfg)
    with pytest.raises(CheckpointMismatchError) as info:
        runner.load_or_resume()  # what runner.test() does first
    message = str(info.value)
    assert message.startswith(f'{path} does not fit the model of {CONFIG}')
    # ResNet-32 has 5 blocks a stage, ResNet-20 3: 2 x 3 blocks missing
    # (conv1, bn1, conv2, bn2: 2 + 5 tensors each, num_batches_tracked
    # left out) = 6 x 10 = 60 keys
    assert '60 model keys missing from the checkpoint (' \
        'backbone.layer1.3.conv1.weight, backbone.layer1.3.bn1.weight, ' \
        in message
    assert '(55 more)' in message and 'unexpected' not in message
    assert '--partial-load' in message


def test_resume_of_another_model_is_refused_before_training(
        depth20, tmp_path):
    path, _ = depth20
    cfg = demo_config(tmp_path, depth=32)
    cfg.resume, cfg.load_from = True, str(path)
    runner = runner_of(cfg)
    with pytest.raises(CheckpointMismatchError, match='60 model keys '
                       'missing'):
        runner.train()
    assert not list(tmp_path.glob('epoch_*.pth'))  # no epoch was trained


def test_a_shape_mismatch_is_refused_before_anything_is_loaded(
        tmp_path):
    path = tmp_path / 'eight_classes.pth'
    save_model_checkpoint(demo_config(tmp_path, num_classes=8), path)
    cfg = demo_config(tmp_path)
    cfg.load_from = str(path)
    runner = runner_of(cfg)
    before = runner.model.head.fc.weight.detach().clone()
    with pytest.raises(CheckpointMismatchError) as info:
        runner.load_or_resume()
    message = str(info.value)
    # the loss's 4 histogram buffers and the classifier's 2 tensors
    assert '6 tensors of another shape (head.loss_module.edges: checkpoint ' \
        '(8, 31), model (10, 31), ' in message
    assert 'head.fc.weight: checkpoint (8, 64), model (10, 64), ... ' \
        '(1 more))' in message
    torch.testing.assert_close(runner.model.head.fc.weight, before)


def test_the_matching_model_loads_exactly(depth20, tmp_path):
    path, state = depth20
    cfg = demo_config(tmp_path)
    cfg.load_from = str(path)
    runner = runner_of(cfg)
    runner.load_or_resume()
    loaded = runner.model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)


def test_an_older_ghm_cwap_checkpoint_layout_is_not_refused(
        depth20, tmp_path):
    """GHMCWAPLoss accepts checkpoints saved before its ``config`` and
    ``ref_edges`` buffers existed; the check takes the keys the modules
    report, so that stays allowed."""
    path, state = depth20
    old = {k: v for k, v in state.items()
           if k not in ('head.loss_module.config',
                        'head.loss_module.ref_edges')}
    assert len(old) == len(state) - 2
    old_path = tmp_path / 'old.pth'
    torch.save({'meta': {'epoch': 1, 'iter': 9}, 'state_dict': old},
               str(old_path))
    cfg = demo_config(tmp_path)
    cfg.load_from = str(old_path)
    runner_of(cfg).load_or_resume()


def _cross_entropy_checkpoint(tmp_path: Path) -> Tuple[Path, dict]:
    cfg = demo_config(tmp_path)
    cfg.model.head.loss = dict(type='CrossEntropyLoss')
    path = tmp_path / 'ce.pth'
    return path, save_model_checkpoint(cfg, path)


def _logit_adjusted_config(tmp_path: Path, ckpt: Path) -> Config:
    cfg = demo_config(tmp_path)
    cfg.model.head.type = 'mmghm.LogitAdjustedLinearClsHead'
    cfg.model.head.tau = 1.0
    cfg.model.head.loss = dict(type='CrossEntropyLoss')
    cfg.load_from = str(ckpt)
    return cfg


def test_a_cross_entropy_checkpoint_loads_into_a_logit_adjusted_head(
        tmp_path):
    """The documented post-hoc logit adjustment (configs/logit_adjustment:
    a softmax_* checkpoint tested with the softmax-la config): the head's
    class counts are data, not weights, so a checkpoint without them is
    not refused; ClassCountsHook fills them from the training set before
    the test."""
    path, state = _cross_entropy_checkpoint(tmp_path)
    assert not any('class_counts' in k or '_counts_set' in k for k in state)
    runner = runner_of(_logit_adjusted_config(tmp_path, path))
    runner.load_or_resume()
    head = runner.model.head
    torch.testing.assert_close(head.fc.weight, state['head.fc.weight'],
                               rtol=0, atol=0)
    assert not head.has_counts
    runner.call_hook('before_test')
    train = DATASETS.build(copy.deepcopy(runner.cfg.train_dataloader.dataset))
    expected = np.bincount(np.asarray(train.get_gt_labels()), minlength=10)
    assert head.has_counts
    assert head.class_counts.tolist() == expected.tolist()


def test_a_checkpoint_with_half_of_the_class_counts_is_refused(tmp_path):
    path, state = _cross_entropy_checkpoint(tmp_path)
    state['head.class_counts'] = torch.ones(10)  # but no head._counts_set
    torch.save({'meta': {'epoch': 1, 'iter': 9}, 'state_dict': state},
               str(path))
    runner = runner_of(_logit_adjusted_config(tmp_path, path))
    with pytest.raises(CheckpointMismatchError,
                       match=r'1 model keys missing from the checkpoint '
                             r'\(head\._counts_set\)'):
        runner.load_or_resume()


def test_partial_load_loads_the_matching_part(depth20, tmp_path):
    path, state = depth20
    cfg = demo_config(tmp_path, depth=32, partial=True)
    assert cfg.default_hooks.strict_load.partial is True
    cfg.load_from = str(path)
    runner = runner_of(cfg)
    fresh = runner.model.backbone.layer1[4].conv1.weight.detach().clone()
    runner.load_or_resume()
    model = runner.model
    torch.testing.assert_close(model.backbone.conv1.weight,
                               state['backbone.conv1.weight'])
    torch.testing.assert_close(model.backbone.layer3[2].conv2.weight,
                               state['backbone.layer3.2.conv2.weight'])
    # the blocks the checkpoint lacks keep their initialisation
    torch.testing.assert_close(model.backbone.layer1[4].conv1.weight, fresh)


def test_ignore_prefixes_allows_another_head_only(depth20, tmp_path):
    """A decoupled stage 2 (configs/decoupling) loads a stage-1
    checkpoint into another head: differences under ``head.`` are
    allowed, the backbone must still match."""
    path, state = depth20
    cfg = demo_config(tmp_path)
    cfg.model.head.type = 'mmghm.LWSLinearClsHead'  # + head.scales
    cfg.model.head.loss = dict(type='CrossEntropyLoss')  # - loss state
    cfg.default_hooks.strict_load.ignore_prefixes = ('head.', )
    cfg.load_from = str(path)
    runner = runner_of(cfg)
    runner.load_or_resume()
    torch.testing.assert_close(runner.model.head.fc.weight,
                               state['head.fc.weight'])
    cfg = demo_config(tmp_path, depth=32)
    cfg.default_hooks.strict_load.ignore_prefixes = ('head.', )
    cfg.load_from = str(path)
    with pytest.raises(CheckpointMismatchError,
                       match='60 model keys missing'):
        runner_of(cfg).load_or_resume()


def test_a_config_may_ask_for_partial_loading(tmp_path):
    # None (MMEngine refuses None for hooks it does not know): MMEngine's
    # own behaviour, partial loading
    cfg = Config(dict(default_hooks=dict(strict_load=None)))
    strict_loading(cfg)
    assert cfg.default_hooks.strict_load == dict(
        type='mmghm.StrictLoadHook', partial=True)
    cfg = Config(dict())  # a config without mmghm's runtime
    strict_loading(cfg)
    assert cfg.default_hooks.strict_load == dict(type='mmghm.StrictLoadHook')


@pytest.mark.subprocess
def test_test_tool_exits_non_zero_naming_keys_checkpoint_and_config(
        depth20):
    path, _ = depth20
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', str(CONFIG), str(path),
         '--work-dir', str(path.parent / 'test'), '--cfg-options',
         'model.backbone.depth=32'],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode != 0
    assert 'CheckpointMismatchError' in proc.stderr
    assert f'{path} does not fit the model of {CONFIG}' in proc.stderr
    assert '60 model keys missing from the checkpoint (' \
        'backbone.layer1.3.conv1.weight' in proc.stderr
    assert 'accuracy/top1' not in proc.stdout + proc.stderr  # not scored
