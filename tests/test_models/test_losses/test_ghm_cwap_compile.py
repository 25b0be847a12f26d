"""GHMCWAPLoss under torch.compile (CPU, inductor): the whole forward and
backward in one graph (fullgraph=True) equal to eager across AURA updates,
and MMEngine's ``compile=True`` training with the loss."""
import shutil

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmghm.models.losses import GHMCWAPLoss

pytestmark = pytest.mark.skipif(
    shutil.which('gcc') is None and shutil.which('cc') is None,
    reason='inductor needs a C++ compiler on the CPU')

C, N = 6, 8


def batches(num, B=32, seed=0, ignore=False):
    gen = torch.Generator().manual_seed(seed)
    probs = torch.tensor([0.6**c for c in range(C)])
    out = []
    for _ in range(num):
        label = torch.multinomial(probs, B, replacement=True, generator=gen)
        if ignore:
            label[torch.rand(B, generator=gen) < 0.2] = 255
        out.append((torch.randn(B, C, generator=gen) * 3, label))
    return out


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(intra_weight='paper', ignore_index=255),
    dict(background_index=-1, adaptive=False),
    dict(margin='two_sided'),
], ids=['default', 'paper-ignore', 'background-ura', 'two-sided'])
def test_fullgraph_compile_equals_eager_across_updates(kwargs):
    torch._dynamo.reset()
    eager = GHMCWAPLoss(C, num_bins=N, **kwargs)
    module = GHMCWAPLoss(C, num_bins=N, **kwargs)
    compiled = torch.compile(module, fullgraph=True, dynamic=False)
    data = batches(9, ignore='ignore_index' in kwargs)
    for step, (logits, label) in enumerate(data):
        z_e = logits.clone().requires_grad_(True)
        z_c = logits.clone().requires_grad_(True)
        out_e = eager(z_e, label)
        out_c = compiled(z_c, label)
        out_e.backward()
        out_c.backward()
        torch.testing.assert_close(out_c, out_e, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(z_c.grad, z_e.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(module.density, eager.density,
                                   rtol=1e-6, atol=1e-6)
        if step % 3 == 2:  # an AURA update every 3 batches, made eagerly
            eager.update()
            module.update()
            for name in ('edges', 'ref_density', 'ref_edges'):
                torch.testing.assert_close(getattr(module, name),
                                           getattr(eager, name),
                                           rtol=1e-5, atol=1e-6)
    assert int(module.num_updates) == 3
    if kwargs.get('adaptive', True):  # the compiled loss saw new bins
        uniform = GHMCWAPLoss(C, num_bins=N).edges
        assert not torch.allclose(module.edges, uniform)


# ----------------------------------------------------------------------
# MMEngine's compile=True
# ----------------------------------------------------------------------
class Blobs(Dataset):

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.y = torch.tensor([c for c in range(C) for _ in range(24 >> c)])
        self.x = torch.randn(C, 8, generator=gen)[self.y] + torch.randn(
            len(self.y), 8, generator=gen)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], label=self.y[i])


class Net(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, C)
        self.loss = GHMCWAPLoss(C, num_bins=N)

    def forward(self, inputs, label=None, mode='tensor'):
        logits = self.fc(inputs)
        if mode == 'loss':
            return dict(loss=self.loss(logits, label))
        return logits


def train(work_dir, compile):
    torch.manual_seed(0)
    runner = Runner(
        model=Net(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=Blobs(), batch_size=8, drop_last=True,
            sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[dict(type='mmghm.AURAHook')],
        randomness=dict(seed=0),
        cfg=dict(compile=compile))
    runner.train()
    return runner


def test_mmengine_compile_true_trains_like_eager(tmp_path):
    torch._dynamo.reset()
    compiled = train(tmp_path / 'compiled', True)
    eager = train(tmp_path / 'eager', False)
    # the Runner did compile the training step
    assert 'compile' in type(compiled.model.train_step).__name__.lower() or \
        hasattr(compiled.model.train_step, '_torchdynamo_orig_callable')
    a, b = compiled.model.loss, eager.model.loss
    assert int(a.num_updates) == int(b.num_updates) == 3
    for name in ('edges', 'ref_density', 'ref_edges'):
        torch.testing.assert_close(getattr(a, name), getattr(b, name),
                                   rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(compiled.model.fc.weight, eager.model.fc.weight,
                               rtol=1e-4, atol=1e-5)
