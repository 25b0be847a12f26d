"""The harness's command line (``tools/analysis/reproduce_cifar_lt.py``,
``python -m mmghm.engine.fast_train``) and its hyper-parameter sweeps."""
import time
from itertools import product
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from mmghm.results import write_result
from mmghm.utils.provenance import code_commit, device_description
from .config import HarnessOptions, RunSpec, load_run_config
from .data import ImageSet, load_image_sets
from .loop import check_graphs, compare_with_runner, train_runs
from .records import default_suite, result_file, result_record
from .run import TrainRun

__all__ = ['SWEEP_SHORTHANDS', 'expand_sweep', 'build_parser',
           'options_from_args', 'main']

#: ``--sweep`` shorthands for GHM-CWAP's hyper-parameters.
SWEEP_SHORTHANDS = {
    'alpha': 'model.head.loss.alpha',
    'gamma': 'model.head.loss.gamma',
    'num_bins': 'model.head.loss.num_bins',
    'N': 'model.head.loss.num_bins',
}


def _parse_value(text: str):
    import ast
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def expand_sweep(items: Sequence[str]) -> List[Tuple[str, List[str]]]:
    """``['alpha=0.5,0.9', 'gamma=0.4,0.8']`` -> the grid of variants.

    Keys are config keys (``model.head.loss.alpha``) or the shorthands
    ``alpha``, ``gamma``, ``num_bins`` (``N``). Values are Python literals
    (no code is run). A variant is named by the last part of each key, in
    lower case with ``-`` for ``_``, and its value (``alpha0.5-n10``), as
    result file names (:func:`mmghm.results.result_path`) want them.

    Returns:
        list of (variant name, cfg_options) in grid order.
    """
    axes = []
    for item in items:
        if '=' not in item:
            raise ValueError(f'--sweep takes KEY=V1,V2,..., got {item!r}.')
        key, values = item.split('=', 1)
        full = SWEEP_SHORTHANDS.get(key, key)
        vals = [v for v in values.split(',') if v != '']
        if not vals:
            raise ValueError(f'--sweep {key} has no values.')
        for v in vals:
            if not isinstance(_parse_value(v), (int, float, bool, str)):
                raise ValueError(f'--sweep {key}: {v!r} is not a number, '
                                 'bool or string.')
        short = key.split('.')[-1].lower().replace('_', '-')
        axes.append([(f'{short}{v}', f'{full}={v}') for v in vals])
    return [('-'.join(n for n, _ in combo), [o for _, o in combo])
            for combo in product(*axes)]


def build_parser():
    import argparse
    parser = argparse.ArgumentParser(
        description='Train configs (several methods and seeds at once) with '
        'data decoded once onto the device; write one result file a run.')
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides for every config')
    parser.add_argument('--sweep', nargs='+', default=[],
                        help='KEY=V1,V2 grids (alpha, gamma, num_bins or any '
                        'config key); needs --val-split')
    parser.add_argument('--val-split', type=float, default=None,
                        help='evaluate on this share of each training class '
                        '(held out of training), never on the test set')
    parser.add_argument('--val-seed', type=int, default=0)
    parser.add_argument('--pack', help='image pack (tools/analysis/'
                        'pack_cifar_lt.py) to read instead of the data roots')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda when available)')
    parser.add_argument('--epochs', type=int, default=None,
                        help='override max_epochs (smoke tests)')
    parser.add_argument('--max-train', type=int, default=None)
    parser.add_argument('--max-test', type=int, default=None)
    parser.add_argument('--no-aug', action='store_true',
                        help='no random crop/flip (equivalence checks)')
    parser.add_argument('--channels-last', choices=['auto', 'on', 'off'],
                        default='auto', help='auto: on for CUDA')
    parser.add_argument('--cuda-graphs', choices=['auto', 'off'],
                        default='auto')
    parser.add_argument('--cudnn-benchmark', choices=['auto', 'on', 'off'],
                        default='auto', help='auto: on for CUDA')
    parser.add_argument('--bf16', action='store_true',
                        help='bf16 autocast; compare with fp32 first')
    parser.add_argument('--eval-interval', type=int, default=0)
    parser.add_argument('--time-limit', type=float, default=None,
                        help='seconds; stop after the epoch that would '
                        'pass it (results go to a *_partial suite)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads (torch.set_num_threads)')
    parser.add_argument('--out-dir', default='results')
    parser.add_argument('--suite', default=None)
    parser.add_argument('--no-write', action='store_true')
    parser.add_argument('--check-graphs', action='store_true',
                        help='first train each config for 3 short epochs '
                        'eagerly and with CUDA graphs and compare; a run '
                        'whose graphs disagree trains eagerly')
    parser.add_argument('--compare-runner', type=int, default=0,
                        metavar='ITERS',
                        help='only time ITERS steps of the harness against '
                        'the Runner path (DataLoader + train_step) for '
                        'each config, and print images/s')
    return parser


def options_from_args(args) -> HarnessOptions:
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    cuda = device.startswith('cuda')

    def auto(value: str) -> bool:
        return cuda if value == 'auto' else value == 'on'

    if args.sweep and not args.val_split:
        raise SystemExit('--sweep needs --val-split: hyper-parameters are '
                         'chosen on a split of the training set, never on '
                         'the test set.')
    if args.bf16 and not cuda:
        raise SystemExit('--bf16 is for CUDA runs.')
    return HarnessOptions(
        device=device, augment=not args.no_aug,
        channels_last=auto(args.channels_last), bf16=args.bf16,
        cuda_graphs=cuda and args.cuda_graphs == 'auto',
        cudnn_benchmark=auto(args.cudnn_benchmark), epochs=args.epochs,
        eval_interval=args.eval_interval, val_split=args.val_split,
        val_seed=args.val_seed, max_train=args.max_train,
        max_test=args.max_test, time_limit=args.time_limit)


def _data_key(cfg: Config, pack: Optional[str], with_test: bool) -> str:
    parts = [repr(cfg.train_dataloader.dataset), str(pack), str(with_test)]
    if with_test:
        parts.append(repr(cfg.val_dataloader.dataset))
    return '\n'.join(parts)


def main(argv: Optional[Sequence[str]] = None,
         log: Callable[[str], None] = print) -> List[dict]:
    """The CLI of ``tools/analysis/reproduce_cifar_lt.py``.

    Returns:
        list[dict]: The result records (also written unless ``--no-write``).
    """
    t_main = time.perf_counter()
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    options = options_from_args(args)
    device = torch.device(options.device)
    torch.backends.cudnn.benchmark = options.cudnn_benchmark
    variants = expand_sweep(args.sweep) if args.sweep else [(None, [])]
    specs = [
        RunSpec(config=c, seed=s, cfg_options=list(args.cfg_options) + opts,
                variant=name)
        for c in args.configs for name, opts in variants for s in args.seeds
    ]
    if not args.no_write:  # names a result file cannot have: before training
        for spec in specs:
            try:
                result_file(args.out_dir, args.suite or default_suite(
                    spec, options, device), spec)
            except ValueError as e:
                raise SystemExit(f'{spec.name}: no result file can be '
                                 f'written: {e}') from e
    data_cache: Dict[str, Dict[str, ImageSet]] = {}
    runs = []
    t0 = time.perf_counter()
    for spec in specs:
        cfg = load_run_config(spec, options.epochs)
        with_test = not options.val_split
        key = _data_key(cfg, args.pack, with_test)
        if key not in data_cache:
            data_cache[key] = load_image_sets(cfg, device, args.pack,
                                              with_test=with_test)
            sets = data_cache[key]
            log('decoded ' + ', '.join(f'{k}: {v.description}'
                                       for k, v in sets.items()))
        runs.append(TrainRun(spec, data_cache[key], options))
    log(f'built {len(runs)} run(s) in {time.perf_counter() - t0:.1f} s on '
        f'{device_description(device)}')
    if args.check_graphs and options.cuda_graphs:
        checked: Dict[str, dict] = {}
        for run in runs:
            if run.spec.config not in checked:
                t = time.perf_counter()
                checked[run.spec.config] = res = check_graphs(
                    run.spec, run.data_sets, options)
                log(f'graph check {run.spec.stem}: max relative weight '
                    f'difference {res["max_rel_diff"]:.2e} after '
                    f'{res["steps"]} steps ({res["replays"]} replayed), '
                    f'{res["graph_note"]}, {time.perf_counter() - t:.1f} s')
            res = checked[run.spec.config]
            if res['max_rel_diff'] > 1e-3:
                run.use_graphs = False
                run.graph_note = (f'eager: graph check differed '
                                  f'({res["max_rel_diff"]:.1e})')
    if args.compare_runner:
        for run in runs:
            res = compare_with_runner(run, args.compare_runner)
            log(f'{run.spec.name}: harness {res["harness"]:.1f} images/s, '
                f'Runner path (DataLoader + train_step) {res["runner"]:.1f} '
                f'images/s, ratio {res["ratio"]:.2f} (median of '
                f'{res["rounds"]} alternating rounds of {res["iters"]} '
                'iterations)')
        return []
    if options.time_limit is not None:  # counted from the start of main
        options.time_limit -= time.perf_counter() - t_main
        log(f'{options.time_limit:.0f} s left for training')
    wall = train_runs(runs, log=log)
    commit = code_commit() or 'unknown'
    records = []
    log(f'{"run":60s} {"epochs":>6s} {"top-1":>6s} {"time s":>7s} '
        f'{"images/s":>9s}  steps')
    for run in runs:
        record = result_record(run, wall, len(runs), commit)
        records.append(record)
        top1 = record['metrics'].get('accuracy/top1')
        log(f'{run.spec.name:60s} {run.epochs_done:6d} '
            f'{top1 if top1 is not None else float("nan"):6.2f} '
            f'{run.train_time:7.1f} {run.images_seen / wall:9.0f}  '
            f'{run.graph_note}')
        if not args.no_write:
            suite = args.suite or default_suite(run.spec, options, device,
                                                run.stopped_early)
            path = write_result(record, args.out_dir, suite)
            log(f'  -> {path}')
    total = sum(r.images_seen for r in runs)
    log(f'all: {wall:.1f} s wall, {total / wall:.0f} images/s, '
        f'{wall / max(len(runs), 1):.1f} s a run on average')
    return records
