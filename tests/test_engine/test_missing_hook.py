"""A stateful loss that trains without the hook it needs says so, once, at
its first training step (issue 21, part 2): GHM-CWAP without ``AURAHook``
(and, with a deferred start, without ``LossEpochHook``), LDAM-DRW without
``LossEpochHook``. The hooks claim the losses they drive in
``before_train``; the class-count losses raise instead (tested with them).
"""
import glob

import pytest
import torch
from mmengine.runner import Runner

import mmghm.models.losses.base as base
from mmghm.models.losses import GHMCWAPLoss, LDAMLoss

from test_loss_training_features import model_cfg, runner_cfg  # noqa: I100

AURA_ENTRY = "Add dict(type='mmghm.AURAHook')"
EPOCH_ENTRY = "dict(type='mmghm.LossEpochHook')"


@pytest.fixture
def messages(monkeypatch):
    logged = []
    monkeypatch.setattr(base, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    return logged


def batch(C=10, B=32):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(B, C, generator=gen), torch.arange(B) % C


def test_unclaimed_loss_warns_once_at_its_first_training_step(messages):
    loss = GHMCWAPLoss(10)
    z, y = batch()
    loss.eval()
    loss(z, y)  # evaluation: nothing is missing yet
    loss.train()
    with torch.no_grad():
        loss(z, y)
    assert messages == []
    loss(z.requires_grad_(), y)
    loss(z, y)
    assert len(messages) == 1
    msg, kw = messages[0]
    assert kw == dict(logger='current', level=30)
    assert msg.startswith('GHMCWAPLoss is training without mmghm.AURAHook')
    assert AURA_ENTRY + ' (by_epoch=False, interval=K in iteration-based ' \
        "loops) to the config's custom_hooks" in msg
    assert "loss.claim('mmghm.AURAHook')" in msg


def test_claimed_loss_does_not_warn(messages):
    z, y = batch()
    loss = GHMCWAPLoss(10)
    loss.claim('mmghm.AURAHook')
    loss(z, y)
    # the deferred start also needs the epoch hook; set_epoch claims it
    deferred = GHMCWAPLoss(10, start_epoch=2)
    assert deferred.required_hooks == ('mmghm.AURAHook',
                                       'mmghm.LossEpochHook')
    deferred.claim('mmghm.AURAHook')
    deferred.set_epoch(0)
    deferred(z, y)
    assert messages == []
    with pytest.raises(TypeError, match='hook type name'):
        loss.claim(object())


def test_deferred_start_without_either_hook_names_both(messages):
    z, y = batch()
    GHMCWAPLoss(10, start_epoch=2)(z, y)
    (msg, _), = messages
    assert 'without mmghm.AURAHook' in msg
    assert 'without mmghm.LossEpochHook' in msg
    assert 'start_epoch=2' in msg and EPOCH_ENTRY in msg


def test_ldam_drw_without_the_epoch_hook_warns_and_plain_ldam_does_not(
        messages):
    z, y = batch()
    counts = [50 - 4 * c for c in range(10)]
    LDAMLoss(10, counts, drw_start_epoch=None)(z, y)
    assert messages == []
    LDAMLoss(10, counts)(z, y)
    (msg, _), = messages
    assert msg.startswith('LDAMLoss is training without '
                          'mmghm.LossEpochHook')


def test_compiled_training_step_warns_once_without_recompiling(messages):
    # A backend of its own counts the graphs compiled for this loss only;
    # dynamo's global counters keep what earlier tests compiled.
    from torch._dynamo.testing import CompileCounter
    torch._dynamo.reset()
    counter = CompileCounter()
    loss = GHMCWAPLoss(10)
    compiled = torch.compile(loss, fullgraph=True, backend=counter)
    z, y = batch()
    for _ in range(3):
        compiled(z.clone().requires_grad_(), y)
    assert len(messages) == 1 and AURA_ENTRY in messages[0][0]
    assert counter.frame_count == 1  # the check added no guard that fails
    torch._dynamo.reset()


# ----------------------------------------------------------------------
# an MMPretrain config, trained by the Runner
# ----------------------------------------------------------------------
def run(work_dir, hooks, **loss):
    cfg = runner_cfg(work_dir, epochs=1, model=model_cfg(**loss))
    cfg['custom_hooks'] = hooks
    # Its own logger: two Runners started within one second would share
    # MMEngine's logger instance (named by the timestamp) and its file.
    cfg['experiment_name'] = f'{work_dir.parent.name}-{work_dir.name}'
    runner = Runner(**cfg)
    runner.train()
    (log, ) = glob.glob(f'{runner.log_dir}/*.log')
    with open(log, encoding='utf-8') as f:
        return runner, f.read()


def test_config_without_aura_hook_logs_the_entry_to_add(tmp_path):
    runner, log = run(tmp_path / 'without', [])
    assert log.count('GHMCWAPLoss is training without mmghm.AURAHook') == 1
    assert AURA_ENTRY in log
    assert int(runner.model.head.loss_module.num_updates) == 0
    runner, log = run(tmp_path / 'with', [dict(type='mmghm.AURAHook')])
    assert 'is training without' not in log
    assert int(runner.model.head.loss_module.num_updates) == 1


def test_config_with_deferred_start_names_the_missing_epoch_hook(tmp_path):
    _, log = run(tmp_path / 'aura-only', [dict(type='mmghm.AURAHook')],
                 start_epoch=1)
    assert 'without mmghm.LossEpochHook' in log
    assert 'without mmghm.AURAHook' not in log
    _, log = run(tmp_path / 'both', [
        dict(type='mmghm.AURAHook'), dict(type='mmghm.LossEpochHook')
    ], start_epoch=1)
    assert 'is training without' not in log
