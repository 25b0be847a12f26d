"""Train a model from a config (MMPretrain's flags, MMEngine's Runner).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--no-validate] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]

Distributed: ``bash tools/dist_train.sh CONFIG NPROC [args]`` (torchrun);
works on GPUs (nccl) and on CPU-only machines (gloo).
"""
import argparse

import mmghm  # noqa: F401  (registers modules, checkpoint allow-list)
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmghm.utils import (add_common_args, describe_launch, explain_timeouts,
                         load_config, resolve_resume)
from mmghm.utils.threads import apply_cpu_threads


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or (no value) from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true',
        help='automatic mixed precision (AmpOptimWrapper)')
    parser.add_argument(
        '--no-validate', action='store_true',
        help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the lr by the actual / the base batch size')
    parser.add_argument(
        '--channels-last', action='store_true',
        help='channels-last memory format for the model (mmghm.'
        'ChannelsLastHook; about 20%% faster ResNet training on CPU)')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise KeyError('--auto-scale-lr needs auto_scale_lr='
                           'dict(base_batch_size=...) in the config')
        cfg.auto_scale_lr.enable = True
    if args.channels_last:
        hooks = list(cfg.get('custom_hooks', None) or [])
        if not any(h.get('type') in ('mmghm.ChannelsLastHook',
                                     'ChannelsLastHook') for h in hooks):
            hooks.append(dict(type='mmghm.ChannelsLastHook'))
        cfg.custom_hooks = hooks
    resolve_resume(cfg, args.resume)
    # Small CPU runs on one thread unless OMP_NUM_THREADS says otherwise.
    threads = apply_cpu_threads(cfg)
    with explain_timeouts(cfg):
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
            else RUNNERS.build(cfg)
        describe_launch(runner)
        runner.logger.info(threads)
        runner.train()


if __name__ == '__main__':
    main()
