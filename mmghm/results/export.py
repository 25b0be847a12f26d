"""Export: one :class:`~mmghm.results.runs.Run` (a work dir read by
:func:`~mmghm.results.runs.load_runs`) -> one run result
(:mod:`~mmghm.results.files`).

Besides the metrics, a result records how the run was measured, read from
what the Runner left: its text logs (torch, device, seed, time stamps:
:func:`~mmghm.results.runs.read_text_log`), ``RunSummaryHook``'s
``summary.json``, the config it dumped (read as data, never run) and a
``GroupAccuracy`` per-class file.
"""
import ast
import datetime
import hashlib
import json
import math
import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .files import (RUN_SCHEMA, RunResult, read_json, top1_of,
                    validate_run_result)
from .names import DATASET_NAMES, parse_config_name
from .runs import Run, read_text_log, select_metrics

#: The summary :class:`mmghm.engine.RunSummaryHook` writes per session.
SUMMARY_NAME = 'summary.json'
#: Keys of a dumped config that say where things are, not how the model
#: was trained; differences in them are not ``cfg_options``.
_LOCATION_KEYS = ('work_dir', 'launcher', 'load_from', 'resume',
                  'data_root', 'data_prefix', 'ann_file', 'pin_memory',
                  'collate_fn', 'out_file')
#: The suite of results exported in memory (never written).
WORK_DIRS_SUITE = 'work_dirs'


def _flatten(value: Any, prefix: str = '') -> Dict[str, Any]:
    if isinstance(value, dict):
        out: Dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
        return out
    if isinstance(value, (list, tuple)) and any(
            isinstance(v, (dict, list, tuple)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f'{prefix}{i}.'))
        return out
    return {prefix[:-1]: list(value) if isinstance(value, tuple) else value}


def config_overrides(original: dict,
                     dumped: dict,
                     dump_complete: bool = True) -> List[str]:
    """``key=value`` settings in which a dumped config differs from the
    config file it came from (what ``--cfg-options`` changed).

    Keys that only say where things are (work dir, data paths, the loaded
    checkpoint...) and the seed (recorded on its own) are left out.

    Args:
        original, dumped: The config file and the dumped config, as dicts.
        dump_complete: The dump holds every setting, as the Runner dumps
            it: a key it lacks was changed (``key=null``, e.g. an entry of
            a list made shorter). False compares only the settings the
            dump holds (a partial dump says nothing of the others).
    """
    a, b = _flatten(original), _flatten(dumped)
    out = []
    for key in sorted(set(a) | set(b) if dump_complete else set(b)):
        if set(key.split('.')) & set(_LOCATION_KEYS) or \
                key == 'randomness.seed':
            continue
        if a.get(key, '<unset>') != b.get(key, '<unset>'):
            out.append(f'{key}={json.dumps(b.get(key))}')
    return out


class DumpedConfigError(ValueError):
    """A work dir's dumped config is not plain data."""


def _literal(node: ast.AST, path: str) -> Any:
    """The value of a literal expression of a dumped config, or
    :class:`DumpedConfigError` naming the line.

    Calls are allowed only as ``dict(key=value, ...)``: how MMEngine's
    ``Config.dump`` writes nested dicts.
    """
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and not node.args and \
            all(k.arg is not None for k in node.keywords):
        return {k.arg: _literal(k.value, path) for k in node.keywords}
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise DumpedConfigError(f'{path} line {node.lineno}: ** in a '
                                    'dict is not plain data')
        return {_literal(k, path): _literal(v, path)
                for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_literal(e, path) for e in node.elts]
        return items if isinstance(node, ast.List) else (
            tuple(items) if isinstance(node, ast.Tuple) else set(items))
    try:
        return ast.literal_eval(node)  # constants, -1, 1e-3, ...
    except (ValueError, TypeError, SyntaxError, MemoryError,
            RecursionError):
        raise DumpedConfigError(
            f'{path} line {getattr(node, "lineno", "?")}: '
            f'{ast.unparse(node)[:80]!r} is not a literal (a dumped config '
            'holds only dict(...), lists, tuples, strings, numbers, '
            'booleans and None)') from None


def read_dumped_config(path: str) -> dict:
    """The config MMEngine dumped into a work dir, read as data.

    A work dir is data, and ``Config.fromfile`` would run the file as
    Python: anyone who can write a results folder could run code in
    ``collect_results.py export``. MMEngine dumps plain assignments
    (``name = <literal>``, nested dicts written ``dict(k=v)``), so the file
    is parsed with :mod:`ast` and only those are accepted.

    Raises:
        DumpedConfigError: the file holds anything else (an import, a call
            other than ``dict(k=v, ...)``, a name, an expression statement),
            naming the file and the line.
    """
    with open(path, encoding='utf-8') as f:
        source = f.read()
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as e:
        raise DumpedConfigError(f'{path}: not a dumped config ({e})') from e
    out: Dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise DumpedConfigError(
                f'{path} line {node.lineno}: only "name = <literal>" lines '
                'are read from a dumped config, got '
                f'{ast.unparse(node)[:80]!r}; refusing to read it (it is '
                'never run).')
        out[node.targets[0].id] = _literal(node.value, path)
    return out


def checkpoint_seed(path: Optional[str]) -> Optional[int]:
    """The ``meta['seed']`` MMEngine's Runner saved in a checkpoint, or None
    (no file, not loadable under ``weights_only=True``, no seed)."""
    if not path or not osp.isfile(path):
        return None
    from mmghm.utils.checkpoint import load_checkpoint_file
    try:
        ckpt = load_checkpoint_file(path)
    except Exception:  # noqa: BLE001 - not a checkpoint: no seed from it
        return None
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    seed = meta.get('seed') if isinstance(meta, dict) else None
    return seed if isinstance(seed, int) and not isinstance(seed,
                                                            bool) else None


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _start_checkpoint_sha256(load_from: Any) -> Optional[str]:
    """The SHA-256 of the checkpoint a training started from (a stage 2's
    stage-1 checkpoint), or None.

    The path comes from the dumped config, so it is read only if it names
    a regular ``.pth`` file: a device, a pipe or any other file is never
    opened.
    """
    if not (isinstance(load_from, str) and load_from.endswith('.pth')
            and osp.isfile(load_from)):  # a regular file (follows links)
        return None
    return _sha256(load_from)


def _read_summary(run: Run) -> dict:
    """The newest RunSummaryHook summary of the run's sessions, if any."""
    for log in reversed(run.logs):
        path = osp.join(osp.dirname(log), SUMMARY_NAME)
        if osp.isfile(path):
            return read_json(path)
    return {}


def _per_class(run: Run, metrics: Dict[str, float]) -> Optional[dict]:
    """Per-class accuracies from a GroupAccuracy ``out_file`` in the
    folder of a merged test's log or in the work dir, when they are of the
    same evaluation as ``metrics`` (same top-1)."""
    top1 = metrics.get('group_accuracy/top1')
    if top1 is None:
        return None
    # tools/test.py without --work-dir writes its per-class file into its
    # own timestamped folder (beside its log), not over the training's;
    # with --work-dir, into that work dir (the log folder's parent).
    # (each folder once: without --work-dir the parent is the work dir)
    logs = [osp.dirname(log) for log in run.test_logs]
    folders = list(dict.fromkeys(
        logs + [osp.dirname(f) for f in logs] + [run.work_dir]))
    for folder in filter(osp.isdir, folders):
        for name in sorted(f for f in os.listdir(folder)
                           if f.endswith('.json')):
            try:
                data = read_json(osp.join(folder, name))
            except ValueError:
                continue
            if not isinstance(data, dict) or not {
                    'per_class_accuracy', 'class_counts', 'top1'} <= set(data):
                continue
            if abs(float(data['top1']) - float(top1)) < 1e-6:
                counts = [int(c) if float(c).is_integer() else c
                          for c in data['class_counts']]
                out = dict(accuracy=data['per_class_accuracy'],
                           train_counts=counts)
                if data.get('num_test_samples') is not None:
                    out['test_counts'] = data['num_test_samples']
                if data.get('classes'):
                    out['classes'] = data['classes']
                return out
    return None


def describe_data(config_stem: str, per_class: Optional[dict]) -> str:
    """A data description from the config name and, when known, the counts
    the run itself logged."""
    try:
        name = parse_config_name(config_stem)
        text = DATASET_NAMES.get(name.dataset, name.dataset)
        if name.imbalance_factor is not None:
            text += f', IF {name.imbalance_factor}'
    except ValueError:
        text = config_stem
    if per_class:
        text += f', {sum(per_class["train_counts"])} train'
        if per_class.get('test_counts'):
            text += f' / {sum(per_class["test_counts"])} test images'
        else:
            text += ' images'
    return text


class UnfinishedRun(ValueError):
    """A training whose last validation is before its ``max_epochs``."""

    def __init__(self, work_dir: str, epochs: int, max_epochs: int):
        super().__init__(
            f'{work_dir}: unfinished, its last validation is at epoch '
            f'{epochs} of {max_epochs} (--allow-unfinished to export it '
            'anyway).')
        self.epochs, self.max_epochs = epochs, max_epochs


def _seed(run: Run, used_test: bool, dumped: dict,
          env: Dict[str, Any]) -> int:
    # A tools/test.py run on its own: the run is the checkpoint's training,
    # whose seed the checkpoint keeps (the test's config has its own).
    seed = checkpoint_seed(run.test_checkpoint) \
        if used_test and not run.val else None
    if seed is None:
        seed = (dumped.get('randomness') or {}).get('seed')
    if seed is None:
        seed = env.get('seed')
    if seed is None:
        raise ValueError(f'{run.work_dir}: the seed is neither in the '
                         'dumped config nor in the log.')
    return int(seed)


def _epochs(run: Run, dumped: dict,
            allow_unfinished: bool) -> Optional[int]:
    """The epochs the run trained: its last validation's, else the config's
    ``max_epochs``; :class:`UnfinishedRun` for a training stopped short."""
    train_cfg = dumped.get('train_cfg') or {}
    max_epochs = train_cfg.get('max_epochs')
    epochs = int(run.val[-1].get('step', 0)) or None if run.val else None
    if (epochs and max_epochs and not allow_unfinished
            and train_cfg.get('by_epoch', True) and epochs < max_epochs):
        raise UnfinishedRun(run.work_dir, epochs, max_epochs)
    return epochs or max_epochs


def export_run(run: Run,
               *,
               suite: str,
               config: Optional[str] = None,
               original_config: Optional[dict] = None,
               variant: Optional[str] = None,
               source: str = 'auto',
               select: str = 'last',
               data: Optional[str] = None,
               device: Optional[str] = None,
               commit: Optional[str] = None,
               allow_unfinished: bool = False,
               dump_complete: bool = True) -> dict:
    """The run result of one run (not written; see
    :func:`~mmghm.results.files.write_result`).

    Args:
        run: A run read by :func:`~mmghm.results.runs.load_runs`.
        suite: The suite it belongs to.
        config: The config path to record (e.g. ``configs/x/y.py``).
            Defaults to the config's name.
        original_config: The config file as a dict, to record what
            ``--cfg-options`` changed; None records none.
        variant: A short name when ``cfg_options`` make a new method.
        source, select: Which metrics stand for the run
            (:func:`~mmghm.results.runs.select_metrics`).
        data: Data description; default from the config name and counts.
        device: Device description; default from the run's summary or log.
        commit: Code version; default from the run's summary.
        allow_unfinished: Export a training whose last validation is before
            its config's ``max_epochs`` (refused by default: a run still
            going, or killed, is not the config's result).
        dump_complete: See :func:`config_overrides`.

    Raises:
        ValueError: if the run has no metrics for ``source``, no seed, or
            is unfinished (:class:`UnfinishedRun`).
    """
    metrics = select_metrics(run, source, select)
    if metrics is None or top1_of(metrics) is None:
        raise ValueError(f'{run.work_dir}: no top-1 accuracy to export '
                         f'(source={source}).')
    summary = _read_summary(run)
    env: Dict[str, Any] = {}
    session_s = 0.0  # training time summed over sessions (resumes)
    for log in run.logs or run.test_logs:
        found = read_text_log(log)
        env.setdefault('start', found.get('start'))
        env.update({k: v for k, v in found.items() if k != 'start'})
        if found.get('start') and found.get('end'):
            session_s += (found['end'] - found['start']).total_seconds()
    dumped = read_dumped_config(run.config_file) if run.config_file else {}
    used_test = run.test is not None and metrics is run.test
    seed = _seed(run, used_test, dumped, env)
    if used_test:
        tool = 'tools/train.py + tools/test.py' if run.val else \
            'tools/test.py'
        ckpt = run.test_checkpoint
        evaluated = (f'tools/test.py on {osp.basename(ckpt)}'
                     if ckpt else 'tools/test.py')
    else:
        tool = 'tools/train.py'
        ckpt = run.checkpoint
        evaluated = 'last epoch' if select == 'last' else \
            'best epoch (optimistic: picked on the test set)'
    epochs = _epochs(run, dumped, allow_unfinished)
    optim = (dumped.get('optim_wrapper') or {}).get('type', 'OptimWrapper')
    if device is None:
        device = summary.get('device')
    if device is None:
        device = ('cuda: ' + env['gpus']) if env.get('cuda') and env.get(
            'gpus') else 'cpu'
    per_class = _per_class(run, metrics)
    measured: Dict[str, Any] = dict(
        tool=tool,
        epochs=epochs,
        evaluated=evaluated,
        data=data or describe_data(run.config, per_class),
        device=device,
        torch=summary.get('torch') or env.get('torch') or 'unknown',
        precision='amp (fp16)' if 'Amp' in str(optim) else 'fp32',
        commit=commit or summary.get('commit'),
        date=(env.get('start') or datetime.datetime.fromtimestamp(
            osp.getmtime(run.work_dir))).strftime('%Y-%m-%d'),
    )
    # One session: the summary's training time; a resumed run: the sum of
    # its sessions' spans in the logs (a killed session has no summary).
    wall = summary.get('wall_s') if len(run.logs) == 1 else None
    if wall is None and run.val and session_s > 0:
        wall = session_s
    if wall is not None:
        measured['wall_s'] = round(float(wall), 1)
    if len(run.logs) > 1:
        measured['sessions'] = len(run.logs)
    if ckpt:
        measured['checkpoint'] = osp.basename(ckpt)
        if osp.isfile(ckpt):
            measured['checkpoint_sha256'] = _sha256(ckpt)
    start = _start_checkpoint_sha256(dumped.get('load_from')) \
        if run.logs else None
    if start:
        measured['load_from_sha256'] = start
    result = dict(
        schema=RUN_SCHEMA,
        config=config or f'{run.config}.py',
        cfg_options=(config_overrides(original_config, dumped, dump_complete)
                     if original_config is not None and dumped else []),
        variant=variant,
        seed=seed,
        metrics={k: None if isinstance(v, float) and not math.isfinite(v)
                 else v
                 for k, v in metrics.items() if k != 'step'},
    )
    if per_class:
        result['per_class'] = per_class
    result['measured'] = measured
    return validate_run_result(result, run.work_dir)


def export_work_dirs(
        runs: Sequence[Run],
        find_config: Optional[Callable[[str], Optional[str]]] = None,
        source: str = 'auto',
        select: str = 'last',
        allow_unfinished: bool = False) -> Tuple[List[RunResult], List[str]]:
    """Runs exported in memory, to be rendered without being written.

    A run that :func:`export_run` refuses, or whose config name does not
    follow the convention, is left out with a warning. ``cfg_options`` are
    compared with the config file only as far as the dump goes
    (``dump_complete=False``); an unfinished training is left out unless
    ``allow_unfinished``, which keeps it flagged
    (:attr:`~mmghm.results.files.RunResult.flags`).

    Args:
        runs: Runs read by :func:`~mmghm.results.runs.load_runs`.
        find_config: ``stem -> path of the config file or None`` (the
            command line looks in the repository's ``configs/``); None
            compares no options.
        source, select: Which metrics stand for a run.
        allow_unfinished: Keep unfinished trainings, flagged.

    Returns:
        (the results, warnings about the runs left out).
    """
    from mmengine.config import Config
    originals: Dict[str, dict] = {}
    results, warnings = [], []
    for run in runs:
        try:
            parse_config_name(run.config)
            path = find_config(run.config) if find_config else None
            if path and path not in originals:
                originals[path] = Config.fromfile(path).to_dict()
            options = dict(suite=WORK_DIRS_SUITE, source=source,
                           select=select, dump_complete=False,
                           original_config=originals.get(path))
            flags: Tuple[str, ...] = ()
            try:
                result = export_run(run, **options)
            except UnfinishedRun as e:
                if not allow_unfinished:
                    raise ValueError(
                        f'unfinished: its last validation is at epoch '
                        f'{e.epochs} of {e.max_epochs} (--allow-unfinished '
                        'shows it as a row of its own).') from None
                result = export_run(run, allow_unfinished=True, **options)
                flags = (f'unfinished: epoch {e.epochs} of {e.max_epochs}', )
        except ValueError as e:
            why, prefix = str(e), f'{run.work_dir}: '
            if why.startswith(prefix):
                why = why[len(prefix):]
            warnings.append(f'{run.work_dir}: skipped, {why}')
            continue
        results.append(RunResult(run.work_dir, WORK_DIRS_SUITE, result,
                                 flags))
    return results, warnings
