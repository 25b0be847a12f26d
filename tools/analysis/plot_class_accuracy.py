"""Per-class accuracy against training frequency, for one or several runs.

Input: the JSON files that ``GroupAccuracy(out_file=...)`` writes at each
evaluation (per-class accuracy, training counts, groups). For example::

    # in the config (or --cfg-options test_evaluator.out_file=...)
    test_evaluator = dict(type='mmghm.GroupAccuracy', mode='quantile',
                          out_file='per_class.json')
    custom_hooks = [dict(type='mmghm.ClassCountsHook')]

    python tools/test.py CONFIG_CE  CKPT_CE  --work-dir work_dirs/ce
    python tools/test.py CONFIG_GHM CKPT_GHM --work-dir work_dirs/ghm
    python tools/analysis/plot_class_accuracy.py \\
        work_dirs/ce/per_class.json work_dirs/ghm/per_class.json \\
        --labels CE GHM-CWAP --out work_dirs/ce_vs_ghm_class_accuracy.png

Classes are placed left to right from the most to the least frequent in
training (the bars, right axis, log scale); each run is a line of per-class
top-1 accuracy (left axis); dashed lines separate the frequency groups and
the legend gives each run's top-1 and group accuracies.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmghm.visualization.class_accuracy import (load_result,
                                                plot_class_accuracy)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot per-class accuracy against training frequency '
        'from GroupAccuracy JSON files (one per run).')
    parser.add_argument('results', nargs='+',
                        help='JSON files written by GroupAccuracy(out_file)')
    parser.add_argument('--labels', nargs='+',
                        help='legend label per run (default: file names)')
    parser.add_argument('--out', default=None,
                        help='output PNG (default: class_accuracy.png '
                        'beside the first JSON file)')
    parser.add_argument('--title', default=None)
    parser.add_argument('--window', type=int, default=1,
                        help='moving-average window over classes')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    labels = args.labels or [
        osp.basename(osp.dirname(osp.abspath(p))) or p for p in args.results
    ]
    results = [load_result(p) for p in args.results]
    out = args.out or osp.join(osp.dirname(osp.abspath(args.results[0])),
                               'class_accuracy.png')
    out = plot_class_accuracy(results, labels, out, args.title, args.window)
    print(f'Saved {out}')


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'plot_class_accuracy.py: {e}')
