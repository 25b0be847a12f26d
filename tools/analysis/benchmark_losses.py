"""Forward+backward time (and peak memory) of mmghm's losses as a ratio to
MMPretrain's ``CrossEntropyLoss``, measured in the same run.

    python tools/analysis/benchmark_losses.py [--sizes 128x10 256x1000 ...]
        [--losses GHMCWAPLoss ...] [--repeat 20] [--threads N]

Sizes are ``BxC`` (classification) or ``NxCxHxW`` (segmentation, per-pixel).
Each loss is timed in training mode after warm-up, with its statistics
(histograms, class counts) in a steady state: class counts set, and one
GHM-CWAP update done, as from the second epoch on. Each loss is timed in
alternation with cross-entropy on the same input, and the ratio is fastest /
fastest, so that load from other processes affects both alike. Prints a
Markdown table; ratios < 1 are faster than cross-entropy.
"""
import argparse
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch

import mmghm  # noqa: F401
from mmghm.registry import MODELS

#: name -> (config, needs class counts). Other losses add themselves here.
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
#: Losses registered in mmghm that need ``num_classes``/class counts are
#: added automatically by :func:`registered_losses`.

DEFAULT_SIZES = ['128x10', '256x1000', '512x8142', '8x19x128x128']


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


def build(cfg: dict, num_classes: int, counts: torch.Tensor):
    cfg = dict(cfg)
    if cfg['type'] in ('mmpretrain.SeesawLoss', ):
        cfg['num_classes'] = num_classes
    else:
        cfg.setdefault('num_classes', num_classes)
    try:
        loss = MODELS.build(cfg)
    except TypeError:
        cfg.pop('num_classes')
        loss = MODELS.build(cfg)
    if hasattr(loss, 'set_class_counts'):
        loss.set_class_counts(counts)
    return loss.train()


def make_inputs(size: Tuple[int, ...], gen: torch.Generator):
    C = size[1]
    logits = torch.randn(*size, generator=gen) * 2
    label_shape = (size[0], ) + size[2:]
    # long-tailed labels: class c with probability ~ (1/100)^(c/(C-1))
    probs = torch.pow(0.01, torch.arange(C) / max(C - 1, 1))
    labels = torch.multinomial(
        probs, int(torch.tensor(label_shape).prod()), replacement=True,
        generator=gen).view(label_shape)
    counts = torch.bincount(labels.view(-1), minlength=C) * 10 + 1
    return logits, labels, counts


def _once(loss: Callable, logits: torch.Tensor, labels: torch.Tensor
          ) -> float:
    z = logits.detach().requires_grad_(True)
    start = time.perf_counter()
    loss(z, labels).backward()
    return time.perf_counter() - start


def time_pair(loss: Callable, ce: Callable, logits: torch.Tensor,
              labels: torch.Tensor, repeat: int) -> Tuple[float, float]:
    """Fastest forward+backward of ``loss`` and of ``ce``, timed in
    alternation so that load from other processes hits both alike."""
    for _ in range(3):  # warm-up
        _once(loss, logits, labels)
        _once(ce, logits, labels)
    loss_t, ce_t = [], []
    for _ in range(repeat):
        loss_t.append(_once(loss, logits, labels))
        ce_t.append(_once(ce, logits, labels))
    return min(loss_t), min(ce_t)


def reference_ce(size: Tuple[int, ...]) -> Callable:
    """MMPretrain's CrossEntropyLoss; per pixel as MMSegmentation's."""
    if len(size) == 4:
        return lambda z, y: torch.nn.functional.cross_entropy(z, y)
    return MODELS.build(dict(type='mmpretrain.CrossEntropyLoss'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', type=parse_size,
                        default=[parse_size(s) for s in DEFAULT_SIZES])
    parser.add_argument('--losses', nargs='+', default=None,
                        help='names as in the table (default: all)')
    parser.add_argument('--repeat', type=int, default=15)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: torch default)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    losses = registered_losses()
    if args.losses:
        unknown = set(args.losses) - set(losses)
        if unknown:
            raise SystemExit(f'unknown losses {sorted(unknown)}; '
                             f'known: {sorted(losses)}')
        losses = {k: losses[k] for k in args.losses}

    gen = torch.Generator().manual_seed(0)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          'forward+backward, fastest of '
          f'{args.repeat}, alternating with CrossEntropyLoss; '
          'ratio = time / CrossEntropyLoss time')
    header = ['loss'] + ['x'.join(map(str, s)) for s in args.sizes]
    rows = []
    inputs = [make_inputs(s, gen) for s in args.sizes]
    ce_ms = [None] * len(args.sizes)
    for name, cfg in losses.items():
        row = [name]
        for k, (size, (logits, labels, counts)) in enumerate(
                zip(args.sizes, inputs)):
            C = size[1]
            if name.startswith('mmpretrain') and len(size) == 4:
                row.append('n/a')
                continue
            try:
                loss = build(cfg, C, counts)
                if hasattr(loss, 'update'):  # steady state: 2nd epoch on
                    loss(logits, labels)
                    loss.update()
                loss_t, ce_t = time_pair(loss, reference_ce(size), logits,
                                         labels, args.repeat)
                ce_ms[k] = ce_t * 1e3 if ce_ms[k] is None else \
                    min(ce_ms[k], ce_t * 1e3)
                row.append(f'{loss_t / ce_t:.2f}x')
            except (ValueError, TypeError, RuntimeError) as e:
                row.append(f'n/a ({type(e).__name__})')
        rows.append(row)
        print('  done:', name, flush=True)
    rows.insert(0, ['CrossEntropyLoss (ms, fastest)'] +
                [f'{t:.2f}' if t is not None else 'n/a' for t in ce_ms])
    if 'GHMCWAPLoss' in losses:
        loss = build(losses['GHMCWAPLoss'], 8142, torch.ones(8142))
        loss.density.uniform_(0, 100)
        loss.update()
        times = []
        for _ in range(10):
            loss.density.uniform_(0, 100)
            start = time.perf_counter()
            loss.update()
            times.append(time.perf_counter() - start)
        update_ms = statistics.median(times) * 1e3
    print()
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')
    if 'GHMCWAPLoss' in losses:
        print(f'\nGHMCWAPLoss.update() at C=8142, N=30: {update_ms:.2f} ms')


if __name__ == '__main__':
    main()
