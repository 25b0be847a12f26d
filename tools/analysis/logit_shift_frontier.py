"""How far can a post-hoc logit shift move each trained model toward a
head-preserving target? (The study behind README's "Where GHM-CWAP trails
its peers".)

For each method (one or more seeds of test predictions), the test-time
scores are shifted by ``-tau * log n_c`` for every ``tau`` of a grid, and
the group accuracies are averaged over the seeds at each ``tau``
(:mod:`mmghm.evaluation.logit_shift`; ``tau > 0`` favours the rare
classes). The tool prints, per method, three points: the model as trained
(``tau = 0``); each ``--fixed-tau`` (default 1: Menon et al.'s post-hoc
logit adjustment, fixed in advance, so a fair result); and the shift with
the best ``--gain`` group accuracy among those that keep the ``--keep``
group within ``--drop`` points of the reference method as trained. Each
says whether it meets the target "keep within ``--drop``, and at least
``--share`` of the ``--method``'s gain on the ``--gain`` group".

That last ``tau`` is chosen on the test set: an *oracle* bound on what
any post-hoc shift (or a re-balancing that acts like one) of that trained
model can do, not a method to report as a result.

Inputs: ``tools/test.py CONFIG CKPT --out FILE.pkl`` per checkpoint, and
one ``GroupAccuracy(out_file=...)`` JSON for the training class counts and
groups (every run of one data set shares them)::

    python tools/test.py $CFG $RUN/epoch_30.pth --out preds/ce_s0.pkl \\
        --cfg-options test_evaluator.1.out_file=preds/groups.json
    python tools/analysis/logit_shift_frontier.py \\
        --run Softmax preds/ce_s0.pkl preds/ce_s1.pkl \\
        --run GHM-CWAP preds/ghm_s0.pkl preds/ghm_s1.pkl \\
        --groups preds/groups.json --reference Softmax --method GHM-CWAP \\
        --out results/benchmarks/logit_shift_frontier_cpu.json
"""
import argparse
import datetime
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

import torch
from benchmark_utils import ROOT, markdown_table

from mmghm.evaluation.logit_shift import (best_shift, logit_shift_curve,
                                          mean_curve)
from mmghm.results.files import BENCHMARK_SCHEMA, write_benchmark
from mmghm.utils.predictions import load_predictions, prediction_arrays
from mmghm.utils.provenance import code_commit


def columns(group_names: List[str]) -> List[str]:
    return ['method', 'seeds', 'point', 'tau', 'top1', *group_names,
            'target']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Group accuracies of trained models under post-hoc '
        'logit shifts -tau * log(n_c), against a head-preserving target.')
    parser.add_argument('--run', nargs='+', action='append', required=True,
                        metavar=('LABEL', 'PRED_PKL'),
                        help='a method: its label, then one tools/test.py '
                        '--out file per seed (repeat --run per method)')
    parser.add_argument('--groups', required=True,
                        help='a GroupAccuracy out_file JSON: the training '
                        'class counts and the grouping')
    parser.add_argument('--reference', required=True,
                        help='label of the method whose --keep accuracy '
                        'sets the floor (e.g. cross-entropy)')
    parser.add_argument('--method', required=True,
                        help='label of the method whose --gain over the '
                        'reference the target asks to keep a share of')
    parser.add_argument('--keep', default='many',
                        help='group that must stay within --drop points')
    parser.add_argument('--gain', default='few', help='group to maximise')
    parser.add_argument('--drop', type=float, default=1.0,
                        help='points of --keep allowed below the reference')
    parser.add_argument('--share', type=float, default=0.8,
                        help="share of --method's --gain gain to keep")
    parser.add_argument('--taus', nargs=3, type=float,
                        default=[-2.0, 1.5, 0.05],
                        metavar=('START', 'STOP', 'STEP'),
                        help='tau grid, STOP included (default -2 1.5 '
                        '0.05)')
    parser.add_argument('--fixed-tau', type=float, nargs='*', default=[1.0],
                        help='taus fixed in advance to report for every '
                        'method (default 1: Menon et al.)')
    parser.add_argument('--device', default=None,
                        help='how the checkpoints were trained, for the '
                        'result file (default: not stated)')
    parser.add_argument('--note', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='extra "how measured" entries for the file')
    parser.add_argument('--out', help='write a mmghm.benchmark/1 file')
    return parser.parse_args(argv)


def tau_grid(start: float, stop: float, step: float) -> List[float]:
    if step <= 0 or stop < start:
        raise ValueError(f'--taus needs START <= STOP and STEP > 0, got '
                         f'{start} {stop} {step}.')
    count = int(round((stop - start) / step)) + 1
    return [round(start + i * step, 10) for i in range(count)]


def load_groups(path: str) -> Dict:
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    for key in ('class_counts', 'mode', 'group_names'):
        if key not in data:
            raise ValueError(f'{path}: not a GroupAccuracy out_file (no '
                             f'{key!r}).')
    return data


def method_curve(paths: List[str], groups: Dict,
                 taus: List[float]) -> List[Dict]:
    curves = []
    for path in paths:
        scores, target = prediction_arrays(load_predictions(path))
        curves.append(logit_shift_curve(
            scores, target, groups['class_counts'], taus, groups['mode'],
            groups.get('thresholds'), len(groups['group_names']),
            groups['group_names']))
    return mean_curve(curves)


def _at_tau(curve: List[Dict], tau: float, missing: str) -> Dict:
    for r in curve:
        if abs(r['tau'] - tau) < 1e-9:
            return r
    raise ValueError(missing)


def frontier_rows(curves: Dict[str, List[Dict]], num_seeds: Dict[str, int],
                  args: argparse.Namespace) -> (List[Dict], Dict):
    for label in (args.reference, args.method):
        if label not in curves:
            raise ValueError(f'{label!r} is not a --run label; labels: '
                             f'{list(curves)}.')
    at_zero = {label: _at_tau(c, 0.0, 'the tau grid must contain 0 (the '
                              'models as trained).')
               for label, c in curves.items()}
    ref, meth = at_zero[args.reference], at_zero[args.method]
    floor = ref[args.keep] - args.drop
    needed = ref[args.gain] + args.share * (meth[args.gain] - ref[args.gain])
    target = dict(keep=args.keep, floor=round(floor, 2), gain=args.gain,
                  needed=round(needed, 2))

    def row(label, point, r):
        out = dict(method=label, seeds=num_seeds[label], point=point)
        if r is None:
            return dict(out, target='no tau of the grid keeps the floor')
        out.update({k: round(r[k], 2) for k in
                    ('tau', 'top1', *args.group_names)})
        met = r[args.keep] >= floor and r[args.gain] >= needed
        return dict(out, target='met' if met else 'missed')

    rows = []
    for label, curve in curves.items():
        rows.append(row(label, 'as trained', at_zero[label]))
        for tau in args.fixed_tau:
            rows.append(row(label, f'tau fixed at {tau:g}', _at_tau(
                curve, tau, f'--fixed-tau {tau:g} is not on the --taus '
                'grid.')))
        rows.append(row(label, f'best {args.gain}, {args.keep} >= floor '
                        '(oracle tau)',
                        best_shift(curve, args.keep, floor, args.gain)))
    return rows, target


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    taus = tau_grid(*args.taus)
    groups = load_groups(args.groups)
    args.group_names = list(groups['group_names'])
    cols = columns(args.group_names)
    for key in (args.keep, args.gain):
        if key not in args.group_names:
            raise ValueError(f'--keep/--gain {key!r} is not a group of '
                             f'{args.groups}; groups: {args.group_names}.')
    curves, num_seeds = {}, {}
    for label, *paths in args.run:
        if not paths:
            raise ValueError(f'--run {label} names no predictions file.')
        if label in curves:
            raise ValueError(f'--run {label} is given twice.')
        curves[label] = method_curve(paths, groups, taus)
        num_seeds[label] = len(paths)
    rows, target = frontier_rows(curves, num_seeds, args)
    print(f'floor: {args.keep} >= {target["floor"]:.2f}; target: '
          f'{args.gain} >= {target["needed"]:.2f} (oracle rows: tau '
          'chosen on the test set, a bound, not a result)')
    print(markdown_table(cols, rows, lambda c, r: (
        f'{r[c]:.2f}' if isinstance(r.get(c), float) else
        str(r.get(c, '-')))))
    if args.out:
        notes = dict(n.split('=', 1) for n in args.note)
        result = dict(
            schema=BENCHMARK_SCHEMA, benchmark='logit_shift_frontier',
            device=args.device or 'not stated', torch=torch.__version__,
            measured=dict(
                tool='tools/analysis/logit_shift_frontier.py',
                shift='test-time scores log p_c - tau * log n_c (n_c: '
                'training images of class c); group accuracies averaged '
                'over the seeds at each tau',
                taus=f'{taus[0]} to {taus[-1]} step {args.taus[2]}',
                selection='as trained: tau 0; fixed: tau set in advance '
                '(1: Menon et al., ICLR 2021); oracle: tau chosen on the '
                'test set, a bound on what a post-hoc shift of the trained '
                'model can do, not a result to report',
                target=f'{args.keep} >= {target["floor"]:.2f} ('
                f'{args.reference} as trained - {args.drop:g}) and '
                f'{args.gain} >= {target["needed"]:.2f} ({args.share:.0%} '
                f'of {args.method}\'s {args.gain} gain over '
                f'{args.reference})',
                **notes,
                commit=code_commit(ROOT),
                date=datetime.date.today().isoformat()),
            columns=[c if c in ('method', 'seeds', 'point', 'target')
                     else dict(key=c, label='Top-1' if c == 'top1' else
                               c.capitalize(), format='{:.2f}')
                     for c in cols],
            rows=rows, target=target,
            curves={label: [{k: round(v, 3) for k, v in r.items()}
                            for r in curve]
                    for label, curve in curves.items()})
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        write_benchmark(result, args.out)
        print(f'Saved {args.out}')


if __name__ == '__main__':
    try:
        main()
    except (ValueError, KeyError, FileNotFoundError) as e:
        sys.exit(f'logit_shift_frontier.py: {e}')
