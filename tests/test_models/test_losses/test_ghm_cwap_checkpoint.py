"""Loading GHM-CWAP state: a checkpoint of a loss configured differently is
refused with an error naming the field and both values, through
``load_state_dict`` and through MMEngine's ``load_from`` / ``--resume``
before any training step; checkpoints of older versions still load: the
``config`` vectors of 9 and 11 values (fixtures written by those versions,
``fixtures/``) and checkpoints before it. The state dict holds tensors only,
as MMEngine's distributed Runner and ``EMAHook(update_buffers=True)``
need."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.dist.utils import get_data_device
from mmengine.model import BaseModel, ExponentialMovingAverage
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmghm.models.losses import GHMCWAPLoss
from mmghm.models.losses.ghm_cwap_loss import CONFIG_FIELDS, saved_config
from mmghm.utils.checkpoint import load_checkpoint_file
from mmghm.visualization.grad_hist_state import loss_config

FIXTURES = osp.join(osp.dirname(osp.abspath(__file__)), 'fixtures')

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


def test_the_saved_configuration_reads_back_as_the_losss_arguments():
    loss = GHMCWAPLoss(C, num_bins=N, alpha=0.7, intra_weight='paper',
                       background_index=-1, start_epoch=2)
    state = loss.state_dict()
    assert state['config'].shape == (len(CONFIG_FIELDS), )
    assert saved_config(state) == dict(
        num_classes=C, num_bins=N, alpha=0.7, gamma=0.8, intra=True,
        intra_weight='paper', inter=True, adaptive=True,
        background_index=C - 1, margin='one_sided', start_epoch=2)
    assert saved_config({k: v for k, v in state.items()
                         if k != 'config'}) is None


def test_the_state_dict_holds_tensors_only_as_mmengine_needs():
    """MMEngine's distributed Runner broadcasts every state-dict value
    (``get_data_device`` refuses anything but tensors), and an EMA copy
    that averages buffers copies every value with ``.data``."""
    model = nn.Module()
    model.loss = trained()
    for key, value in model.state_dict().items():
        assert get_data_device(value) == torch.device('cpu'), key
    ema = ExponentialMovingAverage(model, momentum=0.5, update_buffers=True)
    for _ in range(2):
        ema.update_parameters(model)
    assert torch.equal(ema.module.loss.config, model.loss.config)


@pytest.mark.parametrize('saved', [
    torch.zeros(10, dtype=torch.float64),
    torch.zeros(2, 11, dtype=torch.float64),
])
def test_a_config_of_an_unknown_layout_is_refused(saved):
    state = trained().state_dict()
    state['config'] = saved
    target = GHMCWAPLoss(C, num_bins=N)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=r"GHMCWAPLoss at <root>: the "
                       r"checkpoint's 'config' is a Tensor of shape "
                       rf'\({", ".join(map(str, saved.shape))},?\); mmghm '
                       r'saves it as a vector of 9 \(version 1\) or 11 '
                       r'\(version 2\) values'):
        target.load_state_dict(state)
    for k, v in target.state_dict().items():
        assert torch.equal(v, before[k]), k


def fixture(name):
    """A checkpoint written by an older mmghm (see
    fixtures/make_ghm_cwap_fixtures.py), read as a checkpoint is read."""
    path = osp.join(FIXTURES, name)
    return load_checkpoint_file(path)


class Head(nn.Module):

    def __init__(self, **options):
        super().__init__()
        self.loss = GHMCWAPLoss(ignore_index=255, **options)


@pytest.mark.parametrize('name, length', [('ghm_cwap_config9.pt', 9),
                                          ('ghm_cwap_config11.pt', 11)])
def test_checkpoints_of_the_config_vector_versions_load_and_behave_alike(
        name, length):
    ckpt = fixture(name)
    state, probe = ckpt['state_dict'], ckpt['probe']
    assert state['head.loss.config'].shape == (length, )
    model = nn.Module()
    model.head = Head(**ckpt['options'])
    result = model.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    loss = model.head.loss
    for key, value in state.items():
        if key != 'head.loss.config':
            assert torch.equal(loss.state_dict()[key[len('head.loss.'):]],
                               value), key
    assert loss.config.shape == (len(CONFIG_FIELDS), )  # this version's
    # what that version computed from this state, computed again
    logits = probe['logits'].clone().requires_grad_()
    value = loss(logits, probe['labels'])
    value.backward()
    torch.testing.assert_close(value, probe['loss'])
    torch.testing.assert_close(logits.grad, probe['grad'])
    loss.update()
    for key, expected in probe['after_update'].items():
        torch.testing.assert_close(loss.state_dict()[key], expected,
                                   msg=key)
    loss.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            loss(probe['eval_logits'], probe['eval_labels']),
            probe['eval_loss'])
    # the readers of a checkpoint see the configuration it was saved with
    expected = dict(ckpt['options'], intra=True, inter=True,
                    background_index=None, margin='one_sided',
                    start_epoch=0)
    assert loss_config(state, 'head.loss') == expected
    assert saved_config(loss.state_dict()) == expected  # saved anew


def test_a_config_vector_of_another_configuration_is_refused():
    ckpt = fixture('ghm_cwap_config9.pt')
    model = nn.Module()
    model.head = Head(**dict(ckpt['options'], margin='two_sided'))
    with pytest.raises(ValueError, match="GHMCWAPLoss at head.loss: the "
                       'checkpoint was saved by a loss configured '
                       "differently \\(margin: checkpoint 'one_sided', this "
                       "loss 'two_sided'\\)"):
        model.load_state_dict(ckpt['state_dict'])


def old_format(state):
    """A checkpoint of the versions before the saved configuration: no
    config, no ref_edges, the density in float32."""
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
