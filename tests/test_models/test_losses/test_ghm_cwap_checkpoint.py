"""Loading GHM-CWAP state: a checkpoint of a loss configured differently is
refused with an error naming the field and both values (issue 11), through
``load_state_dict`` and through MMEngine's ``load_from`` / ``--resume``
before any training step; checkpoints of older versions still load."""
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmghm.models.losses import GHMCWAPLoss

C, N = 5, 6


def trained(**kwargs):
    kwargs.setdefault('num_bins', N)
    loss = GHMCWAPLoss(kwargs.pop('num_classes', C), **kwargs)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        for _ in range(2):
            loss(torch.randn(40, loss.num_classes, generator=gen) * 3,
                 torch.randint(0, loss.num_classes, (40, ), generator=gen))
        loss.update()
    return loss


@pytest.mark.parametrize('field, saved, now', [
    ('num_classes', 5, 6),
    ('num_bins', 6, 4),
    ('alpha', 0.9, 0.5),
    ('gamma', 0.8, 0.4),
    ('intra', True, False),
    ('intra_weight', 'tempered', 'paper'),
    ('inter', True, False),
    ('adaptive', True, False),
    ('background_index', None, 4),
])
def test_a_differently_configured_loss_refuses_the_state(field, saved, now):
    source = trained(**{field: saved})
    target = GHMCWAPLoss(**dict(dict(num_classes=C, num_bins=N),
                                **{field: now}))
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError) as info:
        target.load_state_dict(source.state_dict())
    assert f'{field}: checkpoint {saved!r}, this loss {now!r}' in \
        str(info.value)
    # refused before any buffer was touched
    for k, v in target.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_the_same_configuration_loads_exactly():
    source = trained()
    target = GHMCWAPLoss(C, num_bins=N)
    result = target.load_state_dict(source.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    for name in ('edges', 'density', 'ref_density', 'ref_edges',
                 'num_updates', 'config'):
        assert torch.equal(getattr(target, name), getattr(source, name))
    logits = torch.randn(8, C)
    labels = torch.arange(8) % C
    assert torch.equal(target(logits, labels), source(logits, labels))


def old_format(state):
    """A checkpoint of the previous version: no config, no ref_edges, the
    density in float32."""
    state = dict(state)
    del state['config'], state['ref_edges']
    state['density'] = state['density'].float()
    return state


@pytest.mark.parametrize('adaptive', [True, False])
def test_old_checkpoints_load(adaptive):
    source = trained(adaptive=adaptive)
    target = GHMCWAPLoss(C, num_bins=N, adaptive=adaptive)
    result = target.load_state_dict(old_format(source.state_dict()))
    assert not result.missing_keys and not result.unexpected_keys
    assert target.density.dtype == torch.float64
    torch.testing.assert_close(target.density, source.density)
    assert torch.equal(target.edges, source.edges)
    if adaptive:
        # two AURA updates: the bins of the reference are not known
        assert torch.isnan(target.ref_edges).all()
    else:  # URA never moves the bins
        assert torch.equal(target.ref_edges, source.ref_edges)
    logits = torch.randn(8, C)
    labels = torch.arange(8) % C
    torch.testing.assert_close(target(logits, labels),
                               source(logits, labels))


def test_old_checkpoint_of_another_shape_names_the_buffer():
    source = trained(num_bins=8)
    target = GHMCWAPLoss(C, num_bins=N)
    with pytest.raises(ValueError, match=r"'edges' has shape \(5, 9\) but "
                       r'this loss has \(5, 7\) '
                       r'\(num_classes=5, num_bins=6\)'):
        target.load_state_dict(old_format(source.state_dict()))


# ----------------------------------------------------------------------
# through MMEngine's Runner
# ----------------------------------------------------------------------
class Blobs(Dataset):

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.y = torch.arange(40) % C
        self.x = torch.randn(C, 6, generator=gen)[self.y] + torch.randn(
            40, 6, generator=gen)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], label=self.y[i])


class Net(BaseModel):

    def __init__(self, **loss_kwargs):
        super().__init__()
        self.fc = nn.Linear(6, C)
        self.loss = GHMCWAPLoss(C, **loss_kwargs)
        self.steps = 0

    def forward(self, inputs, label=None, mode='tensor'):
        logits = self.fc(inputs)
        if mode == 'loss':
            self.steps += 1
            return dict(loss=self.loss(logits, label))
        return logits


def runner(work_dir, name, resume=False, load_from=None, **loss_kwargs):
    return Runner(
        model=Net(**loss_kwargs),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=dict(
            dataset=Blobs(), batch_size=10,
            sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        custom_hooks=[dict(type='mmghm.AURAHook')],
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('ghm_ckpt')
    first = runner(work_dir, 'first')
    first.train()
    return str(work_dir / 'epoch_1.pth')


@pytest.mark.parametrize('resume', [True, False], ids=['resume', 'load_from'])
@pytest.mark.parametrize('change, message', [
    (dict(num_bins=20), 'num_bins: checkpoint 30, this loss 20'),
    (dict(alpha=0.5), 'alpha: checkpoint 0.9, this loss 0.5'),
    (dict(adaptive=False), 'adaptive: checkpoint True, this loss False'),
])
def test_runner_refuses_before_any_step(tmp_path, checkpoint, resume, change,
                                        message):
    second = runner(tmp_path, 'second', resume=resume, load_from=checkpoint,
                    **change)
    with pytest.raises(ValueError, match='loss configured differently') as e:
        second.train()
    assert message in str(e.value)
    assert 'GHMCWAPLoss at loss' in str(e.value)
    assert second.model.steps == 0
    assert int(second.model.loss.num_updates) == 0


def test_runner_resumes_the_same_configuration(tmp_path, checkpoint):
    second = runner(tmp_path, 'same', resume=True, load_from=checkpoint)
    second.train()
    assert int(second.model.loss.num_updates) == 2
    assert second.model.steps == 4  # epoch 2 only: 40 / 10 batches
