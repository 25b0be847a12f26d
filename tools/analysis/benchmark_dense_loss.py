"""GHM-CWAP at detection and segmentation sizes, against the host library's
own cross-entropy, measured in the same run, on the CPU or a GPU.

Cases (forward + backward of the loss alone, data on ``--device``):

- segmentation: logits 8 x 19 x 128 x 128 on the CPU, 2 x 19 x 512 x 1024
  (a Cityscapes crop batch) on CUDA (``--seg-size`` to change), 10% of the
  pixels labelled 255, against MMSegmentation's ``CrossEntropyLoss``
  (``ignore_index=255``);
- detection (LVIS bbox head): 1024 RoIs x 1204 logits (1203 classes +
  background), 3/4 background, against MMDetection's ``CrossEntropyLoss``.

Without MMSegmentation / MMDetection (the main environment) the reference
is ``torch.nn.functional.cross_entropy``, which both wrap.

Time: median of ``--repeat`` runs after warm-up (on CUDA each run is timed
with CUDA events), the loss and its reference in alternation, GHM-CWAP in
training mode (it counts into its histograms) with its state after one
update (margins on). Memory: bytes the autograd graph keeps for the
backward (saved tensors), the memory a training step holds between forward
and backward. Writes ``results/benchmarks/dense_loss_<device>.json``.

With ``--segmentor`` (needs MMSegmentation) it also times whole training
steps (forward + backward of the model) of DeepLabV3 R-50-D8 as in
configs/downstream/mmseg, on ``--crop`` random images, with GHM-CWAP and with
the cross-entropy of MMSegmentation's own config: the share of the loss in a
real step.

Usage: python tools/analysis/benchmark_dense_loss.py [--device cpu|cuda]
           [--repeat 20] [--threads 1] [--seg-size N C H W]
           [--segmentor [--crop 256 512 --batch 2]] [--out FILE | --no-save]
"""
import argparse
import os.path as osp
import statistics
import time
from typing import Callable, Tuple

import torch
import torch.nn.functional as F
from benchmark_utils import (ROOT, Timer, add_device_args, markdown_table,
                             reexec_with_reused_memory, save_result,
                             setup_device, synchronize)

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


def saved_bytes(fn: Callable[[], torch.Tensor]) -> int:
    """Bytes of the tensors the autograd graph of ``fn()`` keeps."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn().backward()
    return sum(saved)


def time_pair(fn: Callable[[], torch.Tensor], ref: Callable[[], torch.Tensor],
              repeat: int, device: torch.device) -> Tuple[float, float]:
    """Median seconds of forward + backward of ``fn`` and ``ref``, timed in
    alternation."""
    timer = Timer(device)
    for _ in range(3):
        fn().backward()
        ref().backward()
    synchronize(device)
    a, b = [], []
    for _ in range(repeat):
        a.append(timer(lambda: fn().backward()))
        b.append(timer(lambda: ref().backward()))
    return statistics.median(a), statistics.median(b)


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
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    from mmseg.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/downstream/mmseg/'
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--seg-size', type=int, nargs=4, default=None,
                        metavar=('N', 'C', 'H', 'W'))
    parser.add_argument('--segmentor', action='store_true')
    parser.add_argument('--crop', type=int, nargs=2, default=(256, 512))
    parser.add_argument('--batch', type=int, default=2)
    add_device_args(parser, 'dense_loss')
    args = parser.parse_args(argv)
    if args.threads is None and args.device == 'cpu':
        args.threads = 1
    device = setup_device(args)
    seg_size = tuple(args.seg_size or (
        (2, 19, 512, 1024) if device.type == 'cuda' else (8, 19, 128, 128)))
    gen = torch.Generator().manual_seed(0)
    (seg_name, seg_ce), (det_name, det_ce) = reference_losses()

    def seg_batch():
        z = torch.randn(*seg_size, generator=gen)
        y = torch.randint(0, seg_size[1], seg_size[:1] + seg_size[2:],
                          generator=gen)
        y[torch.rand(y.shape, generator=gen) < 0.1] = 255
        return z.to(device).requires_grad_(), y.to(device)

    def det_batch():
        z = torch.randn(1024, 1204, generator=gen)
        y = torch.randint(0, 1203, (1024, ), generator=gen)
        y[torch.rand(1024, generator=gen) < 0.75] = 1203  # background
        return z.to(device).requires_grad_(), y.to(device)

    rows = []
    z, y = seg_batch()
    ghm = GHMCWAPLoss(seg_size[1], ignore_index=255).to(device)
    warm_state(ghm, seg_batch)
    t_g, t_ce = time_pair(lambda: ghm(z, y),
                          lambda: seg_ce(z, y, ignore_index=255),
                          args.repeat, device)
    m_ce = saved_bytes(lambda: seg_ce(z, y, ignore_index=255))
    m_g = saved_bytes(lambda: ghm(z, y))
    rows.append(('segmentation ' + 'x'.join(map(str, seg_size)), seg_name,
                 t_ce, t_g, m_ce, m_g))

    z, y = det_batch()
    w = torch.ones(1024, device=device)
    ghm = GHMCWAPLoss(1204, background_index=-1).to(device)
    warm_state(ghm, det_batch)
    t_g, t_ce = time_pair(lambda: ghm(z, y, w, avg_factor=1024.0),
                          lambda: det_ce(z, y, w, avg_factor=1024.0),
                          args.repeat, device)
    m_ce = saved_bytes(lambda: det_ce(z, y, w, avg_factor=1024.0))
    m_g = saved_bytes(lambda: ghm(z, y, w, avg_factor=1024.0))
    rows.append(('detection 1024x1204 (LVIS)', det_name, t_ce, t_g, m_ce,
                 m_g))

    print(f'torch {torch.__version__}, {device}, '
          f'{torch.get_num_threads()} CPU thread(s), median of '
          f'{args.repeat}\n')
    columns = ['case', 'reference', 'reference ms', 'GHM-CWAP ms',
               'time ratio', 'reference saved MiB', 'GHM-CWAP saved MiB',
               'memory ratio']
    table = [{
        'case': case, 'reference': ref,
        'reference ms': round(1e3 * t_ce, 3),
        'GHM-CWAP ms': round(1e3 * t_g, 3),
        'time ratio': round(t_g / t_ce, 3),
        'reference saved MiB': round(m_ce / 2**20, 2),
        'GHM-CWAP saved MiB': round(m_g / 2**20, 2),
        'memory ratio': round(m_g / max(m_ce, 1), 3)
    } for case, ref, t_ce, t_g, m_ce, m_g in rows]

    def fmt(col, row):
        value = row[col]
        if isinstance(value, str):
            return value
        return f'{value:.2f}x' if 'ratio' in col else f'{value:.2f}'

    print(markdown_table(columns, table, fmt))
    extra = {}
    if args.segmentor:
        steps = segmentor_steps(max(args.repeat // 5, 2), args.crop,
                                args.batch)
        ce, ghm = steps['cross-entropy'], steps['GHM-CWAP']
        print(f'\nDeepLabV3 R-50-D8 training step, {args.batch} x '
              f'{args.crop[0]} x {args.crop[1]}: cross-entropy {ce:.2f} s, '
              f'GHM-CWAP {ghm:.2f} s ({ghm / ce:.3f}x)')
        extra['scalars'] = dict(segmentor_step_ratio=round(ghm / ce, 3))
    path = save_result(
        args, 'dense_loss', device, columns, table,
        measured=dict(tool='tools/analysis/benchmark_dense_loss.py',
                      method=f'forward+backward of the loss alone, median '
                      f'of {args.repeat}, in alternation with the '
                      'reference' + (', CUDA events' if device.type == 'cuda'
                                     else ', wall clock'),
                      state='training mode, one GHM-CWAP update done',
                      threads=torch.get_num_threads()),
        **extra)
    if path:
        print(f'\nwrote {path}')
    return table


if __name__ == '__main__':
    reexec_with_reused_memory()
    main()
