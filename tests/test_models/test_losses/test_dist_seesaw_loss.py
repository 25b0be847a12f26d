"""DistSeesawLoss: Seesaw (Wang et al., CVPR 2021) values, MMPretrain
parity, state rules and distributed (2-process gloo) counting."""
import datetime
import math
import os

try:
    import resource
except ImportError:  # Windows
    resource = None

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmpretrain.models.losses import SeesawLoss

from mmghm.models.losses import DistSeesawLoss


def ref_seesaw(z, y, cum, p=0.8, q=2.0, eps=1e-2):
    """Seesaw Eq. 2-5 with loops: sigma_hat_i = e^{z_i} / (e^{z_i} +
    sum_{j != i} S_ij e^{z_j}); loss = -log sigma_hat_i."""
    out = []
    for row, i in zip(z.tolist(), y.tolist()):
        m = max(row)
        sigma = [math.exp(v - m) for v in row]
        total = sum(sigma)
        sigma = [s / total for s in sigma]
        denom = math.exp(row[i] - m)
        for j, zj in enumerate(row):
            if j == i:
                continue
            n_i, n_j = max(cum[i], 1.0), max(cum[j], 1.0)
            mit = (n_j / n_i)**p if n_j < n_i else 1.0
            ratio = sigma[j] / max(sigma[i], eps)
            comp = ratio**q if ratio > 1 else 1.0
            denom += mit * comp * math.exp(zj - m)
        out.append(-(row[i] - m - math.log(denom)))
    return torch.tensor(out, dtype=torch.float64)


def batches(n, B=24, C=7, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    probs = torch.pow(0.2, torch.arange(C) / (C - 1))
    for _ in range(n):
        yield (torch.randn(B, C, generator=gen, dtype=dtype) * 3,
               torch.multinomial(probs, B, replacement=True, generator=gen))


@pytest.mark.parametrize('p, q', [(0.8, 2.0), (0.0, 2.0), (0.8, 0.0),
                                  (1.5, 0.5)])
def test_values_against_formulas(p, q):
    loss = DistSeesawLoss(7, p=p, q=q, reduction='none')
    cum = torch.zeros(7, dtype=torch.float64)
    for z, y in batches(4):
        cum += torch.bincount(y, minlength=7)  # this batch counts too
        assert torch.allclose(loss(z, y), ref_seesaw(z, y, cum.tolist(), p,
                                                     q), rtol=1e-10)
    assert torch.equal(loss.cum_samples, cum)


def test_same_as_mmpretrain_seesaw():
    ours = DistSeesawLoss(7)
    theirs = SeesawLoss(num_classes=7)
    for z, y in batches(5, dtype=torch.float32):
        z1, z2 = z.clone().requires_grad_(), z.clone().requires_grad_()
        a = ours(z1, y, avg_factor=len(y))
        b = theirs(z2, y, avg_factor=len(y))
        assert torch.allclose(a, b, rtol=1e-5)
        a.backward()
        b.backward()
        assert torch.allclose(z1.grad, z2.grad, rtol=1e-4, atol=1e-7)
    assert torch.equal(ours.cum_samples.float(), theirs.cum_samples)
    # an MMPretrain checkpoint loads unchanged
    fresh = DistSeesawLoss(7)
    fresh.load_state_dict(theirs.state_dict())
    assert torch.equal(fresh.cum_samples, ours.cum_samples)


def test_defaults():
    loss = DistSeesawLoss(5)
    assert (loss.p, loss.q, loss.eps) == (0.8, 2.0, 1e-2)
    assert loss.loss_name == 'loss_seesaw'


def test_counts_only_in_training():
    loss = DistSeesawLoss(7)
    z, y = next(batches(1))
    loss.eval()
    loss(z, y)
    loss.train()
    with torch.no_grad():
        loss(z, y)
    assert torch.equal(loss.cum_samples, torch.zeros(7, dtype=torch.float64))
    loss(z, y)
    assert torch.equal(loss.cum_samples,
                       torch.bincount(y, minlength=7).double())


def test_ignored_labels_not_counted():
    loss = DistSeesawLoss(7, ignore_index=255)
    z, y = next(batches(1))
    y_ign = y.clone()
    y_ign[:5] = 255
    out = loss(z, y_ign, reduction_override='none')
    assert torch.equal(loss.cum_samples,
                       torch.bincount(y[5:], minlength=7).double())
    assert torch.equal(out[:5], torch.zeros(5, dtype=torch.float64))
    assert torch.allclose(
        out[5:], ref_seesaw(z[5:], y[5:], loss.cum_samples.tolist()))


def test_zero_counts_and_dtype():
    loss = DistSeesawLoss(7)
    z = torch.randn(3, 7, requires_grad=True)
    loss.eval()  # nothing counted at all: N = 0 everywhere
    out = loss(z, torch.tensor([0, 3, 6]))
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z.grad).all()
    loss.half()
    assert loss.cum_samples.dtype == torch.float64


def _address_space() -> int:
    """This process's virtual memory size (VmSize) in bytes."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmSize:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('no VmSize in /proc/self/status')


@pytest.mark.skipif(
    resource is None or not os.path.exists('/proc/self/status'),
    reason='needs RLIMIT_AS and /proc (Linux)')
def test_large_class_count_needs_no_c_by_c_matrix():
    """At C = 60,000 a C x C float32 matrix takes 14.4 GB; forward and
    backward run with the address space capped 1 GiB above what the process
    already holds, so a C x C temporary (even a bool one, 3.6 GB) fails to
    allocate."""
    C, budget = 60000, 1 << 30
    assert C * C > 3 * budget
    # Warm up with a small C on a large batch: thread pools and allocator
    # arenas that the first parallel kernels create count as already held.
    small = DistSeesawLoss(64)
    z = torch.randn(8192, 64, requires_grad=True)
    small(z, torch.arange(8192) % 64).backward()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + budget
    if hard != resource.RLIM_INFINITY and hard < limit:
        pytest.skip(f'RLIMIT_AS hard limit {hard} is below {limit}')
    loss = DistSeesawLoss(C)
    z = torch.randn(4, C, requires_grad=True)
    y = torch.tensor([0, 1, 59999, 123])
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        out = loss(z, y)
        out.backward()
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert torch.isfinite(z.grad).all()
    assert torch.equal(loss.cum_samples[[0, 1, 59999, 123]],
                       torch.ones(4, dtype=torch.float64))
    # the values of the formula (every other class seen 0 times, counted
    # as 1: no mitigation among the four)
    expected = ref_seesaw(z.detach().double(), y,
                          loss.cum_samples.tolist()).mean()
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('kwargs, match', [
    (dict(p=-1), 'p must'),
    (dict(q=-0.5), 'q must'),
    (dict(eps=0.0), 'eps'),
    (dict(eps=2.0), 'eps'),
    (dict(sync_counts='yes'), 'sync_counts'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DistSeesawLoss(5, **kwargs)
    with pytest.raises(ValueError, match='num_classes'):
        DistSeesawLoss(1)


# ---------------------------------------------------------------------------
# two processes, CPU (gloo)
# ---------------------------------------------------------------------------
def _worker(rank, world_size, init_method, out_dir):
    torch.set_num_threads(1)
    torch_dist.init_process_group(
        'gloo', init_method=init_method, rank=rank, world_size=world_size,
        timeout=datetime.timedelta(seconds=120))
    try:
        loss = DistSeesawLoss(7)
        shards = list(batches(3, seed=rank))  # different data per rank
        values = [loss(z, y, reduction_override='none') for z, y in shards]
        torch.save(dict(cum=loss.cum_samples, values=values),
                   os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


def test_two_processes_share_global_counts(tmp_path, dist_init_method):
    # spawn, not fork: forking a process that has imported torch (and may
    # hold its thread pools' locks) can deadlock the child.
    mp.spawn(_worker, args=(2, dist_init_method, str(tmp_path)), nprocs=2,
             join=True)
    results = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    shards = [list(batches(3, seed=r)) for r in range(2)]
    # every rank holds the counts of all ranks' labels
    total = sum(torch.bincount(y, minlength=7).double()
                for shard in shards for _, y in shard)
    assert torch.equal(results[0]['cum'], total)
    assert torch.equal(results[1]['cum'], total)
    # and each rank's loss uses the global counts up to its step
    cum = torch.zeros(7, dtype=torch.float64)
    for step in range(3):
        for r in range(2):
            cum += torch.bincount(shards[r][step][1], minlength=7)
        for r in range(2):
            z, y = shards[r][step]
            assert torch.allclose(results[r]['values'][step],
                                  ref_seesaw(z, y, cum.tolist()))
