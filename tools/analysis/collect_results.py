"""Collect the results of many runs into tables laid out like the paper's.

Reads what MMEngine's Runner writes into each work dir:

- training: ``<work_dir>/<timestamp>/vis_data/scalars.json`` (or the
  LoggerHook's ``<timestamp>/vis_data/<timestamp>.json``), one JSON object a
  line; validation lines hold the metrics (``accuracy/top1``,
  ``group_accuracy/...``) and ``step`` = the epoch;
- testing (``tools/test.py``): ``<work_dir>/<timestamp>/<timestamp>.json``,
  one JSON object of metrics; also a ``--out metrics.json --out-item
  metrics`` file given directly;

and the config name from the config the Runner dumps into the work dir
(``<work_dir>/<config name>.py``; else the work dir's name). Names follow
``{method}_{backbone}_{schedule}_{data}`` (e.g.
``ghm-cwap_resnet32_200e_cifar10-lt-if100``). Runs of the same config (e.g.
several seeds, each in its own work dir) are averaged.

It prints Markdown: Table 1 (top-1 on CIFAR-10/100-LT and TinyImageNet-LT by
imbalance factor), Table 2 (ImageNet-LT, iNaturalist 2017 by frequency
group), Table 3 (the ImageNet-LT ablation), each cell ``ours / paper``, and
a per-config table with every group accuracy for any other data (e.g. the
CPU-sized JPEG CIFAR-10-LT comparison).

Example::

    python tools/analysis/collect_results.py work_dirs/ --out results.md
    python tools/analysis/collect_results.py work_dirs/*cifar10* \\
        --select best --source val
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import re
import statistics
import sys
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

# --------------------------------------------------------------------------
# The paper's numbers: top-1 accuracy (%), "Solving the long-tailed problem
# via intra- and inter-category balance", Tables 1-3.
# --------------------------------------------------------------------------

#: Imbalance factors of Table 1, in the paper's column order.
TABLE1_IFS: Tuple[int, ...] = (500, 100, 10, 1)
#: Data sets of Table 1 (config data names without ``-if<N>``).
TABLE1_DATASETS: Tuple[str, ...] = ('cifar10-lt', 'cifar100-lt',
                                    'tinyimagenet-lt')
#: Table 1, ResNet-32: method -> data set -> values for TABLE1_IFS.
PAPER_TABLE1: Dict[str, Dict[str, Tuple[float, ...]]] = {
    'softmax': {
        'cifar10-lt': (59.76, 71.74, 86.69, 93.00),
        'cifar100-lt': (30.90, 38.77, 57.21, 71.00),
        'tinyimagenet-lt': (31.42, 39.06, 54.51, 63.32),
    },
    'class-balanced': {
        'cifar10-lt': (58.50, 73.82, 87.18, 92.71),
        'cifar100-lt': (31.23, 39.12, 56.45, 70.75),
        'tinyimagenet-lt': (30.90, 39.48, 54.17, 63.06),
    },
    'focal': {
        'cifar10-lt': (57.72, 72.43, 86.70, 92.66),
        'cifar100-lt': (30.31, 38.12, 56.12, 70.13),
        'tinyimagenet-lt': (30.93, 39.23, 54.00, 63.22),
    },
    'ghmc': {
        'cifar10-lt': (41.50, 51.66, 67.87, 79.35),
        'cifar100-lt': (12.85, 14.02, 24.49, 34.04),
        'tinyimagenet-lt': (8.00, 8.03, 9.92, 10.13),
    },
    'effective-number': {
        'cifar10-lt': (57.97, 71.47, 87.13, 92.98),
        'cifar100-lt': (30.40, 39.32, 57.37, 70.75),
        'tinyimagenet-lt': (30.90, 39.48, 54.17, 63.06),
    },
    'equalization': {
        'cifar10-lt': (58.29, 72.61, 87.08, 93.04),
        'cifar100-lt': (30.82, 39.84, 58.14, 71.66),
        'tinyimagenet-lt': (29.63, 37.39, 52.75, 62.84),
    },
    'seesaw': {
        'cifar10-lt': (64.48, 75.18, 87.76, 93.03),
        'cifar100-lt': (33.63, 40.87, 57.83, 71.35),
        'tinyimagenet-lt': (34.07, 40.98, 54.60, 63.05),
    },
    'ghm-cwap': {
        'cifar10-lt': (66.13, 75.39, 87.29, 92.75),
        'cifar100-lt': (33.85, 41.59, 57.81, 71.41),
        'tinyimagenet-lt': (34.79, 42.66, 55.35, 63.21),
    },
}

#: Columns of Tables 2 and 3 (frequency groups, then all classes).
GROUP_COLUMNS: Tuple[str, ...] = ('many', 'medium', 'few', 'rare', 'overall')
#: Data sets of Table 2 (imbalance factors 100 and 435 in the paper).
TABLE2_DATASETS: Tuple[str, ...] = ('imagenet-lt', 'inat2017')
#: Table 2, ResNet-50: data set -> method -> GROUP_COLUMNS values.
PAPER_TABLE2: Dict[str, Dict[str, Tuple[float, ...]]] = {
    'imagenet-lt': {
        'softmax': (63.91, 48.07, 22.15, 12.55, 36.67),
        'class-balanced': (63.30, 47.71, 22.26, 12.63, 36.48),
        'focal': (62.70, 47.70, 23.42, 12.86, 36.67),
        'effective-number': (63.86, 47.91, 23.42, 13.70, 37.22),
        'seesaw': (63.51, 48.69, 24.37, 15.52, 38.02),
        'ghm-cwap': (63.61, 48.73, 25.78, 16.95, 38.77),
    },
    'inat2017': {
        'softmax': (84.92, 69.88, 50.21, 40.63, 54.64),
        'class-balanced': (85.29, 70.66, 50.88, 41.31, 55.31),
        'focal': (84.41, 70.01, 51.96, 41.13, 55.15),
        'effective-number': (87.77, 72.96, 54.45, 44.49, 58.25),
        'seesaw': (87.48, 73.60, 55.64, 46.78, 59.15),
        'ghm-cwap': (87.84, 73.59, 56.75, 48.02, 59.85),
    },
}

#: Table 3, ResNet-50 on ImageNet-LT: method -> GROUP_COLUMNS values.
#: Note: the paper's "R" row repeats its Table 2 Seesaw row digit for digit.
PAPER_TABLE3: Dict[str, Tuple[float, ...]] = {
    'softmax': (63.91, 48.07, 22.15, 12.55, 36.67),
    'ghm-cwap-r': (63.51, 48.69, 24.37, 15.52, 38.02),
    'ghm-cwap-a-ura': (63.93, 48.32, 22.60, 13.44, 37.07),
    'ghm-cwap-r-a-ura': (63.55, 48.67, 25.16, 16.30, 38.42),
    'ghm-cwap': (63.61, 48.73, 25.78, 16.95, 38.77),
}

#: Display names of the methods (config name prefixes), in table order.
METHOD_NAMES: 'OrderedDict[str, str]' = OrderedDict([
    ('softmax', 'Softmax'),
    ('class-balanced', 'Class Balanced'),
    ('focal', 'Focal'),
    ('ghmc', 'GHM-C'),
    ('effective-number', 'Effective Number'),
    ('equalization', 'Equalization'),
    ('seesaw', 'Seesaw'),
    ('seesaw-mmpretrain', 'Seesaw (MMPretrain)'),
    ('ldam-drw', 'LDAM-DRW'),
    ('balanced-softmax', 'Balanced Softmax'),
    ('ghm-cwap-r', 'R (intra only, URA)'),
    ('ghm-cwap-a-ura', 'A^URA (inter only)'),
    ('ghm-cwap-a-aura', 'A^AURA (inter only)'),
    ('ghm-cwap-r-a-ura', 'R + A^URA'),
    ('ghm-cwap-literal', 'GHM-CWAP, literal Eq. 1 weight'),
    ('ghm-cwap', 'GHM-CWAP (R + A^AURA)'),
])

#: Configs whose training is another method's, with extra logging only:
#: their runs count as that method's.
METHOD_ALIASES: Dict[str, str] = {'ghm-cwap-vis': 'ghm-cwap'}

#: Methods whose paper row is another method's (another implementation
#: of the same loss).
PAPER_METHOD: Dict[str, str] = {'seesaw-mmpretrain': 'seesaw'}

#: Display names of the data sets.
DATASET_NAMES: Dict[str, str] = {
    'cifar10-lt': 'CIFAR-10-LT',
    'cifar100-lt': 'CIFAR-100-LT',
    'tinyimagenet-lt': 'TinyImageNet-LT',
    'imagenet-lt': 'ImageNet-LT',
    'inat2017': 'iNaturalist 2017',
    'cifar10jpeg-lt': 'CIFAR-10-LT (JPEG copy)',
    'digits-lt': 'digits-LT (scikit-learn)',
}

#: Data sets whose paper numbers are the reference for another data set.
PAPER_REFERENCE: Dict[str, str] = {'cifar10jpeg-lt': 'cifar10-lt'}

#: Keys tried, in order, for the overall top-1 accuracy.
TOP1_KEYS: Tuple[str, ...] = ('accuracy/top1', 'group_accuracy/top1',
                              'group_accuracy/overall')

_NAME_RE = re.compile(r'^(?P<method>[a-z0-9-]+)_(?P<backbone>[a-z0-9-]+)_'
                      r'(?P<schedule>[a-z0-9-]+)_(?P<data>[a-z0-9-]+)$')
_DATA_RE = re.compile(r'^(?P<dataset>.+?)(?:-if(?P<imb>\d+))?$')
_TIMESTAMP_RE = re.compile(r'^\d{8}_\d{6}$')


@dataclass(frozen=True)
class ConfigName:
    """The parts of a config name ``{method}_{backbone}_{schedule}_{data}``.

    ``imbalance_factor`` is None for data without ``-if<N>`` (ImageNet-LT,
    iNaturalist). ``method`` and ``name`` have :data:`METHOD_ALIASES`
    applied.
    """
    name: str
    method: str
    backbone: str
    schedule: str
    dataset: str
    imbalance_factor: Optional[int]


def parse_config_name(name: str) -> ConfigName:
    """Split a config name (with or without ``.py`` / a folder) into parts.

    Raises:
        ValueError: if the name does not follow the convention.
    """
    stem = osp.splitext(osp.basename(name))[0]
    m = _NAME_RE.match(stem)
    if m is None:
        raise ValueError(
            f'config name {stem!r} does not follow '
            '{method}_{backbone}_{schedule}_{data}, e.g. '
            'ghm-cwap_resnet32_200e_cifar10-lt-if100.')
    d = _DATA_RE.match(m['data'])
    imb = int(d['imb']) if d['imb'] is not None else None
    method = METHOD_ALIASES.get(m['method'], m['method'])
    # The name runs are grouped under: an alias counts as its method.
    name = f"{method}_{m['backbone']}_{m['schedule']}_{m['data']}"
    return ConfigName(name, method, m['backbone'], m['schedule'],
                      d['dataset'], imb)


# --------------------------------------------------------------------------
# Reading runs.
# --------------------------------------------------------------------------


@dataclass
class Run:
    """The results of one work dir.

    ``val`` holds one metrics dict per validation, in order; ``test`` the
    latest ``tools/test.py`` metrics (or None).
    """
    work_dir: str
    config: str
    val: List[Dict[str, float]] = field(default_factory=list)
    test: Optional[Dict[str, float]] = None


def _is_metric_key(key: str) -> bool:
    return '/' in key


def _metrics_only(record: dict) -> Dict[str, float]:
    return {
        k: float(v)
        for k, v in record.items() if _is_metric_key(k)
        and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def read_log(path: str) -> List[Dict[str, float]]:
    """Validation metrics from a Runner log (JSON lines), in order.

    Training lines (``loss``, ``lr``, ...) are skipped; a line counts as a
    validation when it holds a metric (a key with ``/``, e.g.
    ``accuracy/top1``). ``step`` (the epoch, or the iteration) is kept.
    """
    records = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path} line {lineno} is not JSON: {e}')
            metrics = _metrics_only(record)
            if metrics:
                if 'step' in record:
                    metrics['step'] = float(record['step'])
                records.append(metrics)
    return records


def read_metrics_file(path: str) -> Dict[str, float]:
    """Metrics of a test run: one JSON object (``<ts>/<ts>.json``, or the
    ``--out-item metrics`` file of tools/test.py)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        # A log with several lines: take its last validation.
        records = read_log(path)
        if not records:
            raise ValueError(f'{path} holds no metrics.')
        return records[-1]
    if not isinstance(record, dict):
        raise ValueError(f'{path} holds a {type(record).__name__}, not a '
                         'JSON object of metrics.')
    metrics = _metrics_only(record)
    if not metrics:
        raise ValueError(f'{path} holds no metrics (keys like '
                         f'accuracy/top1); keys: {sorted(record)}.')
    return metrics


def config_name_of(work_dir: str) -> str:
    """The config a work dir was trained with: the config the Runner
    dumped there (newest ``*.py``), else the work dir's own name."""
    dumped = sorted(
        glob.glob(osp.join(work_dir, '*.py')), key=osp.getmtime)
    if dumped:
        return osp.splitext(osp.basename(dumped[-1]))[0]
    return osp.basename(osp.normpath(work_dir))


def _classify(path: str) -> Tuple[Optional[str], Optional[str]]:
    """(work dir, kind) of a Runner output file; kind 'log' or 'test'."""
    path = osp.abspath(path)
    parent = osp.dirname(path)
    name = osp.basename(path)
    stem = osp.splitext(name)[0]
    if osp.basename(parent) == 'vis_data' and (
            name == 'scalars.json' or _TIMESTAMP_RE.match(stem)):
        return osp.dirname(osp.dirname(parent)), 'log'
    if _TIMESTAMP_RE.match(stem) and osp.basename(parent) == stem:
        return osp.dirname(parent), 'test'
    return None, None


def _walk(path: str) -> Iterable[str]:
    for root, _, files in os.walk(path):
        for name in sorted(files):
            if name.endswith('.json'):
                yield osp.join(root, name)


def load_runs(paths: Sequence[str]) -> List[Run]:
    """Find every run under ``paths`` (work dirs, folders of work dirs, or
    Runner JSON files) and read its validations and latest test."""
    logs: Dict[str, Dict[str, str]] = defaultdict(dict)  # wd -> ts -> file
    tests: Dict[str, Dict[str, str]] = defaultdict(dict)
    direct: List[Run] = []
    for path in paths:
        if not osp.exists(path):
            raise FileNotFoundError(f'no such file or folder: {path}')
        files = list(_walk(path)) if osp.isdir(path) else [path]
        for file in files:
            work_dir, kind = _classify(file)
            if kind == 'log':
                ts = osp.basename(osp.dirname(osp.dirname(file)))
                # scalars.json and the LoggerHook's json hold the same
                # validations: prefer scalars.json.
                if ts not in logs[work_dir] or osp.basename(
                        file) == 'scalars.json':
                    logs[work_dir][ts] = file
            elif kind == 'test':
                ts = osp.basename(osp.dirname(file))
                tests[work_dir][ts] = file
            elif not osp.isdir(path):
                # A metrics file given by name (tools/test.py --out).
                work_dir = osp.dirname(osp.abspath(file))
                direct.append(
                    Run(work_dir, config_name_of(work_dir),
                        test=read_metrics_file(file)))
    runs = []
    for work_dir in sorted(set(logs) | set(tests)):
        run = Run(work_dir, config_name_of(work_dir))
        # Timestamps sort in time order; a resumed run continues in a new
        # timestamp folder.
        for ts in sorted(logs.get(work_dir, {})):
            run.val.extend(read_log(logs[work_dir][ts]))
        test_files = tests.get(work_dir, {})
        for ts in sorted(test_files, reverse=True):
            try:
                run.test = read_metrics_file(test_files[ts])
                break
            except ValueError:  # e.g. an interrupted test run
                continue
        if run.val or run.test:
            runs.append(run)
    return runs + direct


def top1_of(metrics: Dict[str, float]) -> Optional[float]:
    for key in TOP1_KEYS:
        if key in metrics:
            return metrics[key]
    return None


def select_metrics(run: Run, source: str = 'auto',
                   select: str = 'last') -> Optional[Dict[str, float]]:
    """The metrics that stand for a run.

    Args:
        run: The run.
        source: ``'test'`` (tools/test.py output), ``'val'`` (validation
            during training) or ``'auto'`` (test if there is one, else val).
        select: For validations: ``'last'`` (the final epoch; the honest
            choice where validation is the test set) or ``'best'`` (highest
            top-1 over epochs; optimistic).
    """
    if source not in ('auto', 'test', 'val'):
        raise ValueError(
            f"source must be 'auto', 'test' or 'val', got {source!r}.")
    if select not in ('last', 'best'):
        raise ValueError(f"select must be 'last' or 'best', got {select!r}.")
    if source in ('auto', 'test') and run.test is not None:
        return run.test
    if source == 'test' or not run.val:
        return None
    if select == 'last':
        return run.val[-1]
    scored = [m for m in run.val if top1_of(m) is not None]
    return max(scored, key=top1_of) if scored else run.val[-1]


def group_values(metrics: Dict[str, float]) -> Dict[str, float]:
    """Frequency-group accuracies by group name (``many``, ``medium``,
    ``few``, ``rare``) from keys like ``group_accuracy/many``; plus
    ``overall`` = the top-1."""
    out = {}
    for key, value in metrics.items():
        group = key.rsplit('/', 1)[-1].lower()
        if group in GROUP_COLUMNS[:-1] and not math.isnan(value):
            out.setdefault(group, value)
    top1 = top1_of(metrics)
    if top1 is not None:
        out['overall'] = top1
    return out


# --------------------------------------------------------------------------
# Aggregation and tables.
# --------------------------------------------------------------------------


@dataclass
class Cell:
    """Mean (and spread) of a value over the runs of one config."""
    values: List[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    def format(self) -> str:
        if len(self.values) == 1:
            return f'{self.values[0]:.2f}'
        return (f'{self.mean:.2f} ± {statistics.stdev(self.values):.2f} '
                f'(n={len(self.values)})')


@dataclass
class Result:
    """All runs of one config: per column, the values over runs."""
    name: ConfigName
    columns: Dict[str, Cell] = field(default_factory=dict)
    num_runs: int = 0


def aggregate(runs: Sequence[Run], source: str = 'auto',
              select: str = 'last') -> Tuple[Dict[str, Result], List[str]]:
    """Average runs by config name.

    Returns:
        (results by config name, warnings about skipped runs).
    """
    per_config: Dict[str, Result] = {}
    warnings = []
    for run in runs:
        try:
            name = parse_config_name(run.config)
        except ValueError as e:
            warnings.append(f'{run.work_dir}: skipped, {e}')
            continue
        metrics = select_metrics(run, source, select)
        if metrics is None or top1_of(metrics) is None:
            warnings.append(f'{run.work_dir}: skipped, no top-1 accuracy '
                            f'(source={source}).')
            continue
        result = per_config.setdefault(name.name, Result(name))
        result.num_runs += 1
        for column, value in group_values(metrics).items():
            result.columns.setdefault(column, Cell([])).values.append(value)
    return per_config, warnings


def _cell(ours: Optional[Cell], paper: Optional[float]) -> str:
    left = ours.format() if ours is not None else '–'
    right = f'{paper:.2f}' if paper is not None else '–'
    return f'{left} / {right}'


def _method_rank(method: str) -> Tuple[int, str]:
    names = list(METHOD_NAMES)
    return (names.index(method) if method in names else len(names), method)


def _method_order(methods: Iterable[str]) -> List[str]:
    return sorted(set(methods), key=_method_rank)


def _label(method: str) -> str:
    return METHOD_NAMES.get(method, method)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join(['---'] + [':-:'] * (len(header) - 1)) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def render_table1(results: Dict[str, Result]) -> List[str]:
    """Table 1 blocks: one per (data set, backbone, schedule) with runs."""
    blocks = []
    keys = sorted({(r.name.dataset, r.name.backbone, r.name.schedule)
                   for r in results.values()
                   if r.name.dataset in TABLE1_DATASETS + tuple(
                       PAPER_REFERENCE)
                   and r.name.imbalance_factor is not None})
    for dataset, backbone, schedule in keys:
        ref = PAPER_REFERENCE.get(dataset, dataset)
        ours = {(r.name.method, r.name.imbalance_factor): r
                for r in results.values()
                if (r.name.dataset, r.name.backbone,
                    r.name.schedule) == (dataset, backbone, schedule)}
        ifs = {imb for _, imb in ours}
        if ref == dataset:  # the paper's data: all of its columns
            ifs |= set(TABLE1_IFS)
        ifs = sorted(ifs, reverse=True)
        methods = _method_order({m for m, _ in ours} | set(PAPER_TABLE1))
        rows = []
        for method in methods:
            row = [_label(method)]
            for imb in ifs:
                result = ours.get((method, imb))
                paper = PAPER_TABLE1.get(PAPER_METHOD.get(method, method),
                                        {}).get(ref)
                paper_value = (paper[TABLE1_IFS.index(imb)]
                               if paper and imb in TABLE1_IFS else None)
                row.append(
                    _cell(result.columns.get('overall') if result else None,
                          paper_value))
            rows.append(row)
        title = (f'### Table 1: {DATASET_NAMES.get(dataset, dataset)}, '
                 f'{backbone}, {schedule} (top-1 %, ours / paper)')
        note = ''
        if ref != dataset or schedule != '200e':
            note = ('\n\nPaper numbers: ResNet-32, 200 epochs on '
                    f'{DATASET_NAMES[ref]}; ours differ in data or '
                    'schedule, so compare methods within the ours column.')
        blocks.append(title + '\n\n' +
                      _table(['Method'] + [f'IF {i}' for i in ifs], rows) +
                      note)
    return blocks


def _group_block(title: str, results: Dict[str, Result],
                 paper: Dict[str, Tuple[float, ...]]) -> str:
    methods = _method_order(set(results) | set(paper))
    rows = []
    for method in methods:
        result = results.get(method)
        row = [_label(method)]
        paper_row = paper.get(PAPER_METHOD.get(method, method))
        for i, column in enumerate(GROUP_COLUMNS):
            ours = result.columns.get(column) if result else None
            ref = paper_row[i] if paper_row else None
            row.append(_cell(ours, ref))
        rows.append(row)
    header = ['Method'] + [c.capitalize() for c in GROUP_COLUMNS]
    return title + '\n\n' + _table(header, rows)


def render_table2(results: Dict[str, Result]) -> List[str]:
    blocks = []
    for dataset in TABLE2_DATASETS:
        keys = sorted({(r.name.backbone, r.name.schedule)
                       for r in results.values()
                       if r.name.dataset == dataset})
        for backbone, schedule in keys:
            ours = {r.name.method: r for r in results.values()
                    if (r.name.dataset, r.name.backbone,
                        r.name.schedule) == (dataset, backbone, schedule)
                    and (r.name.method in PAPER_TABLE2[dataset]
                         or r.name.method not in PAPER_TABLE3)}
            blocks.append(_group_block(
                f'### Table 2: {DATASET_NAMES[dataset]}, {backbone}, '
                f'{schedule} (top-1 %, ours / paper)', ours,
                PAPER_TABLE2[dataset]))
    return blocks


def render_table3(results: Dict[str, Result]) -> List[str]:
    blocks = []
    keys = sorted({(r.name.backbone, r.name.schedule)
                   for r in results.values()
                   if r.name.dataset == 'imagenet-lt'
                   and r.name.method in PAPER_TABLE3
                   and r.name.method not in PAPER_TABLE2['imagenet-lt']})
    for backbone, schedule in keys:
        ours = {r.name.method: r for r in results.values()
                if (r.name.dataset, r.name.backbone,
                    r.name.schedule) == ('imagenet-lt', backbone, schedule)
                and r.name.method in PAPER_TABLE3}
        blocks.append(_group_block(
            f'### Table 3: ablation on ImageNet-LT, {backbone}, {schedule} '
            '(top-1 %, ours / paper)', ours, PAPER_TABLE3))
    return blocks


def render_details(results: Dict[str, Result]) -> str:
    """Every config with its top-1 and group accuracies (ours only)."""
    groups = [g for g in GROUP_COLUMNS[:-1]
              if any(g in r.columns for r in results.values())]
    header = ['Config', 'Runs', 'Top-1'] + [g.capitalize() for g in groups]
    rows = []
    def order(name: str) -> tuple:
        n = results[name].name
        return (n.dataset, -(n.imbalance_factor or 0), n.backbone,
                n.schedule, _method_rank(n.method), name)

    for name in sorted(results, key=order):
        result = results[name]
        row = [f'`{name}`', str(result.num_runs),
               result.columns['overall'].format()]
        row += [result.columns[g].format() if g in result.columns else '–'
                for g in groups]
        rows.append(row)
    return '### All runs (ours)\n\n' + _table(header, rows)


def render(results: Dict[str, Result], source: str, select: str) -> str:
    """The whole Markdown report."""
    if not results:
        return 'No results found.\n'
    picked = ('tools/test.py metrics where present, else '
              if source == 'auto' else '')
    if source == 'test':
        picked = 'tools/test.py metrics'
    else:
        picked += ('the last validation' if select == 'last' else
                   'the best validation epoch (optimistic)')
    blocks = [f'Results: {picked}; runs of one config are averaged.']
    blocks += render_table1(results)
    blocks += render_table2(results)
    blocks += render_table3(results)
    blocks.append(render_details(results))
    return '\n\n'.join(blocks) + '\n'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Collect results of runs into Markdown tables laid out '
        'like the paper (Tables 1-3), with the paper numbers alongside.')
    parser.add_argument(
        'paths', nargs='+',
        help='work dirs, folders of work dirs, or Runner JSON files')
    parser.add_argument(
        '--source', choices=['auto', 'test', 'val'], default='auto',
        help='tools/test.py output (test), validation during training '
        '(val), or test where present else val (auto, default)')
    parser.add_argument(
        '--select', choices=['last', 'best'], default='last',
        help='which validation stands for a run: the last epoch (default) '
        'or the best top-1 (optimistic: validation is the test set)')
    parser.add_argument('--out', help='also write the Markdown to this file')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    runs = load_runs(args.paths)
    results, warnings = aggregate(runs, args.source, args.select)
    for warning in warnings:
        print(f'warning: {warning}', file=sys.stderr)
    text = render(results, args.source, args.select)
    print(text, end='')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text)
    return 0 if results else 1


if __name__ == '__main__':
    sys.exit(main())
