"""Forward+backward time of mmghm's losses as a ratio to MMPretrain's
``CrossEntropyLoss``, measured in the same run, on the CPU or a GPU.

    python tools/analysis/benchmark_losses.py [--device cpu|cuda]
        [--sizes 128x10 256x1000 ...] [--losses GHMCWAPLoss ...]
        [--repeat 15] [--threads N] [--compiled] [--out FILE | --no-save]

Sizes are ``BxC`` (classification) or ``NxCxHxW`` (segmentation, per pixel,
10% of the labels 255 and ignored, against ``F.cross_entropy``). Data (and
the losses' state) live on ``--device``. Each loss is timed in training
mode after warm-up, with its statistics in a steady state: class counts
set, and one GHM-CWAP update done, as from the second epoch on. Every loss
is timed in alternation with cross-entropy on the same input, so that load
from other processes affects both alike:

- CPU: the fastest of ``--repeat`` single calls of each (fastest /
  fastest), wall clock;
- CUDA: ``--repeat`` rounds of 20 consecutive calls, timed with CUDA events
  (queued GPU work counted, no synchronisation inside a round); the ratio
  of the medians.

``--compiled`` adds ``torch.compile``-d GHM-CWAP rows (fullgraph). Prints a
Markdown table (ratios < 1 are faster than cross-entropy) and writes
``results/benchmarks/losses_<device>.json`` (schema ``mmghm.benchmark/1``:
``columns`` are the sizes, each row a loss; the first row is the
cross-entropy time in ms), from which README tables are generated.
"""
import argparse
import statistics
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from benchmark_utils import (Timer, add_device_args, markdown_table,
                             reexec_with_reused_memory,
                             save_result, setup_device, synchronize)

import mmghm  # noqa: F401
from mmghm.registry import MODELS

#: name -> config. Every other loss registered in mmghm is added with its
#: defaults by :func:`registered_losses`.
LOSSES: Dict[str, dict] = {
    'GHMCWAPLoss': dict(type='mmghm.GHMCWAPLoss'),
    'GHMCWAPLoss(paper W)': dict(
        type='mmghm.GHMCWAPLoss', intra_weight='paper'),
    'mmpretrain SeesawLoss': dict(type='mmpretrain.SeesawLoss'),
    # Baselines' non-default forms (their defaults are added below).
    'EffectiveNumberLoss(sigmoid)': dict(
        type='mmghm.EffectiveNumberLoss', loss_type='sigmoid'),
    'EffectiveNumberLoss(focal)': dict(
        type='mmghm.EffectiveNumberLoss', loss_type='focal'),
    'LDAMLoss(DRW on)': dict(type='mmghm.LDAMLoss', drw_start_epoch=0),
}
#: Added by ``--compiled``: the module under torch.compile(fullgraph=True).
COMPILED = {'GHMCWAPLoss(compiled)': dict(type='mmghm.GHMCWAPLoss')}

DEFAULT_SIZES = {
    'cpu': ['128x10', '256x1000', '512x8142', '1024x1204', '8x19x128x128'],
    'cuda': ['128x10', '256x1000', '512x8142', '1024x1204', '2x19x512x1024'],
}
#: Consecutive calls per timed round on CUDA.
CUDA_CALLS = 20


def registered_losses() -> Dict[str, dict]:
    """Every loss in mmghm's MODELS registry, with default arguments."""
    import mmghm.models.losses  # noqa: F401
    from mmghm.registry import MODELS as GHM_MODELS
    found = dict(LOSSES)
    for name in sorted(GHM_MODELS.module_dict):
        if name.endswith('Loss') and name not in found:
            found[name] = dict(type=f'mmghm.{name}')
    return found


def parse_size(text: str) -> Tuple[int, ...]:
    dims = tuple(int(x) for x in text.lower().split('x'))
    if len(dims) not in (2, 4):
        raise argparse.ArgumentTypeError(
            f'size must be BxC or NxCxHxW, got {text!r}')
    return dims


def size_name(size: Tuple[int, ...]) -> str:
    return 'x'.join(map(str, size))


def build(cfg: dict, num_classes: int, counts: torch.Tensor,
          device: torch.device, compiled: bool = False):
    cfg = dict(cfg)
    cfg['num_classes'] = num_classes
    try:
        loss = MODELS.build(cfg)
    except TypeError:  # a loss without num_classes
        cfg.pop('num_classes')
        loss = MODELS.build(cfg)
    if hasattr(loss, 'set_class_counts'):
        loss.set_class_counts(counts)
    if hasattr(loss, 'set_epoch'):
        loss.set_epoch(0)
    loss = loss.to(device).train()
    if compiled:
        return loss, torch.compile(loss, fullgraph=True)
    return loss, loss


def make_inputs(size: Tuple[int, ...], gen: torch.Generator,
                device: torch.device):
    C = size[1]
    logits = torch.randn(*size, generator=gen) * 2
    label_shape = (size[0], ) + size[2:]
    # long-tailed labels: class c with probability ~ (1/100)^(c/(C-1))
    probs = torch.pow(0.01, torch.arange(C) / max(C - 1, 1))
    labels = torch.multinomial(
        probs, int(torch.tensor(label_shape).prod()), replacement=True,
        generator=gen).view(label_shape)
    counts = torch.bincount(labels.view(-1), minlength=C) * 10 + 1
    if len(size) == 4:  # segmentation: 10% ignored pixels
        labels[torch.rand(label_shape, generator=gen) < 0.1] = 255
    return logits.to(device), labels.to(device), counts


def reference_ce(size: Tuple[int, ...]) -> Callable:
    """MMPretrain's CrossEntropyLoss; per pixel as MMSegmentation's."""
    if len(size) == 4:
        return lambda z, y: F.cross_entropy(z, y, ignore_index=255)
    return MODELS.build(dict(type='mmpretrain.CrossEntropyLoss'))


def loss_call(loss: Callable, size: Tuple[int, ...]) -> Callable:
    if len(size) == 4:
        return lambda z, y: loss(z, y, ignore_index=255)
    return loss


def time_pair(loss: Callable, ce: Callable, logits: torch.Tensor,
              labels: torch.Tensor, repeat: int,
              device: torch.device) -> Tuple[float, float]:
    """Seconds of one forward+backward of ``loss`` and of ``ce``, timed in
    alternation (see the module's docstring)."""
    timer = Timer(device)
    z = logits.detach().requires_grad_(True)

    def once(fn):
        return lambda: fn(z, labels).backward()

    calls = CUDA_CALLS if device.type == 'cuda' else 1
    for _ in range(3):  # warm-up
        once(loss)()
        once(ce)()
    synchronize(device)
    loss_t, ce_t = [], []
    for _ in range(repeat):
        loss_t.append(timer(once(loss), calls))
        ce_t.append(timer(once(ce), calls))
    if device.type == 'cuda':
        return statistics.median(loss_t), statistics.median(ce_t)
    return min(loss_t), min(ce_t)


def time_update(device: torch.device, C: int = 8142, N: int = 30) -> float:
    """Median milliseconds of ``GHMCWAPLoss.update()`` at iNaturalist
    size."""
    from mmghm.models.losses import GHMCWAPLoss
    loss = GHMCWAPLoss(C, num_bins=N).to(device)
    timer = Timer(device)
    times = []
    for k in range(12):
        loss.density.uniform_(0, 100)
        synchronize(device)
        t = timer(loss.update)
        if k >= 2:
            times.append(t)
    return statistics.median(times) * 1e3


def run(sizes: List[Tuple[int, ...]], losses: Dict[str, dict], repeat: int,
        device: torch.device, compiled_names=()) -> Tuple[list, list]:
    gen = torch.Generator().manual_seed(0)
    columns = ['loss'] + [size_name(s) for s in sizes]
    inputs = [make_inputs(s, gen, device) for s in sizes]
    ce_ms: List[Optional[float]] = [None] * len(sizes)
    rows = []
    for name, cfg in losses.items():
        row = {'loss': name}
        for k, (size, (logits, labels, counts)) in enumerate(
                zip(sizes, inputs)):
            key = size_name(size)
            if name.startswith('mmpretrain') and len(size) == 4:
                row[key] = None
                continue
            try:
                module, loss = build(cfg, size[1], counts, device,
                                     compiled=name in compiled_names)
                call = loss_call(loss, size)
                if hasattr(module, 'update'):  # steady state: 2nd epoch on
                    call(logits, labels)
                    module.update()
                loss_t, ce_t = time_pair(call, reference_ce(size), logits,
                                         labels, repeat, device)
            except (ValueError, TypeError, RuntimeError) as e:
                print(f'  {name} at {key}: {type(e).__name__}: {e}')
                row[key] = None
                continue
            ce_ms[k] = ce_t * 1e3 if ce_ms[k] is None else \
                min(ce_ms[k], ce_t * 1e3)
            row[key] = round(loss_t / ce_t, 3)
        rows.append(row)
        print('  done:', name, flush=True)
    rows.insert(0, dict({'loss': 'CrossEntropyLoss (ms)'}, **{
        size_name(s): None if t is None else round(t, 4)
        for s, t in zip(sizes, ce_ms)
    }))
    return columns, rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', type=parse_size, default=None)
    parser.add_argument('--losses', nargs='+', default=None,
                        help='names as in the table (default: all)')
    parser.add_argument('--repeat', type=int, default=50)
    parser.add_argument('--compiled', action='store_true',
                        help='add torch.compile-d GHM-CWAP rows')
    add_device_args(parser, 'losses')
    args = parser.parse_args(argv)
    device = setup_device(args)
    sizes = args.sizes or [parse_size(s) for s in DEFAULT_SIZES[device.type]]
    losses = registered_losses()
    if args.compiled:
        losses.update(COMPILED)
    if args.losses:
        unknown = set(args.losses) - set(losses)
        if unknown:
            raise SystemExit(f'unknown losses {sorted(unknown)}; '
                             f'known: {sorted(losses)}')
        losses = {k: losses[k] for k in args.losses}
    method = (f'forward+backward; the fastest of {args.repeat} single calls '
              'of each, wall clock' if device.type == 'cpu' else
              f'forward+backward; median of {args.repeat} rounds of '
              f'{CUDA_CALLS} consecutive calls, CUDA events')
    print(f'torch {torch.__version__}, {device}, '
          f'{torch.get_num_threads()} CPU threads; {method}; alternating '
          'with CrossEntropyLoss; ratio = time / CrossEntropyLoss time')
    columns, rows = run(sizes, losses, args.repeat, device,
                        compiled_names=set(COMPILED))
    scalars = {}
    if 'GHMCWAPLoss' in losses:
        scalars['ghm_cwap_update_ms_c8142_n30'] = round(
            time_update(device), 3)

    def fmt(col, row):
        value = row.get(col)
        if col == 'loss':
            return value
        if value is None:
            return 'n/a'
        return f'{value:.2f}' if row is rows[0] else f'{value:.2f}x'

    print()
    print(markdown_table(columns, rows, fmt))
    for key, value in scalars.items():
        print(f'\n{key}: {value:.2f}')
    path = save_result(
        args, 'losses', device, columns, rows,
        measured=dict(tool='tools/analysis/benchmark_losses.py',
                      method=method,
                      reference='mmpretrain CrossEntropyLoss (BxC); '
                      'F.cross_entropy(ignore_index=255) (NxCxHxW)',
                      state='training mode, class counts set, one '
                      'GHM-CWAP update done',
                      threads=torch.get_num_threads()),
        scalars=scalars)
    if path:
        print(f'\nwrote {path}')
    return dict(columns=columns, rows=rows, scalars=scalars)


if __name__ == '__main__':
    reexec_with_reused_memory()
    main()
