"""Result files: the committed record of one training run or benchmark.

Every number in mmghm's READMEs comes from these files (``results/`` at
the repository root).

One training run: ``results/<suite>/<config-stem>/seed<k>.json`` (a variant
made by ``cfg_options``: ``results/<suite>/<config-stem>@<variant>/...``)::

    {"schema": "mmghm.run_result/1",
     "config": "configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py",
     "cfg_options": [], "variant": null, "seed": 0,
     "metrics": {"accuracy/top1": 96.9, "group_accuracy/many": 100.0, ...},
     "per_class": {"accuracy": [...], "train_counts": [...]},   # optional
     "measured": {"tool": "tools/train.py", "epochs": 30,
                  "evaluated": "last epoch", "data": "...", "device": "...",
                  "torch": "2.14.1", "precision": "fp32", "commit": "...",
                  "date": "2026-11-28", "wall_s": 123.4,
                  "checkpoint": "epoch_30.pth",
                  "checkpoint_sha256": "..."}}

A suite (``<suite>``) names data + schedule + where it ran
(``digits-lt_demo_cpu``, ``cifar10jpeg-lt-if100_30e_cpu``...).

A benchmark: ``results/benchmarks/<benchmark>_<device>.json``::

    {"schema": "mmghm.benchmark/1", "benchmark": "losses", "device": "...",
     "torch": "...", "measured": {...}, "columns": [...], "rows": [{...}]}

:func:`export_run` turns a :class:`~mmghm.results.runs.Run` (a work dir
read by :func:`~mmghm.results.runs.load_runs`) into a run result;
:func:`load_run_results` and :func:`load_benchmark` read and check the
files.
"""
import ast
import datetime
import hashlib
import json
import math
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmghm.utils.files import atomic_json_dump
from .names import DATASET_NAMES, parse_config_name
from .runs import Run, select_metrics, top1_of

RUN_SCHEMA = 'mmghm.run_result/1'
BENCHMARK_SCHEMA = 'mmghm.benchmark/1'
#: The summary :class:`mmghm.engine.RunSummaryHook` writes per session.
SUMMARY_NAME = 'summary.json'

_SUITE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
_VARIANT_RE = re.compile(r'^[a-z0-9][a-z0-9.-]*$')
_REQUIRED_MEASURED = ('tool', 'evaluated', 'data', 'device', 'torch',
                      'precision', 'date')
#: Keys of a dumped config that say where things are, not how the model
#: was trained; differences in them are not ``cfg_options``.
_LOCATION_KEYS = ('work_dir', 'launcher', 'load_from', 'resume',
                  'data_root', 'data_prefix', 'ann_file', 'pin_memory',
                  'collate_fn', 'out_file')


def _check_name(value: str, pattern: 're.Pattern', what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f'{what} must match {pattern.pattern}, got '
                         f'{value!r}.')
    return value


def result_path(results_dir: str, suite: str, config: str,
                variant: Optional[str], seed: int) -> str:
    """Where the result of one run lives."""
    _check_name(suite, _SUITE_RE, 'suite')
    stem = osp.splitext(osp.basename(config))[0]
    if variant is not None:
        stem += '@' + _check_name(variant, _VARIANT_RE, 'variant')
    return osp.join(results_dir, suite, stem, f'seed{int(seed)}.json')


# --------------------------------------------------------------------------
# Checking.
# --------------------------------------------------------------------------


def _finite_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float))
                             and not isinstance(value, bool)
                             and math.isfinite(value))


def validate_run_result(data: Any, where: str = 'result') -> dict:
    """Check a run result against the schema.

    Raises:
        ValueError: naming the file and the field that is wrong.
    """
    if not isinstance(data, dict):
        raise ValueError(f'{where}: a run result is a JSON object, got '
                         f'{type(data).__name__}.')
    if data.get('schema') != RUN_SCHEMA:
        raise ValueError(f'{where}: schema must be {RUN_SCHEMA!r}, got '
                         f'{data.get("schema")!r}.')
    if not isinstance(data.get('config'), str) or not data['config']:
        raise ValueError(f'{where}: config must be the config path.')
    if not isinstance(data.get('cfg_options'), list) or not all(
            isinstance(o, str) for o in data['cfg_options']):
        raise ValueError(f'{where}: cfg_options must be a list of strings.')
    variant = data.get('variant', 'missing')
    if variant is not None:
        _check_name(variant, _VARIANT_RE, f'{where}: variant')
    seed = data.get('seed')
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f'{where}: seed must be an int, got {seed!r}.')
    metrics = data.get('metrics')
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError(f'{where}: metrics must be a non-empty object.')
    for key, value in metrics.items():
        if '/' not in key or not _finite_or_none(value):
            raise ValueError(
                f'{where}: metrics[{key!r}] = {value!r}; keys are as the '
                'Runner logs them (e.g. accuracy/top1), values finite '
                'numbers or null.')
    if top1_of({k: v for k, v in metrics.items() if v is not None}) is None:
        raise ValueError(f'{where}: metrics hold no top-1 accuracy '
                         '(accuracy/top1 or group_accuracy/top1).')
    per_class = data.get('per_class')
    if per_class is not None:
        acc = per_class.get('accuracy') if isinstance(per_class,
                                                      dict) else None
        counts = per_class.get('train_counts') if isinstance(
            per_class, dict) else None
        if not isinstance(acc, list) or not isinstance(
                counts, list) or len(acc) != len(counts):
            raise ValueError(f'{where}: per_class needs accuracy and '
                             'train_counts lists of one length.')
    measured = data.get('measured')
    if not isinstance(measured, dict):
        raise ValueError(f'{where}: measured must be an object.')
    missing = [k for k in _REQUIRED_MEASURED if not measured.get(k)]
    if missing:
        raise ValueError(f'{where}: measured lacks {missing}.')
    return data


def validate_benchmark(data: Any, where: str = 'benchmark') -> dict:
    """Check a benchmark file against the schema.

    Raises:
        ValueError: naming the file and the field that is wrong.
    """
    if not isinstance(data, dict) or data.get('schema') != BENCHMARK_SCHEMA:
        raise ValueError(f'{where}: schema must be {BENCHMARK_SCHEMA!r}.')
    for key in ('benchmark', 'device', 'torch'):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f'{where}: {key} must be a non-empty string.')
    columns = data.get('columns')
    if not isinstance(columns, list) or not columns:
        raise ValueError(f'{where}: columns must be a non-empty list.')
    for col in columns:
        if not isinstance(col, str) and not (isinstance(col, dict)
                                             and isinstance(
                                                 col.get('key'), str)):
            raise ValueError(f'{where}: a column is a key or an object with '
                             f'"key" (and "label", "format"), got {col!r}.')
    rows = data.get('rows')
    if not isinstance(rows, list) or not all(isinstance(r, dict)
                                             for r in rows):
        raise ValueError(f'{where}: rows must be a list of objects.')
    if not isinstance(data.get('measured', {}), dict):
        raise ValueError(f'{where}: measured must be an object.')
    return data


# --------------------------------------------------------------------------
# Reading.
# --------------------------------------------------------------------------


@dataclass
class RunResult:
    """One run result file, read and checked."""
    path: str
    suite: str
    data: dict

    @property
    def config_stem(self) -> str:
        return osp.splitext(osp.basename(self.data['config']))[0]

    @property
    def variant(self) -> Optional[str]:
        return self.data.get('variant')

    @property
    def key(self) -> Tuple[str, Optional[str]]:
        """(config stem, variant): what a table row stands for."""
        return self.config_stem, self.variant


def _read_json(path: str) -> Any:
    with open(path, encoding='utf-8') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path} is not valid JSON: {e}') from e


def load_run_results(results_dir: str,
                     suite: Optional[str] = None) -> List[RunResult]:
    """Every run result under ``results_dir`` (or one suite of it).

    Files are checked (:func:`validate_run_result`) and must lie where
    :func:`result_path` puts them. An absent suite folder gives an empty
    list: a suite not yet run.

    Raises:
        ValueError: for a malformed or misplaced file.
    """
    if suite is not None:
        _check_name(suite, _SUITE_RE, 'suite')
    out = []
    suites = [suite] if suite else sorted(
        d for d in os.listdir(results_dir)
        if osp.isdir(osp.join(results_dir, d)) and d != 'benchmarks') \
        if osp.isdir(results_dir) else []
    for name in suites:
        folder = osp.join(results_dir, name)
        if not osp.isdir(folder):
            continue
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for file in sorted(files):
                if not file.endswith('.json'):
                    continue
                path = osp.join(root, file)
                data = validate_run_result(_read_json(path), path)
                expected = result_path(results_dir, name, data['config'],
                                       data.get('variant'), data['seed'])
                if osp.normpath(expected) != osp.normpath(path):
                    raise ValueError(
                        f'{path}: a result of config {data["config"]}, '
                        f'variant {data.get("variant")}, seed {data["seed"]} '
                        f'belongs at {expected}.')
                out.append(RunResult(path, name, data))
    return out


def load_benchmark(path: str) -> dict:
    """Read and check one benchmark file."""
    return validate_benchmark(_read_json(path), path)


# --------------------------------------------------------------------------
# Export from a work dir.
# --------------------------------------------------------------------------


def _clean_metrics(metrics: Dict[str, float]) -> Dict[str, Optional[float]]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in metrics.items() if k != 'step'
    }


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


def log_environment(log_file: str) -> Dict[str, Any]:
    """What MMEngine's Runner logs about its environment at start-up.

    Returns:
        dict: ``torch`` (version without local suffix), ``cuda`` (bool),
        ``gpus`` (the ``GPU 0,1: name`` line's name, if any), ``seed``
        (int) and ``start`` / ``end`` (the first and last time stamps,
        ``datetime``), each only when found.
    """
    info: Dict[str, Any] = {}
    stamp_re = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) - ')
    with open(log_file, encoding='utf-8', errors='replace') as f:
        for line in f:
            stamp = stamp_re.match(line)
            if stamp:
                when = datetime.datetime.strptime(stamp.group(1),
                                                  '%Y/%m/%d %H:%M:%S')
                info.setdefault('start', when)
                info['end'] = when
            text = line.strip()
            if text.startswith('PyTorch:') and 'torch' not in info:
                info['torch'] = text.split(':', 1)[1].strip().split('+')[0]
            elif text.startswith('CUDA available:') and 'cuda' not in info:
                info['cuda'] = text.split(':', 1)[1].strip() == 'True'
            elif re.match(r'^GPU [\d,]+:', text) and 'gpus' not in info:
                info['gpus'] = text.split(':', 1)[1].strip()
            elif re.match(r'^seed: \d+$', text) and 'seed' not in info:
                info['seed'] = int(text.split(':')[1])
    return info


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


def config_overrides(original: dict, dumped: dict) -> List[str]:
    """``key=value`` settings in which a dumped config differs from the
    config file it came from (what ``--cfg-options`` changed).

    Keys that only say where things are (work dir, data paths, the loaded
    checkpoint...) and the seed (recorded on its own) are left out.
    """
    a, b = _flatten(original), _flatten(dumped)
    out = []
    for key in sorted(set(a) | set(b)):
        if set(key.split('.')) & set(_LOCATION_KEYS) or \
                key == 'randomness.seed':
            continue
        if a.get(key, '<unset>') != b.get(key, '<unset>'):
            value = b.get(key, None)
            out.append(f'{key}={json.dumps(value)}')
    return out


def _read_summary(run: Run) -> dict:
    """The newest RunSummaryHook summary of the run's sessions, if any."""
    for log in reversed(run.logs):
        path = osp.join(osp.dirname(log), SUMMARY_NAME)
        if osp.isfile(path):
            return _read_json(path)
    return {}


def _per_class(run: Run, metrics: Dict[str, float]) -> Optional[dict]:
    """Per-class accuracies from a GroupAccuracy ``out_file`` in the
    folder of a merged test's log or in the work dir, when they are of the
    same evaluation as ``metrics`` (same top-1)."""
    top1 = metrics.get('group_accuracy/top1')
    if top1 is None:
        return None
    # tools/test.py without --work-dir writes its per-class file into its
    # own timestamped folder (beside its log), not over the training's.
    folders = [osp.dirname(log) for log in run.test_logs] + [run.work_dir]
    for path in [p for folder in folders
                 for p in sorted(glob_json(folder))]:
        try:
            data = _read_json(path)
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


def glob_json(folder: str) -> List[str]:
    """JSON files directly in a folder."""
    return [osp.join(folder, f) for f in os.listdir(folder)
            if f.endswith('.json')] if osp.isdir(folder) else []


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


class DumpedConfigError(ValueError):
    """A work dir's dumped config is not plain data."""


#: What a dumped config may call: ``dict(key=value, ...)``, as MMEngine's
#: ``Config.dump`` writes nested dicts.
_LITERAL_CALLS = ('dict', )


def _literal(node: ast.AST, path: str) -> Any:
    """The value of a literal expression of a dumped config, or
    :class:`DumpedConfigError` naming the line."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in _LITERAL_CALLS and not node.args and \
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
               allow_unfinished: bool = False) -> dict:
    """The run result of one run (not written; see :func:`write_result`).

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

    Raises:
        ValueError: if the run has no metrics for ``source``, no seed, or
            is unfinished.
    """
    metrics = select_metrics(run, source, select)
    if metrics is None or top1_of(metrics) is None:
        raise ValueError(f'{run.work_dir}: no top-1 accuracy to export '
                         f'(source={source}).')
    summary = _read_summary(run)
    env: Dict[str, Any] = {}
    session_s = 0.0  # training time summed over sessions (resumes)
    for log in run.logs or run.test_logs:
        found = log_environment(log)
        env.setdefault('start', found.get('start'))
        env.update({k: v for k, v in found.items() if k != 'start'})
        if found.get('start') and found.get('end'):
            session_s += (found['end'] - found['start']).total_seconds()
    dumped: dict = {}
    if run.config_file:
        dumped = read_dumped_config(run.config_file)
    used_test = run.test is not None and metrics is run.test
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
    train_cfg = dumped.get('train_cfg') or {}
    max_epochs = train_cfg.get('max_epochs')
    epochs = None
    if run.val:
        epochs = int(run.val[-1].get('step', 0)) or None
        if (not allow_unfinished and max_epochs and epochs
                and train_cfg.get('by_epoch', True) and epochs < max_epochs):
            raise ValueError(
                f'{run.work_dir}: unfinished, its last validation is at '
                f'epoch {epochs} of {max_epochs} (--allow-unfinished to '
                'export it anyway).')
    if epochs is None:
        epochs = max_epochs
    optim = (dumped.get('optim_wrapper') or {}).get('type',
                                                    'OptimWrapper')
    precision = 'amp (fp16)' if 'Amp' in str(optim) else 'fp32'
    if device is None:
        device = summary.get('device')
    if device is None:
        device = ('cuda: ' + env['gpus']) if env.get('cuda') and env.get(
            'gpus') else 'cpu'
    per_class = _per_class(run, metrics)
    stem = run.config
    measured: Dict[str, Any] = dict(
        tool=tool,
        epochs=epochs,
        evaluated=evaluated,
        data=data or describe_data(stem, per_class),
        device=device,
        torch=summary.get('torch') or env.get('torch') or 'unknown',
        precision=precision,
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
    result = dict(
        schema=RUN_SCHEMA,
        config=config or f'{stem}.py',
        cfg_options=(config_overrides(original_config, dumped)
                     if original_config is not None and dumped else []),
        variant=variant,
        seed=int(seed),
        metrics=_clean_metrics(metrics),
    )
    if per_class:
        result['per_class'] = per_class
    result['measured'] = measured
    return validate_run_result(result, run.work_dir)


def write_result(result: dict, results_dir: str, suite: str) -> str:
    """Write a run result where it belongs; returns the path.

    Raises:
        ValueError: if another checkpoint's result of the same seed is
            already there (a second run of one seed must be a new variant,
            or the old file removed on purpose).
    """
    path = result_path(results_dir, suite, result['config'],
                       result['variant'], result['seed'])
    if osp.isfile(path):
        old = _read_json(path)
        old_sha = old.get('measured', {}).get('checkpoint_sha256')
        new_sha = result['measured'].get('checkpoint_sha256')
        if old_sha and new_sha and old_sha != new_sha:
            raise ValueError(
                f'{path} already holds seed {result["seed"]} of another '
                f'checkpoint ({old_sha[:12]} vs {new_sha[:12]}): remove it '
                'first if the new run replaces it.')
    atomic_json_dump(result, path, indent=1)
    return path


def dedupe_by_checkpoint(
        results: Sequence[RunResult]) -> Tuple[List[RunResult], List[str]]:
    """Drop result files that score a checkpoint another file of the same
    row (config and variant) scores.

    One checkpoint is one run of its row. A different config that tests
    the same checkpoint (e.g. ``softmax-la_*``: cross-entropy's checkpoint
    with a post-hoc logit adjustment at prediction) is another row's run
    and is kept.

    Returns:
        (the results to count, warnings naming each file dropped).
    """
    seen: Dict[tuple, RunResult] = {}
    kept, warnings = [], []
    for res in results:
        sha = res.data['measured'].get('checkpoint_sha256')
        key = (res.key, sha)
        if sha and key in seen:
            warnings.append(f'{res.path} scores the checkpoint of '
                            f'{seen[key].path}: counted once.')
            continue
        if sha:
            seen[key] = res
        kept.append(res)
    return kept, warnings
