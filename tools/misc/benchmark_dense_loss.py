"""GHM-CWAP at detection and segmentation sizes, against the host library's
own cross-entropy, measured in the same run.

Cases (forward + backward of the loss alone):

- segmentation: logits 8 x 19 x 128 x 128 (Cityscapes classes, 131k pixels),
  10% of the pixels labelled 255, against MMSegmentation's
  ``CrossEntropyLoss`` (``ignore_index=255``);
- detection (LVIS bbox head): 1024 RoIs x 1204 logits (1203 classes +
  background), 3/4 background, against MMDetection's ``CrossEntropyLoss``.

Without MMSegmentation / MMDetection (the main environment) the reference
is ``torch.nn.functional.cross_entropy``, which both wrap.

Time: median of ``--repeat`` runs after warm-up, GHM-CWAP in training mode
(it counts into its histograms) with its state after one update (margins
on). Memory: bytes the autograd graph keeps for the backward (saved
tensors), the memory a training step holds between forward and backward.

Usage: python tools/misc/benchmark_dense_loss.py [--repeat 20] [--threads 1]
"""
import argparse
import statistics
import time
from typing import Callable, Tuple

import torch
import torch.nn.functional as F

from mmghm.models.losses import GHMCWAPLoss


def reference_losses():
    """(name, segmentation CE, detection CE) of the installed hosts."""
    try:
        from mmseg.models.losses import CrossEntropyLoss as SegCE
        seg = ('mmseg CrossEntropyLoss', SegCE())
    except ImportError:
        seg = ('F.cross_entropy', lambda z, y, **kw: F.cross_entropy(
            z, y, ignore_index=kw.get('ignore_index', -100)))
    try:
        from mmdet.models.losses import CrossEntropyLoss as DetCE
        det = ('mmdet CrossEntropyLoss', DetCE())
    except ImportError:
        det = ('F.cross_entropy', lambda z, y, *a, **kw: F.cross_entropy(
            z, y))
    return seg, det


def time_and_memory(fn: Callable[[], torch.Tensor],
                    repeat: int) -> Tuple[float, int]:
    """Median seconds of forward + backward, and saved-tensor bytes."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn().backward()
    nbytes = sum(saved)
    for _ in range(3):
        fn().backward()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times), nbytes


def warm_state(loss: GHMCWAPLoss, make_batch) -> None:
    """Fill the histograms and update once, so margins and AURA bins are on
    as in a running training."""
    for _ in range(2):
        z, y = make_batch()
        loss(z, y)
    loss.update()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    (seg_name, seg_ce), (det_name, det_ce) = reference_losses()

    def seg_batch():
        z = torch.randn(8, 19, 128, 128, generator=gen)
        y = torch.randint(0, 19, (8, 128, 128), generator=gen)
        y[torch.rand(y.shape, generator=gen) < 0.1] = 255
        return z.requires_grad_(), y

    def det_batch():
        z = torch.randn(1024, 1204, generator=gen)
        y = torch.randint(0, 1203, (1024, ), generator=gen)
        y[torch.rand(1024, generator=gen) < 0.75] = 1203  # background
        return z.requires_grad_(), y

    rows = []
    z, y = seg_batch()
    ghm = GHMCWAPLoss(19, ignore_index=255)
    warm_state(ghm, seg_batch)
    t_ce, m_ce = time_and_memory(
        lambda: seg_ce(z, y, ignore_index=255), args.repeat)
    t_g, m_g = time_and_memory(lambda: ghm(z, y), args.repeat)
    rows.append(('segmentation 8x19x128x128', seg_name, t_ce, t_g, m_ce,
                 m_g))

    z, y = det_batch()
    w = torch.ones(1024)
    ghm = GHMCWAPLoss(1204, background_index=-1)
    warm_state(ghm, det_batch)
    t_ce, m_ce = time_and_memory(
        lambda: det_ce(z, y, w, avg_factor=1024.0), args.repeat)
    t_g, m_g = time_and_memory(lambda: ghm(z, y, w, avg_factor=1024.0),
                               args.repeat)
    rows.append(('detection 1024x1204 (LVIS)', det_name, t_ce, t_g, m_ce,
                 m_g))

    print(f'torch {torch.__version__}, {args.threads} thread(s), median of '
          f'{args.repeat}\n')
    print('| case | reference | reference ms | GHM-CWAP ms | time ratio | '
          'reference saved MiB | GHM-CWAP saved MiB | memory ratio |')
    print('|---|---|---|---|---|---|---|---|')
    for case, ref, t_ce, t_g, m_ce, m_g in rows:
        print(f'| {case} | {ref} | {1e3 * t_ce:.1f} | {1e3 * t_g:.1f} | '
              f'{t_g / t_ce:.2f}x | {m_ce / 2**20:.1f} | {m_g / 2**20:.1f} '
              f'| {m_g / max(m_ce, 1):.2f}x |')


if __name__ == '__main__':
    main()
