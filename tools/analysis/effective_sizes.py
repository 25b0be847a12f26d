"""How GHM-CWAP's effective sizes and margins relate to the class counts.

Reads a checkpoint of a run with ``GHMCWAPLoss`` and prints, per class, the
training count ``n_c`` (``meta['mmghm_class_counts']``, written by
``ClassCountsHook``), the effective size ``S_c = max(1, sum_i v_i^alpha)``
of its reference histogram (method.md §3), and the one-sided margin an
example of the largest class puts on that class's logit,
``gamma * min(0, log S_c - log S_head)`` (Eq. 2). Last, the least-squares
slope of ``log S`` on ``log n``: near 1 means the effective sizes follow
the class counts, so the paper's margins act like a (one-sided) logit
adjustment by the counts.

Example::

    python tools/analysis/effective_sizes.py work_dirs/ghm-cwap/epoch_30.pth
    python tools/analysis/effective_sizes.py CKPT --json sizes.json
"""
import argparse
import math
import sys

import mmghm  # noqa: F401  (registers the modules)
from mmghm.models.losses.ghm_cwap_functional import effective_size
from mmghm.utils.checkpoint import load_checkpoint_file
from mmghm.utils.files import atomic_json_dump
from mmghm.visualization.grad_hist_state import (find_loss_key, loss_buffer,
                                                 loss_config)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Effective sizes S_c of a GHM-CWAP checkpoint against '
        'the training class counts, and the margins they give.')
    parser.add_argument('checkpoint', help='.pth saved by an mmghm run')
    parser.add_argument('--loss-key', default=None,
                        help='module path of the loss (e.g. '
                        'head.loss_module); needed only if there are several')
    parser.add_argument('--json', default=None,
                        help='also write the numbers to this JSON file')
    return parser.parse_args(argv)


def _slope(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def study(checkpoint: dict, loss_key=None) -> dict:
    """The numbers the script prints, from a loaded checkpoint.

    Raises:
        ValueError: naming what is missing (no GHM-CWAP loss, several
            without ``loss_key``, no saved configuration, no class
            counts).
    """
    state = checkpoint.get('state_dict', checkpoint)
    prefix = find_loss_key(state, loss_key)
    config = loss_config(state, prefix)
    if config is None:
        raise ValueError(f'the loss {prefix!r} has no saved configuration '
                         '(checkpoints of mmghm before it): alpha and gamma '
                         'are unknown.')
    counts = checkpoint.get('meta', {}).get('mmghm_class_counts')
    if counts is None:
        raise ValueError('the checkpoint has no meta["mmghm_class_counts"] '
                         '(written by ClassCountsHook); the counts are '
                         'needed to compare with.')
    sizes = effective_size(loss_buffer(state, prefix, 'ref_density').double(),
                           config['alpha']).tolist()
    if len(counts) != len(sizes):
        raise ValueError(f'{len(counts)} class counts but {len(sizes)} '
                         'classes in the loss.')
    head = max(range(len(counts)), key=lambda c: counts[c])
    gamma = config['gamma']
    margins = [gamma * min(0.0, math.log(s) - math.log(sizes[head]))
               for s in sizes]
    seen = [c for c in range(len(counts)) if counts[c] > 0]
    slope = _slope([math.log(counts[c]) for c in seen],
                   [math.log(sizes[c]) for c in seen])
    return dict(loss=prefix, alpha=config['alpha'], gamma=gamma,
                margin=config['margin'], class_counts=list(counts),
                effective_sizes=sizes, head_margins=margins,
                slope_log_s_on_log_n=slope)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = load_checkpoint_file(args.checkpoint)
    try:
        res = study(checkpoint, args.loss_key)
    except ValueError as err:
        sys.exit(f'{args.checkpoint}: {err}')
    print(f'{res["loss"]}: alpha={res["alpha"]}, gamma={res["gamma"]}, '
          f'margin={res["margin"]}')
    print(f'{"class":>5} {"n_c":>8} {"S_c":>10} {"margin (head example)":>22}')
    for c, (n, s, m) in enumerate(zip(res['class_counts'],
                                      res['effective_sizes'],
                                      res['head_margins'])):
        print(f'{c:>5} {n:>8} {s:>10.1f} {m:>22.3f}')
    print(f'slope of log S on log n: {res["slope_log_s_on_log_n"]:.3f}')
    if args.json:
        atomic_json_dump(res, args.json, indent=1)
        print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
