"""GHM-CWAP histograms under two processes (gloo, CPU).

Each rank sees its own shard of every batch. After every update both ranks
must hold identical state, and wherever g does not depend on the live
first-epoch statistics (``inter=False``, or any update after the first) the
state equals that of one process that saw all the data.
"""
import datetime
import os

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from mmghm.models.losses import GHMCWAPLoss

C, N, EPOCHS, BATCHES, B = 5, 8, 3, 4, 40


def batches():
    """The same fixed logits and labels every run (no model: the
    statistics alone are under test)."""
    gen = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.6**c for c in range(C)])
    out = []
    for _ in range(EPOCHS * BATCHES):
        labels = torch.multinomial(probs, B, replacement=True, generator=gen)
        out.append((torch.randn(B, C, generator=gen) * 3, labels))
    return out


def run(loss, data, rank=0, world=1, first_epoch=0):
    """Feed shard ``rank`` of each batch; return the state after each
    update."""
    states = []
    for epoch in range(first_epoch, EPOCHS):
        for logits, labels in data[epoch * BATCHES:(epoch + 1) * BATCHES]:
            z = logits[rank::world].clone().requires_grad_(True)
            loss(z, labels[rank::world]).backward()
        loss.update()
        states.append({k: v.clone() for k, v in loss.state_dict().items()})
    return states


def worker(rank, world, init_method, inter, out_dir, first_epoch):
    torch_dist.init_process_group(
        'gloo', init_method=init_method, rank=rank, world_size=world,
        timeout=datetime.timedelta(seconds=120))
    try:
        torch.set_num_threads(1)
        loss = GHMCWAPLoss(C, num_bins=N, inter=inter)
        if first_epoch:
            loss.load_state_dict(
                torch.load(os.path.join(out_dir, 'start.pth')))
        states = run(loss, batches(), rank, world, first_epoch)
        torch.save(states, os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


@pytest.mark.parametrize('inter', [True, False])
def test_two_ranks_sync_and_match_one_process(tmp_path, inter,
                                              dist_init_method):
    single = run(GHMCWAPLoss(C, num_bins=N, inter=inter), batches())
    # With margins, g in the first epoch depends on each rank's own running
    # density (method.md §3): both setups then start from the state after
    # one single-process epoch, from which on g depends only on synced state.
    first_epoch = 1 if inter else 0
    if first_epoch:
        torch.save(single[0], tmp_path / 'start.pth')
    mp.start_processes(
        worker,
        args=(2, dist_init_method, inter, str(tmp_path), first_epoch),
        nprocs=2, join=True, start_method='spawn')
    rank0 = torch.load(tmp_path / 'rank0.pth')
    rank1 = torch.load(tmp_path / 'rank1.pth')
    assert len(rank0) == EPOCHS - first_epoch
    for s0, s1, s in zip(rank0, rank1, single[first_epoch:]):
        for name in ('edges', 'density', 'ref_density', 'num_updates'):
            assert torch.equal(s0[name], s1[name]), name
        for name in ('edges', 'ref_density', 'num_updates'):
            torch.testing.assert_close(s0[name], s[name], rtol=1e-5,
                                       atol=1e-4)
        assert s0['ref_density'].sum() > 0
    # AURA moved the bins, so the comparison is not between uniform edges
    uniform = torch.linspace(0, 1, N + 1).expand(C, N + 1)
    assert not torch.allclose(rank0[-1]['edges'], uniform)


def test_each_rank_alone_differs_from_synced_state(tmp_path):
    """Without the all-reduce a rank would only know its own shard: the
    test above would fail if update() did not sync."""
    alone = run(GHMCWAPLoss(C, num_bins=N, inter=False), batches(), 0, 2)
    synced = run(GHMCWAPLoss(C, num_bins=N, inter=False), batches())
    assert not torch.allclose(alone[0]['ref_density'],
                              synced[0]['ref_density'])
