"""AURAHook inside a real MMEngine Runner: epoch- and iteration-based loops,
ordering before the checkpoint, and an exact resume."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmghm.engine.hooks import AURAHook, find_ghm_cwap_losses
from mmghm.models.losses import GHMCWAPLoss

C = 4


class ToyData(Dataset):
    """Fixed, long-tailed Gaussian blobs (class c has 32 / 2^c points)."""

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        labels = torch.cat([torch.full((32 >> c, ), c) for c in range(C)])
        centres = torch.randn(C, 6, generator=gen) * 2
        self.x = centres[labels] + torch.randn(len(labels), 6, generator=gen)
        self.y = labels

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], label=self.y[i])


class ToyModel(BaseModel):

    def __init__(self, **loss_kwargs):
        super().__init__()
        self.fc = nn.Linear(6, C)
        self.loss = GHMCWAPLoss(C, num_bins=5, **loss_kwargs)

    def forward(self, inputs, label=None, mode='tensor'):
        logits = self.fc(torch.stack(inputs) if isinstance(inputs, list)
                         else inputs)
        if mode == 'loss':
            return dict(loss=self.loss(logits, label))
        if mode == 'predict':
            return logits
        return logits


class _SnapshotHook(Hook):
    """Snapshots the loss state before training and after every step.

    Priority LOW: after AURAHook (NORMAL), before CheckpointHook (VERY_LOW).
    """
    priority = 'LOW'

    def __init__(self, by_epoch=True):
        self.by_epoch = by_epoch
        self.before = None
        self.states = []

    @staticmethod
    def _state(runner):
        loss = find_ghm_cwap_losses(runner.model)[0]
        return copy.deepcopy(loss.state_dict())

    def before_train(self, runner):
        self.before = self._state(runner)

    def after_train_epoch(self, runner):
        if self.by_epoch:
            self.states.append(self._state(runner))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if not self.by_epoch:
            self.states.append(self._state(runner))


def make_runner(work_dir, by_epoch=True, max_steps=3, interval=1,
                resume=False, load_from=None, snapshot=None):
    if by_epoch:
        train_cfg = dict(by_epoch=True, max_epochs=max_steps)
    else:
        train_cfg = dict(by_epoch=False, max_iters=max_steps)
    hooks = [dict(type='mmghm.AURAHook', by_epoch=by_epoch,
                  interval=interval)]
    if snapshot is not None:
        hooks.append(snapshot)
    torch.manual_seed(0)  # the same initial weights in every run
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
            batch_size=12,
            collate_fn=dict(type='default_collate')),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=by_epoch),
            logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=hooks,
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        default_scope='mmghm',
        experiment_name=f'exp_{by_epoch}_{resume}_{max_steps}')


def test_epoch_based_updates_each_epoch_before_checkpoint(tmp_path):
    snapshot = _SnapshotHook(by_epoch=True)
    runner = make_runner(tmp_path, by_epoch=True, max_steps=3,
                         snapshot=snapshot)
    runner.train()
    loss = find_ghm_cwap_losses(runner.model)[0]
    assert int(loss.num_updates) == 3
    # after each epoch's update the running density is empty and the
    # reference holds the epoch's examples: 60 = 32 + 16 + 8 + 4. Each
    # example added 1 / (N d) to its bin (d: the width of its bin in the
    # edges in force during that epoch), so sum_i v_i * N * d_i counts them.
    edges_in_force = snapshot.before['edges']
    assert len(snapshot.states) == 3
    for epoch, state in enumerate(snapshot.states, start=1):
        assert int(state['num_updates']) == epoch
        assert state['density'].sum() == 0
        examples = (state['ref_density'] * 5 *
                    edges_in_force.diff(dim=1)).sum(dim=1)
        torch.testing.assert_close(examples,
                                   torch.tensor([32., 16., 8., 4.]))
        if epoch > 1:  # the AURA bins of the previous update, not uniform
            assert not torch.allclose(edges_in_force,
                                      snapshot.before['edges'])
        edges_in_force = state['edges']
    # the checkpoint holds the updated state (AURAHook ran before it)
    ckpt = torch.load(tmp_path / 'epoch_3.pth', map_location='cpu')
    for name in ('edges', 'ref_density', 'density', 'num_updates'):
        assert torch.equal(ckpt['state_dict'][f'loss.{name}'],
                           snapshot.states[-1][name]), name
    widths = ckpt['state_dict']['loss.edges'].diff(dim=1)
    assert (widths > 0).all()
    # the head class must have been re-binned (AURA) after 3 epochs
    assert not torch.allclose(widths[0], torch.full((5, ), 0.2))


def test_ref_density_counts_one_epoch(tmp_path):
    snapshot = _SnapshotHook(by_epoch=True)
    runner = make_runner(tmp_path, by_epoch=True, max_steps=1,
                         snapshot=snapshot)
    runner.train()
    ref = snapshot.states[0]['ref_density']
    # uniform bins during the first epoch: density = plain counts
    torch.testing.assert_close(ref.sum(1), torch.tensor([32., 16., 8., 4.]))


def test_iteration_based_interval(tmp_path):
    snapshot = _SnapshotHook(by_epoch=False)
    runner = make_runner(tmp_path, by_epoch=False, max_steps=7, interval=3,
                         snapshot=snapshot)
    runner.train()
    updates = [int(s['num_updates']) for s in snapshot.states]
    assert updates == [0, 0, 1, 1, 1, 2, 2]
    # right after an update the running density is empty
    assert snapshot.states[2]['density'].sum() == 0
    assert snapshot.states[3]['density'].sum() > 0


def test_resume_gives_identical_state_and_next_loss(tmp_path):
    full_dir, part_dir = tmp_path / 'full', tmp_path / 'part'
    full = make_runner(full_dir, max_steps=3)
    full.train()
    part = make_runner(part_dir, max_steps=2)
    part.train()
    snapshot = _SnapshotHook()
    resumed = make_runner(part_dir, max_steps=3, resume=True,
                          load_from=str(part_dir / 'epoch_2.pth'),
                          snapshot=snapshot)
    resumed.train()
    # the state the resumed run starts from is the checkpoint's
    ckpt = torch.load(part_dir / 'epoch_2.pth', map_location='cpu')
    for name in ('edges', 'ref_density', 'density', 'num_updates'):
        assert torch.equal(snapshot.before[name],
                           ckpt['state_dict'][f'loss.{name}']), name
    # a loss restored from it gives the identical next loss value
    restored = GHMCWAPLoss(C, num_bins=5)
    restored.load_state_dict(
        {k[len('loss.'):]: v for k, v in ckpt['state_dict'].items()
         if k.startswith('loss.')})
    original = find_ghm_cwap_losses(part.model)[0]
    data = ToyData()
    logits = torch.randn(10, C)
    assert torch.equal(restored(logits, data.y[:10]),
                       original(logits, data.y[:10]))
    # and the resumed run ends where the uninterrupted one ends
    final, expected = (find_ghm_cwap_losses(r.model)[0]
                       for r in (resumed, full))
    for name in ('edges', 'ref_density', 'num_updates'):
        torch.testing.assert_close(getattr(final, name),
                                   getattr(expected, name))
    torch.testing.assert_close(resumed.model.fc.weight,
                               full.model.fc.weight)


def test_bad_interval():
    with pytest.raises(ValueError, match='interval'):
        AURAHook(interval=0)
