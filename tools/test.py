"""Evaluate a checkpoint on the test set of a config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--out-item {pred,metrics}] [--show-dir DIR] [--partial-load]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

A checkpoint whose weights do not fit the config's model (missing or
unexpected keys, other shapes) is refused unless --partial-load is given
(docs/security.md, "Resume, loading and result files").
"""
import argparse
import os
import os.path as osp

import mmengine
import mmghm  # noqa: F401  (registers modules, checkpoint allow-list)
from mmengine.dist import is_main_process
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmghm.utils import (add_common_args, describe_launch, explain_timeouts,
                         load_config)
from mmghm.utils.files import atomic_write, temporary_name


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump predictions (.pkl) or metrics (.json/.yaml/.pkl)')
    parser.add_argument(
        '--out-item', choices=['pred', 'metrics'], default='pred',
        help='what --out holds (default: the per-sample predictions)')
    parser.add_argument(
        '--show-dir',
        help='save prediction images to this folder (under the work dir); '
        'needs default_hooks.visualization in the config')
    parser.add_argument(
        '--interval', type=int, default=1,
        help='visualize every this many test images (with --show-dir)')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    cfg.resume = False  # a config's resume=True is for tools/train.py
    if args.show_dir is not None:
        vis = cfg.get('default_hooks', {}).get('visualization')
        if vis is None:
            raise KeyError('--show-dir needs default_hooks.visualization = '
                           "dict(type='VisualizationHook') in the config")
        vis.update(enable=True, out_dir=args.show_dir,
                   interval=args.interval)
    with explain_timeouts(cfg):
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
            else RUNNERS.build(cfg)
        describe_launch(runner)
        if args.work_dir is None:
            # The work dir is the training's: a relative out_file (e.g.
            # GroupAccuracy's per_class.json) goes into this test's own
            # timestamped folder instead of over the training's file.
            for metric in runner.test_evaluator.metrics:
                out_file = getattr(metric, 'out_file', None)
                if isinstance(out_file, str) and not osp.isabs(out_file):
                    metric.out_file = osp.join(runner.log_dir, out_file)
                    runner.logger.info(f'{type(metric).__name__}: out_file '
                                       f'-> {metric.out_file}')
        dump = None
        if args.out and args.out_item == 'pred':
            # written under a temporary name, renamed when complete
            dump = DumpResults(out_file_path=args.out)
            dump.out_file_path = temporary_name(args.out, keep_extension=True)
            runner.test_evaluator.metrics.append(dump)
        try:
            metrics = runner.test()
            if dump is not None and osp.isfile(dump.out_file_path):
                os.replace(dump.out_file_path, args.out)
        finally:
            if dump is not None and osp.isfile(dump.out_file_path):
                os.remove(dump.out_file_path)
    if args.out and args.out_item == 'metrics' and is_main_process():
        atomic_write(args.out, mmengine.dump(
            metrics, file_format=osp.splitext(args.out)[1][1:]))


if __name__ == '__main__':
    main()
