"""GHM-CWAP in MMEngine's DDP with two gloo processes (CPU), with
``find_unused_parameters=True`` and a partly frozen backbone: after every
update both ranks hold identical state, and the synced histograms count
every image of the epoch exactly once (issue 21, part 3).

SyncBN is not tested here: PyTorch's SyncBatchNorm refuses CPU tensors
("SyncBatchNorm expected input tensor to be on GPU"); it concerns the
backbone's normalisation, not the loss, whose update all-reduces alone.
"""
import os

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

pytestmark = pytest.mark.subprocess


def train(rank, init_file, work_dir, out):
    from mmengine.runner import Runner

    from test_loss_training_features import model_cfg, runner_cfg, state
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2')
    try:
        torch.set_num_threads(1)
        cfg = runner_cfg(
            work_dir, epochs=2, model=model_cfg(frozen_stages=1),
            launcher='pytorch',
            cfg=dict(model_wrapper_cfg=dict(
                type='mmghm.DeviceAwareDDP', find_unused_parameters=True)),
            env_cfg=dict(dist_cfg=dict(backend='gloo')))
        runner = Runner(**cfg)
        runner.train()
        torch.save(state(runner), f'{out}_rank{rank}.pth')
    finally:
        torch_dist.destroy_process_group()


def test_two_ranks_hold_identical_state_after_each_update(tmp_path):
    from test_loss_training_features import COUNTS, class_counts
    out = str(tmp_path / 'state')
    mp.start_processes(
        train, args=(str(tmp_path / 'init'), str(tmp_path / 'work'), out),
        nprocs=2, join=True, start_method='spawn')
    rank0, rank1 = (torch.load(f'{out}_rank{r}.pth') for r in range(2))
    for name, value in rank0.items():
        assert torch.equal(value, rank1[name]), name
    assert int(rank0['num_updates']) == 2
    assert not rank0['density'].any()  # reset by the epoch-end update
    # 82 images, 41 a rank: the all-reduced reference counts each once
    torch.testing.assert_close(
        class_counts(rank0['ref_density'], rank0['ref_edges']),
        torch.tensor(COUNTS, dtype=torch.float64), rtol=1e-6, atol=1e-4)
