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

With ``--segmentor`` (needs MMSegmentation) it also times whole training
steps (forward + backward of the model) of DeepLabV3 R-50-D8 as in
configs/downstream/mmseg, on ``--crop`` random images, with GHM-CWAP and with
the cross-entropy of MMSegmentation's own config: the share of the loss in a
real step.

Usage: python tools/analysis/benchmark_dense_loss.py [--repeat 20] [--threads 1]
           [--segmentor [--crop 256 512 --batch 2]]
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


def segmentor_steps(repeat: int, crop, batch: int):
    """Median training-step seconds of DeepLabV3 R-50-D8 (Cityscapes
    config) with GHM-CWAP and with cross-entropy as the decode loss."""
    from pathlib import Path

    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    from mmseg.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    root = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(
        str(root / 'configs/downstream/mmseg/'
            'deeplabv3_r50-d8_ghm-cwap_4xb2-80k_cityscapes-512x1024.py'))
    cfg.model.pretrained = None
    cfg.model.data_preprocessor.size = tuple(crop)
    ce_cfg = cfg.copy()
    ce_cfg.model.decode_head.loss_decode = dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch, 3, *crop, generator=gen)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=tuple(crop),
                                             pad_shape=tuple(crop)))
        label = torch.randint(0, 19, (1, *crop), generator=gen)
        label[torch.rand(label.shape, generator=gen) < 0.1] = 255
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    models = {}
    for name, c in (('cross-entropy', ce_cfg), ('GHM-CWAP', cfg)):
        with DefaultScope.overwrite_default_scope('mmseg'):
            models[name] = revert_sync_batchnorm(MODELS.build(c.model))
        models[name].train()
    # Steps alternate between the two models, so that a load change on a
    # shared machine affects both alike.
    times = {name: [] for name in models}
    for i in range(repeat + 1):
        for name, model in models.items():
            start = time.perf_counter()
            losses = model.loss(inputs, samples)
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            model.zero_grad()
            if i:  # the first step warms up
                times[name].append(time.perf_counter() - start)
    out = {name: statistics.median(t) for name, t in times.items()}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--segmentor', action='store_true')
    parser.add_argument('--crop', type=int, nargs=2, default=(256, 512))
    parser.add_argument('--batch', type=int, default=2)
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
    if args.segmentor:
        steps = segmentor_steps(max(args.repeat // 5, 2), args.crop,
                                args.batch)
        ce, ghm = steps['cross-entropy'], steps['GHM-CWAP']
        print(f'\nDeepLabV3 R-50-D8 training step, {args.batch} x '
              f'{args.crop[0]} x {args.crop[1]}: cross-entropy {ce:.2f} s, '
              f'GHM-CWAP {ghm:.2f} s ({ghm / ce:.3f}x)')


if __name__ == '__main__':
    main()
