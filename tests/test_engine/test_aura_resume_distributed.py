"""Two-process resume with iteration-based AURA inside an epoch loop.

Two gloo processes train a linear classifier with GHMCWAPLoss through
MMEngine's Runner (DDP, an epoch loop, AURAHook every 3 iterations, 5
iterations an epoch), so the epoch-end checkpoint falls between two AURA
updates, when each rank holds its own unsynced running density. Training 1
epoch and resuming to 2 must end with exactly the state of 2 epochs
straight, on both ranks: weights, each rank's running density, the synced
reference histograms and bins.
"""
import os

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.model import BaseModel
from torch.utils.data import Dataset

import mmghm  # noqa: F401  (checkpoint allow-list, registries)

# separate processes: left out of CI's shuffled pass (tests/conftest.py)
pytestmark = pytest.mark.subprocess

C, D, SAMPLES, BATCH = 4, 6, 40, 4  # 40 / 2 ranks / 4 = 5 iterations


class ToyData(Dataset):
    """Fixed features and long-tailed labels."""

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(SAMPLES, D, generator=gen)
        probs = torch.tensor([0.5**c for c in range(C)])
        self.y = torch.multinomial(probs, SAMPLES, replacement=True,
                                   generator=gen)

    def __len__(self):
        return SAMPLES

    def __getitem__(self, i):
        return dict(inputs=self.x[i], labels=self.y[i])


class ToyClassifier(BaseModel):

    def __init__(self):
        from mmghm.models.losses import GHMCWAPLoss
        super().__init__()
        gen = torch.Generator().manual_seed(1)
        self.fc = torch.nn.Linear(D, C)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(C, D, generator=gen))
            self.fc.bias.zero_()
        self.loss = GHMCWAPLoss(C, num_bins=5)

    def forward(self, inputs, labels=None, mode='loss'):
        logits = self.fc(inputs)
        if mode == 'loss':
            return dict(loss=self.loss(logits, labels))
        return logits


def train(rank, init_file, work_dir, max_epochs, resume_from, out):
    from mmengine.runner import Runner
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2')
    try:
        torch.set_num_threads(1)
        runner = Runner(
            model=ToyClassifier(),
            work_dir=work_dir,
            train_dataloader=dict(
                dataset=ToyData(),
                sampler=dict(type='DefaultSampler', shuffle=True),
                batch_size=BATCH,
                num_workers=0,
                collate_fn=dict(type='default_collate')),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
            train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
            custom_hooks=[
                dict(type='mmghm.AURAHook', by_epoch=False, interval=3)
            ],
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=1)),
            launcher='pytorch',
            cfg=dict(model_wrapper_cfg=dict(type='mmghm.DeviceAwareDDP')),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            randomness=dict(seed=0),
            load_from=resume_from,
            resume=resume_from is not None,
            default_scope='mmengine')
        runner.train()
        model = runner.model.module
        torch.save({k: v.clone() for k, v in model.state_dict().items()},
                   f'{out}_rank{rank}.pth')
    finally:
        torch_dist.destroy_process_group()


def launch(tmp_path, name, max_epochs, resume_from=None):
    out = str(tmp_path / name)
    mp.start_processes(
        train,
        args=(str(tmp_path / f'{name}.init'), str(tmp_path / name),
              max_epochs, resume_from, out),
        nprocs=2, join=True, start_method='spawn')
    return [torch.load(f'{out}_rank{r}.pth') for r in range(2)]


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
    return launch(tmp_path_factory.mktemp('straight'), 'straight', 2)


def test_resume_between_updates_matches_uninterrupted_run(
        straight, tmp_path):
    launch(tmp_path, 'first', 1)
    ckpt = tmp_path / 'first' / 'epoch_1.pth'
    meta = torch.load(ckpt)['meta']
    per_rank = meta['mmghm_aura_rank_density']['loss']
    assert per_rank.shape == (2, C, 5)
    # between updates the ranks hold different running densities
    assert not torch.equal(per_rank[0], per_rank[1])
    assert per_rank.sum() > 0
    resumed = launch(tmp_path, 'resumed', 2, resume_from=str(ckpt))
    for rank in range(2):
        for key, value in straight[rank].items():
            assert torch.equal(value, resumed[rank][key]), (rank, key)
    # the comparison covers updated, non-uniform bins and unsynced counts
    assert int(straight[0]['loss.num_updates']) == 3
    assert not torch.equal(straight[0]['loss.density'],
                           straight[1]['loss.density'])
