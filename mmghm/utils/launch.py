"""What ``tools/train.py`` and ``tools/test.py`` share: CLI-to-config glue.

Kept in the package (not in ``tools/``) so that it is importable and tested.
"""
import argparse
import ast
import difflib
import inspect
import os
import os.path as osp
import warnings
from typing import Iterable, List, Optional, Tuple

import torch
from mmengine.config import Config, DictAction

from .dist import setup_distributed

#: Top-level config keys something reads besides the Runner's arguments.
_EXTRA_TOP_LEVEL_KEYS = ('runner_type', 'model_wrapper_cfg', 'custom_imports',
                         'compile', 'strategy', 'cfg', 'dataset_type',
                         'data_root', 'train_pipeline', 'test_pipeline',
                         'gpu_ids')


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
    cfg = read_config(args.config)
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
        warn_unknown_keys(cfg, args.cfg_options)
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


def _config_chain(path: str) -> Iterable[str]:
    """``path`` and the local files of its ``_base_`` chain, depth first
    (bases given as ``pkg::...`` are skipped: they are installed files)."""
    yield path
    try:
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
    except SyntaxError:
        return
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_'
                for t in node.targets):
            try:
                bases = ast.literal_eval(node.value)
            except ValueError:
                return
            for base in [bases] if isinstance(bases, str) else bases:
                if isinstance(base, str) and '::' not in base:
                    base = osp.join(osp.dirname(path), base)
                    if osp.isfile(base):
                        yield from _config_chain(base)


def read_config(path: str) -> Config:
    """``Config.fromfile`` whose syntax errors name the file and the line.

    MMEngine parses config sources without their file name, so a syntax
    error in a config or in one of its bases reads ``File "<unknown>"``.
    """
    try:
        return Config.fromfile(path)
    except SyntaxError as error:
        for file in _config_chain(path):
            with open(file, encoding='utf-8') as f:
                source = f.read()
            try:
                compile(source, file, 'exec')
            except SyntaxError as e:
                line = (e.text or '').rstrip()
                raise SyntaxError(
                    f'config file {file}, line {e.lineno}: {e.msg}'
                    + (f'\n    {line}' if line else '')) from error
        raise


def _known_top_level_keys(cfg: Config) -> List[str]:
    from mmengine.runner import Runner
    params = inspect.signature(Runner.__init__).parameters
    return sorted(set(cfg.keys()) | set(params) - {'self'}
                  | set(_EXTRA_TOP_LEVEL_KEYS))


def unknown_top_level_keys(cfg: Config,
                           options: dict) -> List[Tuple[str, Optional[str]]]:
    """``(option, closest known key or None)`` for each ``--cfg-options``
    key whose first component is neither in the config nor read by the
    Runner: MMEngine would add it silently and nothing would read it."""
    known = _known_top_level_keys(cfg)
    out = []
    for key in options:
        top = key.split('.', 1)[0]
        if top not in known:
            close = difflib.get_close_matches(top, known, n=1, cutoff=0.6)
            out.append((key, close[0] if close else None))
    return out


def warn_unknown_keys(cfg: Config, options: dict) -> None:
    """Warn about misspelt top-level ``--cfg-options`` keys (e.g.
    ``trian_cfg.max_epochs=1``), naming the closest existing key."""
    for key, close in unknown_top_level_keys(cfg, options):
        hint = f"; did you mean '{close}'?" if close else ''
        warnings.warn(
            f"--cfg-options {key}: '{key.split('.', 1)[0]}' is not a key of "
            f'the config and nothing reads it, so this option has no effect'
            f'{hint}', UserWarning, stacklevel=2)
