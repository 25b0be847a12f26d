"""LDAMLoss (Cao et al., NeurIPS 2019) with deferred re-weighting, and the
LossEpochHook that drives it inside a real MMEngine Runner."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

import mmghm.models.losses.base as base_module
from mmghm.engine.hooks import LossEpochHook
from mmghm.models.heads import NormedLinearClsHead
from mmghm.models.losses import LDAMLoss, ldam_margins

COUNTS = [5000, 997, 198, 40, 8, 0]
C = len(COUNTS)


def ref_margins(counts, max_m=0.5):
    m = [1.0 / math.sqrt(math.sqrt(max(n, 1))) for n in counts]
    return [v * max_m / max(m) for v in m]


def ref_drw_weights(counts, beta=0.9999):
    w = [(1 - beta) / (1 - beta**max(n, 1)) for n in counts]
    return [v / sum(w) * len(counts) for v in w]


def ref_ldam(z, y, counts, s=30.0, max_m=0.5):
    """Per-example -log softmax(s * (z - m_y e_y))_y with loops."""
    m = ref_margins(counts, max_m)
    out = []
    for row, label in zip(z.tolist(), y.tolist()):
        logits = [s * (v - (m[label] if c == label else 0.0))
                  for c, v in enumerate(row)]
        top = max(logits)
        lse = top + math.log(sum(math.exp(v - top) for v in logits))
        out.append(lse - logits[label])
    return torch.tensor(out, dtype=torch.float64)


def batch(B=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.rand(B, C, generator=gen, dtype=torch.float64) * 2 - 1  # cos
    y = torch.arange(B) % C
    return z, y


def test_margins():
    m = ldam_margins(torch.tensor(COUNTS), 0.5)
    assert torch.allclose(m, torch.tensor(ref_margins(COUNTS),
                                          dtype=torch.float64))
    assert float(m.max()) == pytest.approx(0.5)
    assert (m.diff() >= 0).all()  # rarer classes get larger margins


def test_values_before_drw():
    z, y = batch()
    loss = LDAMLoss(C, COUNTS, reduction='none')
    loss.set_epoch(159)
    assert not loss.drw_active
    assert torch.allclose(loss(z, y), ref_ldam(z, y, COUNTS))
    loss2 = LDAMLoss(C, COUNTS, max_m=0.3, s=16.0, reduction='none')
    assert torch.allclose(loss2(z, y), ref_ldam(z, y, COUNTS, 16.0, 0.3))


def test_drw_switches_at_epoch_160():
    z, y = batch()
    loss = LDAMLoss(C, COUNTS)
    per = ref_ldam(z, y, COUNTS)
    loss.set_epoch(159)
    assert torch.allclose(loss(z, y), per.mean())
    loss.set_epoch(160)
    assert loss.drw_active
    w = torch.tensor(ref_drw_weights(COUNTS), dtype=torch.float64)[y]
    # the released code's F.cross_entropy(weight=w): sum(w l) / sum(w)
    expected = (w * per).sum() / w.sum()
    assert torch.allclose(loss(z, y), expected)
    assert torch.allclose(loss(z, y, avg_factor=len(y)), expected)  # ClsHead
    assert torch.allclose(
        loss(z, y, reduction_override='none'), w * per)
    assert torch.allclose(
        loss(z, y, reduction_override='sum'), (w * per).sum())
    plain = LDAMLoss(C, COUNTS, weighted_mean=False)
    plain.set_epoch(200)
    assert torch.allclose(plain(z, y), (w * per).mean())
    never = LDAMLoss(C, COUNTS, drw_start_epoch=None)
    never.set_epoch(1000)
    assert not never.drw_active
    assert torch.allclose(never(z, y), per.mean())


def test_official_formula_with_torch_weighted_ce():
    # The authors' code: F.cross_entropy(s * output, target, weight=w).
    z, y = batch()
    loss = LDAMLoss(C, COUNTS, drw_start_epoch=0)
    loss.set_epoch(0)
    m = torch.tensor(ref_margins(COUNTS), dtype=torch.float64)
    output = torch.where(F.one_hot(y, C).bool(), z - m[y, None], z)
    w = torch.tensor(ref_drw_weights(COUNTS), dtype=torch.float64)
    official = F.cross_entropy(30 * output, y, weight=w)
    assert torch.allclose(loss(z, y), official)


def test_gradcheck_and_ignore():
    z, y = batch(B=6)
    loss = LDAMLoss(C, COUNTS, drw_start_epoch=0, ignore_index=-100)
    loss.set_epoch(3)
    assert torch.autograd.gradcheck(lambda t: loss(t, y),
                                    (z.clone().requires_grad_(), ))
    y_ign = y.clone()
    y_ign[0] = -100
    keep = y_ign != -100
    w = torch.tensor(ref_drw_weights(COUNTS), dtype=torch.float64)[y[keep]]
    per = ref_ldam(z[keep], y[keep], COUNTS)
    assert torch.allclose(loss(z, y_ign), (w * per).sum() / w.sum())


def test_zero_counts_and_state():
    loss = LDAMLoss(C)
    z, y = batch()
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        loss(z, y)
    loss.set_class_counts([0] * C)
    loss.set_epoch(170)
    out = loss(z, y)
    assert torch.isfinite(out)
    loss.set_class_counts(COUNTS)
    fresh = LDAMLoss(C)
    fresh.load_state_dict(loss.state_dict())
    assert int(fresh.epoch) == 170 and fresh.drw_active
    assert torch.equal(fresh(z, y), loss(z, y))
    fresh.half()
    assert fresh.margins.dtype == torch.float64


def test_warns_once_without_the_hook(monkeypatch):
    messages = []
    monkeypatch.setattr(base_module, 'print_log',
                        lambda msg, **kw: messages.append(msg))
    z, y = batch()
    loss = LDAMLoss(C, COUNTS)
    loss(z, y)
    loss(z, y)
    assert len(messages) == 1
    assert "Add dict(type='mmghm.LossEpochHook') to the config's " \
        'custom_hooks' in messages[0]
    assert 'drw_start_epoch=160' in messages[0]
    hooked = LDAMLoss(C, COUNTS)
    hooked.set_epoch(0)
    hooked(z, y)
    LDAMLoss(C, COUNTS, drw_start_epoch=None)(z, y)
    assert len(messages) == 1


@pytest.mark.parametrize('kwargs, match', [
    (dict(max_m=0.0), 'max_m'),
    (dict(s=-1.0), '^s '),
    (dict(s=0.0), '^s must be a finite number > 0, but got 0.0'),
    (dict(drw_start_epoch=-1), 'drw_start_epoch'),
    (dict(drw_start_epoch=1.5), 'drw_start_epoch'),
    (dict(drw_beta=1.0), 'drw_beta'),
    (dict(weighted_mean='yes'), 'weighted_mean'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LDAMLoss(C, COUNTS, **kwargs)
    with pytest.raises(ValueError, match='epoch'):
        LDAMLoss(C, COUNTS).set_epoch(-1)


# ---------------------------------------------------------------------------
# LossEpochHook + NormedLinearClsHead + LDAMLoss in a real Runner
# ---------------------------------------------------------------------------
TOY_COUNTS = [24, 12, 6, 3]


class ToyData(Dataset):

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.y = torch.cat([torch.full((n, ), c)
                            for c, n in enumerate(TOY_COUNTS)])
        centres = torch.randn(4, 6, generator=gen) * 2
        self.x = centres[self.y] + torch.randn(len(self.y), 6, generator=gen)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], label=self.y[i])


class ToyClassifier(BaseModel):

    def __init__(self):
        super().__init__()
        self.head = NormedLinearClsHead(
            num_classes=4, in_channels=6,
            loss=dict(type='mmghm.LDAMLoss', num_classes=4,
                      class_counts=TOY_COUNTS, drw_start_epoch=2))

    def forward(self, inputs, label=None, mode='tensor'):
        feats = (inputs, )
        if mode == 'loss':
            samples = [DataSample().set_gt_label(int(v)) for v in label]
            return self.head.loss(feats, samples)
        return self.head(feats)


class DRWProbe(Hook):
    """Records (epoch, drw_active) at every training iteration."""
    priority = 'LOW'

    def __init__(self):
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        loss = runner.model.head.loss_module
        self.seen.append((runner.epoch, int(loss.epoch), loss.drw_active))


def make_runner(work_dir, max_epochs, probe, resume=False):
    torch.manual_seed(0)
    return Runner(
        model=ToyClassifier(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
            batch_size=15,
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=[dict(type='mmghm.LossEpochHook'), probe],
        randomness=dict(seed=0),
        resume=resume,
        default_scope='mmpretrain',  # as the project's configs
        experiment_name=f'ldam_{max_epochs}_{resume}')


def test_loss_epoch_hook_drives_drw_in_a_runner(tmp_path):
    probe = DRWProbe()
    make_runner(tmp_path, 3, probe).train()
    per_epoch = sorted(set(probe.seen))
    assert per_epoch == [(0, 0, False), (1, 1, False), (2, 2, True)]
    assert len(probe.seen) == 9  # 3 iterations (45 images / 15) x 3 epochs
    # resume from the epoch-2 checkpoint into a 4-epoch schedule: the hook
    # sets epoch 3 before training continues, DRW stays on
    probe2 = DRWProbe()
    make_runner(tmp_path, 4, probe2, resume=True).train()
    assert sorted(set(probe2.seen)) == [(3, 3, True)]


def test_hook_reaches_losses_anywhere_in_a_wrapped_model():
    class Wrapped(nn.Module):

        def __init__(self):
            super().__init__()
            self.module = nn.Sequential(nn.Linear(2, 2),
                                        LDAMLoss(C, COUNTS))

    class FakeRunner:
        epoch = 7
        model = Wrapped()

    runner = FakeRunner()
    LossEpochHook().before_train_epoch(runner)
    assert int(runner.model.module[1].epoch) == 7
