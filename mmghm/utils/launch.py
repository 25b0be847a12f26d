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
from typing import Iterable, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction

from .checkpoint_files import latest_intact_checkpoint
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
    parser.add_argument(
        '--partial-load', action='store_true',
        help='load a checkpoint (--resume, load_from, tools/test.py) whose '
        'weights fit the model only in part (e.g. fine-tuning from another '
        'head); by default missing or unexpected keys and shape mismatches '
        'are an error (default_hooks.strict_load.partial=True in a config)')
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
        apply_cfg_options(cfg, args.cfg_options)
    strict_loading(cfg, partial=getattr(args, 'partial_load', False))
    setup_distributed(cfg, args.launcher)
    return cfg


def parse_cfg_options(items: Sequence[str]) -> dict:
    """``['a.b=1', 'c=x,y']`` -> ``{'a.b': 1, 'c': ['x', 'y']}``: the
    ``key=value`` items of ``--cfg-options``, parsed as the flag parses
    them (MMEngine's ``DictAction``)."""
    namespace = argparse.Namespace()
    DictAction(option_strings=['--cfg-options'], dest='cfg_options')(
        None, namespace, list(items))
    return namespace.cfg_options


def apply_cfg_options(cfg: Config, options: dict) -> None:
    """Merge parsed ``--cfg-options`` into ``cfg``, as ``tools/train.py``
    does: misspelt top-level keys warn (:func:`warn_unknown_keys`) and
    values of the wrong type are refused (:func:`check_option_types`)
    first."""
    warn_unknown_keys(cfg, options)
    check_option_types(cfg, options)
    cfg.merge_from_dict(options)


def strict_loading(cfg: Config, partial: bool = False) -> None:
    """Make sure the Runner refuses checkpoints that do not fit the model
    (``default_hooks.strict_load``, :class:`mmghm.engine.hooks.
    StrictLoadHook`), also for configs that do not inherit mmghm's
    runtime; ``partial`` (``--partial-load``) allows partial loading.

    ``default_hooks.strict_load = None`` in a config (which MMEngine would
    refuse for a hook it does not know) means MMEngine's own behaviour,
    i.e. ``partial=True``.
    """
    hooks = cfg.get('default_hooks')
    if hooks is None:
        cfg.default_hooks = {}
        hooks = cfg.default_hooks  # (Config stores a ConfigDict copy)
    if 'strict_load' in hooks and hooks['strict_load'] is None:
        partial = True
    if hooks.get('strict_load') is None:
        hooks['strict_load'] = dict(type='mmghm.StrictLoadHook')
    if partial:
        hooks['strict_load']['partial'] = True


_MISSING = object()


def _config_value(cfg: Config, key: str):
    """The value at a dotted ``--cfg-options`` key (list items by index,
    as ``merge_from_dict`` reads them), or ``_MISSING``."""
    node = cfg._cfg_dict if isinstance(cfg, Config) else cfg
    for part in key.split('.'):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() \
                and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _type_word(value) -> str:
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, int):
        return 'an integer'
    if isinstance(value, float):
        return 'a number'
    return f'a {type(value).__name__}'


def check_option_types(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` values whose type does not fit the value
    they replace: a number or boolean setting (``train_cfg.max_epochs=abc``,
    ``optim_wrapper.optimizer.lr=fast``) must get a number or boolean (an
    integer one an integer; ``None`` is always allowed). Other settings
    (strings, lists, dicts) are not checked.

    Raises:
        ValueError: naming the option, the value given and the type
            expected.
    """
    for key, new in options.items():
        old = _config_value(cfg, key)
        if old is _MISSING or old is None or new is None:
            continue
        if isinstance(old, bool):
            ok = isinstance(new, bool)
        elif isinstance(old, int):
            ok = isinstance(new, int) and not isinstance(new, bool)
        elif isinstance(old, float):
            ok = isinstance(new, (int, float)) and not isinstance(new, bool)
        else:
            continue
        if not ok:
            shown = ','.join(map(str, new)) if isinstance(
                new, (list, tuple)) else new
            expected = _type_word(old) + (' (true or false)' if isinstance(
                old, bool) else '')
            raise ValueError(
                f'--cfg-options {key}={shown}: {key} must be {expected} '
                f'(the config has {old!r}), got {new!r} '
                f'({_type_word(new)}).')


def _checkpoint_dirs(cfg: Config) -> List[str]:
    """Where the config's ``CheckpointHook`` saves besides the work dir
    (its ``out_dir``, joined with the work dir's name as MMEngine does)."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    out_dir = hook.get('out_dir') if isinstance(hook, dict) else None
    if not out_dir or '://' in str(out_dir):
        return []
    return [osp.join(out_dir, osp.basename(osp.normpath(cfg.work_dir)))]


def resolve_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` (no value: the latest intact checkpoint of the work
    dir) or ``--resume PATH``, made into an explicit ``cfg.load_from``.

    Auto-resume (``--resume`` alone, or ``resume=True`` without
    ``load_from`` in the config) is resolved here, not by MMEngine: the
    work dir's ``last_checkpoint`` is a file anyone who can write the work
    dir controls, so it is read with the checks of
    :func:`mmghm.utils.checkpoint_files.latest_intact_checkpoint` (inside
    the work dir, no URL, a regular file, one line) and a truncated newest
    checkpoint is skipped, with a warning, for the newest intact one.
    ``--resume PATH`` and a config's own ``load_from`` are the user's
    choice and are passed on as given (URLs included).

    Raises:
        FileNotFoundError: ``--resume PATH`` names no file.
        CheckpointPathError: ``last_checkpoint`` or a checkpoint of the work
            dir is refused, or none of its checkpoints is intact.
    """
    auto = resume == 'auto' or (resume is None and cfg.get('resume')
                                and cfg.get('load_from') is None)
    if auto:
        found = latest_intact_checkpoint(cfg.work_dir, _checkpoint_dirs(cfg))
        if found is None:
            print(f'auto-resume: no checkpoint in {cfg.work_dir}; training '
                  'starts from the beginning.', flush=True)
            cfg.resume = False
            cfg.load_from = None
            return
        print(f'auto-resume: resuming from {found}', flush=True)
        cfg.resume = True
        cfg.load_from = found
    elif resume is not None:
        if '://' not in resume and not osp.isfile(resume):
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
