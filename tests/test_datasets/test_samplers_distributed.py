"""Class-aware samplers under two gloo processes: each rank draws a disjoint
share of the epoch, and the two shares together are the single-process
draw (padded as MMEngine's DefaultSampler pads)."""
import datetime
import os

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from mmghm.datasets import long_tailed_counts

# separate processes (tests/conftest.py: -m "not subprocess" leaves them out)
pytestmark = pytest.mark.subprocess

LENGTH, EPOCHS = 12407, (0, 3)  # an odd epoch: rank 1 gets a padded index


def make(seed=5):
    from mmghm.datasets import ProgressivelyBalancedSampler, SquareRootSampler

    class Labels:
        labels = np.random.RandomState(0).permutation(
            np.repeat(np.arange(10), long_tailed_counts(10, 5000, 100)))
        metainfo = dict(classes=list('abcdefghij'))

        def __len__(self):
            return len(self.labels)

        def get_gt_labels(self):
            return self.labels

    data = Labels()
    return [SquareRootSampler(data, seed=seed, epoch_length=LENGTH),
            ProgressivelyBalancedSampler(data, total_epochs=4, seed=seed,
                                         epoch_length=LENGTH)]


def draws(samplers):
    out = []
    for sampler in samplers:
        for epoch in EPOCHS:
            sampler.set_epoch(epoch)
            out.append(list(iter(sampler)))
    return out


def worker(rank, world, init_method, out_dir):
    torch_dist.init_process_group(
        'gloo', init_method=init_method, rank=rank, world_size=world,
        timeout=datetime.timedelta(seconds=120))
    try:
        # seed=None: a seed drawn on rank 0 and synced (sync_random_seed)
        samplers = make() + make(seed=None)
        torch.save(dict(draws=draws(samplers),
                        seeds=[s.seed for s in samplers],
                        lengths=[len(s) for s in samplers]),
                   os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


def test_two_ranks_share_the_single_process_draw(tmp_path,
                                                 dist_init_method):
    single = draws(make())
    mp.start_processes(worker, args=(2, dist_init_method, str(tmp_path)),
                       nprocs=2, join=True,
                       # spawn, not fork: a process forked after torch's
                       # thread pools started can deadlock in its first op
                       # (it did in a full suite run)
                       start_method='spawn')
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in (0, 1)]
    n = len(single)
    for k in range(n):
        a, b = ranks[0]['draws'][k], ranks[1]['draws'][k]
        assert len(a) == len(b) == (LENGTH + 1) // 2
        merged = [x for pair in zip(a, b) for x in pair]
        assert merged == (single[k] + single[k][:1])
    # every epoch and sampler draws something else
    assert len({tuple(d) for d in single}) == n
    # the synced random seed is the same on both ranks
    assert ranks[0]['seeds'][2:] == ranks[1]['seeds'][2:]
    for k in range(n, 2 * n):
        merged = [x for pair in zip(ranks[0]['draws'][k],
                                    ranks[1]['draws'][k]) for x in pair]
        assert len(set(merged[:LENGTH])) > 1000
    assert ranks[0]['lengths'] == ranks[1]['lengths'] == \
        [(LENGTH + 1) // 2] * 4
