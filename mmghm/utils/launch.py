"""What ``tools/train.py`` and ``tools/test.py`` share: CLI-to-config glue.

Kept in the package (not in ``tools/``) so that it is importable and tested.
"""
import argparse
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction

from .dist import setup_distributed


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Flags both tools take, named as in MMPretrain's tools."""
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs, e.g. '
        'train_cfg.max_epochs=5 or model.head.loss.gamma=0.5')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher (pytorch = torchrun)')
    parser.add_argument(
        '--no-pin-memory', action='store_true',
        help='disable pin_memory in the dataloaders')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` and apply the flags shared by both tools."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    # Pinned memory only helps (and only works quietly) with CUDA.
    pin = torch.cuda.is_available() and not args.no_pin_memory
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field)
        if loader is None:
            continue
        loader.setdefault('pin_memory', pin)
        if args.no_pin_memory:
            loader['pin_memory'] = False
        loader.setdefault('collate_fn', dict(type='default_collate'))
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    setup_distributed(cfg, args.launcher)
    return cfg


def resolve_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` (auto: latest checkpoint in work_dir) or ``--resume P``."""
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {resume}')
        cfg.resume = True
        cfg.load_from = resume
