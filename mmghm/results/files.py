"""Result files: the committed record of one training run or benchmark.

Every number in mmghm's READMEs comes from these files (``results/`` at
the repository root); this module is their schema, and reads and writes
them.

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
                  "checkpoint_sha256": "...",
                  "load_from_sha256": "..."}}   # a training from a checkpoint

A suite (``<suite>``) names data + schedule + where it ran
(``digits-lt_demo_cpu``, ``cifar10jpeg-lt-if100_30e_cpu``...).

A benchmark: ``results/benchmarks/<benchmark>_<device>.json``::

    {"schema": "mmghm.benchmark/1", "benchmark": "losses", "device": "...",
     "torch": "...", "measured": {...}, "columns": [...], "rows": [{...}]}

:func:`~mmghm.results.export.export_run` makes a run result from a work
dir.
"""
import json
import math
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmghm.utils.files import atomic_json_dump

RUN_SCHEMA = 'mmghm.run_result/1'
BENCHMARK_SCHEMA = 'mmghm.benchmark/1'
#: Keys tried, in order, for the overall top-1 accuracy.
TOP1_KEYS: Tuple[str, ...] = ('accuracy/top1', 'group_accuracy/top1',
                              'group_accuracy/overall')

_SUITE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
_VARIANT_RE = re.compile(r'^[a-z0-9][a-z0-9.-]*$')
_REQUIRED_MEASURED = ('tool', 'evaluated', 'data', 'device', 'torch',
                      'precision', 'date')


def top1_of(metrics: Dict[str, float]) -> Optional[float]:
    """The overall top-1 of a metrics dict (see :data:`TOP1_KEYS`)."""
    for key in TOP1_KEYS:
        if key in metrics:
            return metrics[key]
    return None


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
        acc, counts = (per_class.get('accuracy'), per_class.get(
            'train_counts')) if isinstance(per_class, dict) else (None, None)
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


@dataclass
class RunResult:
    """One run result, read from its file (or exported in memory).

    Attributes:
        path: The file (the work dir, for a result exported in memory).
        suite: The suite it belongs to.
        data: The result, as the schema has it.
        flags: What sets the run apart besides its ``cfg_options``, never
            written to a file (``unfinished: epoch 10 of 30``).
    """
    path: str
    suite: str
    data: dict
    flags: Tuple[str, ...] = ()

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


def read_json(path: str) -> Any:
    """A JSON file's content; ValueError naming the file if it is not
    JSON."""
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
        suites = [suite]
    elif osp.isdir(results_dir):
        suites = sorted(d for d in os.listdir(results_dir)
                        if osp.isdir(osp.join(results_dir, d))
                        and d != 'benchmarks')
    else:
        suites = []
    out = []
    for name in suites:
        for root, dirs, files in os.walk(osp.join(results_dir, name)):
            dirs.sort()
            for file in sorted(f for f in files if f.endswith('.json')):
                path = osp.join(root, file)
                data = validate_run_result(read_json(path), path)
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
    return validate_benchmark(read_json(path), path)


def write_benchmark(result: dict, path: str) -> str:
    """Write a benchmark file (checked against the schema first, then
    written atomically: a failed check or write leaves what was there);
    returns the path.

    Raises:
        ValueError: naming the field that is wrong.
    """
    validate_benchmark(result, path)
    atomic_json_dump(result, path, indent=1)
    return path


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
        old_sha = read_json(path).get('measured',
                                      {}).get('checkpoint_sha256')
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
