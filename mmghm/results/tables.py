"""Markdown tables from result files (README blocks) and from work dirs.

From committed result files (:mod:`mmghm.results.files`):

- :func:`suite_table`: one row per config (and variant) of a suite, each
  metric as mean ± sample standard deviation over seeds, n, and a "how
  measured" paragraph;
- :func:`config_folder_table`: one row per config of a ``configs/<folder>``
  (from its ``metafile.yml``), the paper's number beside ours from every
  suite that ran it;
- :func:`benchmark_table`: any benchmark file, whatever its columns.

From work dirs (:mod:`mmghm.results.runs`, before exporting):
:func:`render_report` lays runs out like the paper's Tables 1-3 with the
paper's numbers beside ours.
"""
import math
import os.path as osp
import statistics
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from .files import (RunResult, dedupe_by_checkpoint, load_benchmark,
                    load_run_results)
from .names import (DATASET_NAMES, PAPER_METHOD, PAPER_REFERENCE,
                    is_paper_data,
                    ConfigName, method_label, method_rank, parse_config_name)
from .paper import load_paper_tables, paper_top1
from .runs import Run, select_metrics, top1_of

#: Short metric names usable in README blocks -> Runner keys (first found).
METRICS: 'OrderedDict[str, Tuple[str, ...]]' = OrderedDict([
    ('top1', ('accuracy/top1', 'group_accuracy/top1')),
    ('many', ('group_accuracy/many', )),
    ('medium', ('group_accuracy/medium', )),
    ('few', ('group_accuracy/few', )),
    ('rare', ('group_accuracy/rare', )),
    ('mean_class', ('group_accuracy/mean_class', )),
])
#: Column titles of the short metric names.
METRIC_LABELS: Dict[str, str] = {
    'top1': 'Top-1', 'many': 'Many', 'medium': 'Medium', 'few': 'Few',
    'rare': 'Rare', 'mean_class': 'Mean class'}


@dataclass
class Stat:
    """Values of one metric over the seeds of one row."""
    values: List[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation (n - 1); 0 for one value."""
        return statistics.stdev(self.values) if self.n > 1 else 0.0

    def format(self, digits: int = 2) -> str:
        """``mean`` for one value, ``mean ± std`` for several."""
        if not self.values:
            return '–'
        if self.n == 1:
            return f'{self.values[0]:.{digits}f}'
        return f'{self.mean:.{digits}f} ± {self.std:.{digits}f}'


def metric_value(metrics: Dict[str, Optional[float]],
                 name: str) -> Optional[float]:
    """A short metric name's value (see :data:`METRICS`), or None."""
    keys = METRICS.get(name, (name, ))
    for key in keys:
        value = metrics.get(key)
        if value is not None and not (isinstance(value, float)
                                      and math.isnan(value)):
            return float(value)
    return None


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]],
              align: Optional[Sequence[str]] = None) -> str:
    align = align or ['---'] + [':-:'] * (len(header) - 1)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(align) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def _rel(path: str, start: str) -> str:
    return osp.relpath(path, start).replace(osp.sep, '/')


# --------------------------------------------------------------------------
# Tables from result files.
# --------------------------------------------------------------------------


def group_results(
    results: Sequence[RunResult]
) -> 'OrderedDict[Tuple[str, Optional[str]], List[RunResult]]':
    """Results by (config stem, variant), in method order."""
    groups: Dict[Tuple[str, Optional[str]], List[RunResult]] = {}
    for res in results:
        groups.setdefault(res.key, []).append(res)

    def order(key: Tuple[str, Optional[str]]) -> tuple:
        stem, variant = key
        try:
            method = parse_config_name(stem).method
        except ValueError:
            method = stem
        return (method_rank(method), stem, variant or '')

    return OrderedDict((k, sorted(groups[k], key=lambda r: r.data['seed']))
                       for k in sorted(groups, key=order))


def row_label(stem: str, variant: Optional[str]) -> str:
    """A row's method name: the display name of the config's method."""
    try:
        label = method_label(parse_config_name(stem).method)
    except ValueError:
        label = stem
    return f'{label} [{variant}]' if variant else label


def _unique(values: Iterable) -> List:
    out = []
    for v in values:
        if v is not None and v not in out:
            out.append(v)
    return out


def _short_commit(commit: Optional[str]) -> Optional[str]:
    """``abcdef1234`` (10 hex digits), keeping a ``-dirty`` mark."""
    if not commit:
        return None
    return commit[:10] + ('-dirty' if commit.endswith('-dirty') else '')


def how_measured(results: Sequence[RunResult]) -> str:
    """One paragraph saying how a set of results was measured."""
    measured = [r.data['measured'] for r in results]

    def join(key: str, fmt=str) -> str:
        return ' / '.join(fmt(v) for v in _unique(m.get(key)
                                                  for m in measured))

    dates = sorted(_unique(m.get('date') for m in measured))
    commits = _unique(_short_commit(m.get('commit')) for m in measured)
    epochs = join('epochs')
    parts = [f'`{join("tool")}`']
    if epochs:
        parts.append(f'{epochs} epochs')
    parts.append(f'evaluated: {join("evaluated")}')
    text = ('How measured: ' + ', '.join(parts) + f'; data: {join("data")}'
            f'; device: {join("device")}; torch {join("torch")}, '
            f'{join("precision")}; ')
    text += (dates[0] if len(dates) == 1 else f'{dates[0]} to {dates[-1]}')
    text += (f', commit {", ".join(commits)}' if commits else
             ', commit not recorded')
    cfg_options = _unique(o for r in results for o in r.data['cfg_options'])
    if cfg_options:
        text += '; cfg-options: ' + ', '.join(f'`{o}`' for o in cfg_options)
    return text + '.'


def _format_wall(seconds: Sequence[float]) -> str:
    if not seconds:
        return '–'
    mean = statistics.fmean(seconds)
    return f'{mean / 60:.1f} min' if mean >= 60 else f'{mean:.0f} s'


def suite_table(results_dir: str,
                suite: str,
                metrics: Sequence[str] = ('top1', 'many', 'medium', 'few'),
                configs: Optional[Sequence[str]] = None,
                paper: bool = False,
                wall: bool = False,
                readme_dir: Optional[str] = None) -> str:
    """The Markdown block of one suite: table + how measured.

    Args:
        results_dir: The ``results`` folder.
        suite: The suite's name (its folder).
        metrics: Short metric names (:data:`METRICS`) or Runner keys.
        configs: Config stems to show, in this order (default: all, in
            method order).
        paper: Add the paper's top-1 for the config's method on the data it
            stands for (Table 1, ResNet-32, 200 epochs).
        wall: Add the mean wall time of a run.
        readme_dir: Folder of the README (for relative links).

    Returns:
        str: The block; a "not yet run" line for a suite with no results.
    """
    folder = osp.join(results_dir, suite)
    link = _rel(folder, readme_dir) if readme_dir else folder
    results, warnings = dedupe_by_checkpoint(
        load_run_results(results_dir, suite))
    if configs is not None:
        results = [r for r in results if r.config_stem in configs]
    if not results:
        return (f'Not yet run: no result files in `{link}/` yet, so no '
                'numbers are shown.')
    grouped = group_results(results)
    if configs is not None:
        grouped = OrderedDict(
            sorted(grouped.items(),
                   key=lambda kv: (configs.index(kv[0][0]), kv[0][1] or '')))
    header = ['Method', 'Config', 'n']
    header += [METRIC_LABELS.get(m, m) for m in metrics]
    if paper:
        header.append('Paper (200 epochs)')
    if wall:
        header.append('Wall time / run')
    rows = []
    for (stem, variant), runs in grouped.items():
        row = [row_label(stem, variant), f'`{stem}`', str(len(runs))]
        for m in metrics:
            stat = Stat([v for v in (metric_value(r.data['metrics'], m)
                                     for r in runs) if v is not None])
            row.append(stat.format())
        if paper:
            row.append(_paper_cell(stem))
        if wall:
            row.append(_format_wall([r.data['measured']['wall_s']
                                     for r in runs
                                     if r.data['measured'].get('wall_s')
                                     is not None]))
        rows.append(row)
    text = _markdown(header, rows, ['---', '---'] + [':-:'] *
                     (len(header) - 2))
    text += ('\n\n' + how_measured(results) +
             ' Each cell: mean ± sample standard deviation over n seeds '
             f'(one value when n = 1); files: [`{link}/`]({link}/).')
    for warning in warnings:
        text += f'\n\nNote: {warning}'
    return text


def _paper_cell(stem: str) -> str:
    try:
        name = parse_config_name(stem)
    except ValueError:
        return '–'
    value = paper_top1(PAPER_METHOD.get(name.method, name.method),
                       PAPER_REFERENCE.get(name.dataset, name.dataset),
                       name.imbalance_factor)
    return f'{value:.2f}' if value is not None else '–'


def _metafile_models(configs_dir: str, folder: str) -> List[str]:
    path = osp.join(configs_dir, folder, 'metafile.yml')
    with open(path, encoding='utf-8') as f:
        meta = yaml.safe_load(f)
    return [osp.splitext(osp.basename(m['Config']))[0]
            for m in meta.get('Models', [])]


def config_folder_table(results_dir: str, configs_dir: str, folder: str,
                        readme_dir: Optional[str] = None) -> str:
    """The results table of one config folder's README.

    One row per config of ``configs/<folder>/metafile.yml`` (and per
    variant that has results), the paper's top-1 where the paper has this
    cell, and ours from every suite that ran the config.
    """
    stems = _metafile_models(configs_dir, folder)
    readme_dir = readme_dir or osp.join(configs_dir, folder)
    all_results, _ = dedupe_by_checkpoint(load_run_results(results_dir))
    by_key: Dict[Tuple[str, Optional[str]], Dict[str, List[RunResult]]] = {}
    for res in all_results:
        if res.config_stem in stems:
            by_key.setdefault(res.key, OrderedDict()).setdefault(
                res.suite, []).append(res)
    keys: List[Tuple[str, Optional[str]]] = []
    for stem in stems:
        keys.append((stem, None))
        keys += sorted((k for k in by_key if k[0] == stem and k[1]),
                       key=lambda k: k[1])
    rows = []
    for stem, variant in keys:
        try:
            name: Optional[ConfigName] = parse_config_name(stem)
        except ValueError:
            name = None
        paper = paper_top1(PAPER_METHOD.get(name.method, name.method),
                           name.dataset, name.imbalance_factor,
                           name.schedule) if name else None
        label = f'[{stem}](./{stem}.py)'
        if variant:
            label += f' [{variant}]'
        suites = by_key.get((stem, variant), {})
        if not suites:
            ours, how = 'not yet run', ''
        else:
            ours_parts, how_parts = [], []
            for suite, runs in suites.items():
                stats = {m: Stat([v for v in (metric_value(
                    r.data['metrics'], m) for r in runs) if v is not None])
                         for m in ('top1', 'many', 'medium', 'few')}
                groups = ', '.join(f'{METRIC_LABELS[m]} {stats[m].format()}'
                                   for m in ('many', 'medium', 'few')
                                   if stats[m].values)
                ours_parts.append(
                    f'{stats["top1"].format()} (n={len(runs)}'
                    + (f'; {groups}' if groups else '') + ')')
                link = _rel(osp.join(results_dir, suite), readme_dir)
                m = runs[0].data['measured']
                how_parts.append(
                    f'[{suite}]({link}/): {m.get("epochs")} epochs, '
                    f'{m["evaluated"]}, {m["device"]}, torch {m["torch"]}')
            ours, how = '<br>'.join(ours_parts), '<br>'.join(how_parts)
        rows.append([label, f'{paper:.2f}' if paper is not None else '–',
                     ours, how])
    return _markdown(['Config', 'Paper', 'Ours (top-1, mean ± std)',
                      'How ours was measured'], rows,
                     ['---', ':-:', ':-:', '---'])


def benchmark_table(path: str, readme_dir: Optional[str] = None) -> str:
    """The Markdown block of one benchmark file, whatever its columns.

    A column is a row key, or ``{"key", "label", "format"}`` where
    ``format`` is a Python format string such as ``"{:.2f}x"``. Numbers
    without a format get two decimals; missing cells a dash.
    """
    data = load_benchmark(path)
    columns = [c if isinstance(c, dict) else {'key': c}
               for c in data['columns']]
    header = [c.get('label', c['key']) for c in columns]
    rows = []
    for row in data['rows']:
        cells = []
        for col in columns:
            value = row.get(col['key'])
            if value is None:
                cells.append('–')
            elif isinstance(value, bool) or not isinstance(value,
                                                           (int, float)):
                cells.append(str(value))
            elif 'format' in col:
                cells.append(col['format'].format(value))
            elif isinstance(value, int):
                cells.append(str(value))
            else:
                cells.append(f'{value:.2f}')
        rows.append(cells)
    measured = data.get('measured', {})
    details = '; '.join(f'{k}: {str(v).rstrip(".")}'
                        for k, v in measured.items())
    link = _rel(path, readme_dir) if readme_dir else path
    text = _markdown(header, rows)
    text += (f'\n\nHow measured: device {data["device"]}, torch '
             f'{data["torch"]}' + (f'; {details}' if details else '') +
             f'; file: [`{osp.basename(path)}`]({link}).')
    return text


# --------------------------------------------------------------------------
# The paper's layout (Tables 1-3) from work dirs.
# --------------------------------------------------------------------------


@dataclass
class Result:
    """All runs of one config and one set of changed options: per column,
    the values over runs."""
    name: ConfigName
    columns: Dict[str, Stat] = field(default_factory=dict)
    num_runs: int = 0
    #: ``key=value`` settings in which these runs differ from the config
    #: file (``--cfg-options``); empty for the config as it is.
    overrides: Tuple[str, ...] = ()


def group_values(metrics: Dict[str, float],
                 columns: Sequence[str]) -> Dict[str, float]:
    """Frequency-group accuracies by group name (``many``...) from keys
    like ``group_accuracy/many``; plus ``overall`` = the top-1."""
    out = {}
    for key, value in metrics.items():
        group = key.rsplit('/', 1)[-1].lower()
        if group in columns[:-1] and not math.isnan(value):
            out.setdefault(group, value)
    top1 = top1_of(metrics)
    if top1 is not None:
        out['overall'] = top1
    return out


def _changed_settings(original: dict, dumped: dict) -> Tuple[str, ...]:
    """``key=value`` of the dumped config's settings that the config file
    sets otherwise or not at all (what ``--cfg-options`` changed or added).

    As ``export``'s ``cfg_options``, but a key the dump lacks says nothing
    about the run and is not a difference; locations and the seed are not
    settings of the method.
    """
    import json

    from .files import _LOCATION_KEYS, _flatten
    a, b = _flatten(original), _flatten(dumped)
    out = []
    for key in sorted(b):
        if set(key.split('.')) & set(_LOCATION_KEYS) or \
                key == 'randomness.seed':
            continue
        if a.get(key, '<unset>') != b[key]:
            out.append(f'{key}={json.dumps(b[key])}')
    return tuple(out)


def _run_settings(run: Run, config_file: Optional[str],
                  originals: Dict[str, Optional[dict]]
                  ) -> Tuple[Tuple[str, ...], Optional[int], Optional[int]]:
    """(changed options, epochs the run validated, its max_epochs).

    The dumped config is read as data (never run); the options are what
    ``export`` records as ``cfg_options``: the settings in which the dumped
    config differs from the config file (``config_file``, a trusted file of
    this repository), locations and the seed left out.
    """
    from .files import read_dumped_config
    dumped = read_dumped_config(run.config_file) if run.config_file else {}
    overrides: Tuple[str, ...] = ()
    if dumped and config_file:
        if config_file not in originals:
            from mmengine.config import Config
            originals[config_file] = Config.fromfile(config_file).to_dict()
        overrides = _changed_settings(originals[config_file], dumped)
    train_cfg = dumped.get('train_cfg') or {}
    max_epochs = train_cfg.get('max_epochs') if train_cfg.get(
        'by_epoch', True) else None
    steps = [int(v['step']) for v in run.val if 'step' in v]
    return overrides, (steps[-1] if steps else None), max_epochs


def aggregate(runs: Sequence[Run], source: str = 'auto',
              select: str = 'last',
              find_config=None,
              allow_unfinished: bool = False
              ) -> Tuple[Dict[str, Result], List[str]]:
    """Average runs by config name and changed options.

    Runs of one config are averaged only when they were configured alike:
    runs whose dumped config differs from the config file
    (``--cfg-options``, e.g. ``train_cfg.max_epochs=4``) form a row of
    their own, keyed ``<config> [k=v, ...]``, kept out of the paper-layout
    tables; a training that stopped before its ``max_epochs`` is left out
    (with a warning) unless ``allow_unfinished``, which keeps it as a row
    of its own.

    Args:
        runs: Runs read by :func:`~mmghm.results.runs.load_runs`.
        source, select: Which metrics stand for a run
            (:func:`~mmghm.results.runs.select_metrics`).
        find_config: ``stem -> path of the config file or None`` (the
            command line looks in the repository's ``configs/``); None
            compares no options.
        allow_unfinished: Keep unfinished trainings (as their own rows).

    Returns:
        (results by row key, warnings about skipped or separated runs).
    """
    columns = load_paper_tables().group_columns
    per_config: Dict[str, Result] = {}
    warnings = []
    originals: Dict[str, Optional[dict]] = {}
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
        try:
            overrides, epochs, max_epochs = _run_settings(
                run, find_config(run.config) if find_config else None,
                originals)
        except ValueError as e:  # a dumped config that is not plain data
            warnings.append(f'{run.work_dir}: skipped, {e}')
            continue
        if epochs is not None and max_epochs and epochs < max_epochs:
            if not allow_unfinished:
                warnings.append(
                    f'{run.work_dir}: skipped, unfinished: its last '
                    f'validation is at epoch {epochs} of {max_epochs} '
                    '(--allow-unfinished shows it as a row of its own).')
                continue
            overrides += (f'unfinished: epoch {epochs} of {max_epochs}', )
        key = name.name + (f' [{", ".join(overrides)}]' if overrides else '')
        result = per_config.setdefault(key, Result(name,
                                                   overrides=overrides))
        result.num_runs += 1
        for column, value in group_values(metrics, columns).items():
            result.columns.setdefault(column, Stat()).values.append(value)
    for key, result in per_config.items():
        if result.overrides:
            warnings.append(
                f'{key}: {result.num_runs} run(s) configured differently '
                'from the config file (or unfinished), kept apart from its '
                'other runs and out of the paper-layout tables.')
    return per_config, warnings


def _cell(ours: Optional[Stat], paper: Optional[float]) -> str:
    left = ours.format() if ours is not None else '–'
    if ours is not None and ours.n > 1:
        left += f' (n={ours.n})'
    right = f'{paper:.2f}' if paper is not None else '–'
    return f'{left} / {right}'


def _method_order(methods: Iterable[str]) -> List[str]:
    return sorted(set(methods), key=method_rank)


def render_table1(results: Dict[str, Result]) -> List[str]:
    """Table 1 blocks: one per (data set, backbone, schedule) with runs."""
    tables = load_paper_tables()
    blocks = []
    keys = sorted({(r.name.dataset, r.name.backbone, r.name.schedule)
                   for r in results.values()
                   if r.name.dataset in tables.table1_datasets + tuple(
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
            ifs |= set(tables.table1_ifs)
        ifs = sorted(ifs, reverse=True)
        methods = _method_order({m for m, _ in ours} | set(tables.table1))
        rows = []
        for method in methods:
            row = [method_label(method)]
            for imb in ifs:
                result = ours.get((method, imb))
                paper = tables.table1.get(PAPER_METHOD.get(method, method),
                                          {}).get(ref)
                paper_value = (paper[tables.table1_ifs.index(imb)]
                               if paper and imb in tables.table1_ifs else
                               None)
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
                      _markdown(['Method'] + [f'IF {i}' for i in ifs], rows)
                      + note)
    return blocks


def _group_block(title: str, results: Dict[str, Result],
                 paper: Dict[str, Tuple[float, ...]]) -> str:
    columns = load_paper_tables().group_columns
    rows = []
    for method in _method_order(set(results) | set(paper)):
        result = results.get(method)
        row = [method_label(method)]
        paper_row = paper.get(PAPER_METHOD.get(method, method))
        for i, column in enumerate(columns):
            ours = result.columns.get(column) if result else None
            row.append(_cell(ours, paper_row[i] if paper_row else None))
        rows.append(row)
    header = ['Method'] + [c.capitalize() for c in columns]
    return title + '\n\n' + _markdown(header, rows)


def _paper_data(result: Result) -> bool:
    return is_paper_data(result.name.dataset, result.name.imbalance_factor)


def render_table2(results: Dict[str, Result]) -> List[str]:
    """Table 2 blocks (ImageNet-LT, iNaturalist 2017) with runs."""
    tables = load_paper_tables()
    blocks = []
    for dataset, paper in tables.table2.items():
        keys = sorted({(r.name.backbone, r.name.schedule)
                       for r in results.values()
                       if r.name.dataset == dataset and _paper_data(r)})
        for backbone, schedule in keys:
            ours = {r.name.method: r for r in results.values()
                    if (r.name.dataset, r.name.backbone,
                        r.name.schedule) == (dataset, backbone, schedule)
                    and _paper_data(r)
                    and (r.name.method in paper
                         or r.name.method not in tables.table3)}
            blocks.append(_group_block(
                f'### Table 2: {DATASET_NAMES[dataset]}, {backbone}, '
                f'{schedule} (top-1 %, ours / paper)', ours, paper))
    return blocks


def render_table3(results: Dict[str, Result]) -> List[str]:
    """Table 3 blocks (the ablation on ImageNet-LT) with runs."""
    tables = load_paper_tables()
    table2 = tables.table2.get('imagenet-lt', {})
    blocks = []
    keys = sorted({(r.name.backbone, r.name.schedule)
                   for r in results.values()
                   if r.name.dataset == 'imagenet-lt' and _paper_data(r)
                   and r.name.method in tables.table3
                   and r.name.method not in table2})
    for backbone, schedule in keys:
        ours = {r.name.method: r for r in results.values()
                if (r.name.dataset, r.name.backbone,
                    r.name.schedule) == ('imagenet-lt', backbone, schedule)
                and _paper_data(r) and r.name.method in tables.table3}
        blocks.append(_group_block(
            f'### Table 3: ablation on ImageNet-LT, {backbone}, {schedule} '
            '(top-1 %, ours / paper)', ours, tables.table3))
    return blocks


def render_details(results: Dict[str, Result]) -> str:
    """Every config with its top-1 and group accuracies (ours only)."""
    columns = load_paper_tables().group_columns
    groups = [g for g in columns[:-1]
              if any(g in r.columns for r in results.values())]
    header = ['Config', 'Runs', 'Top-1'] + [g.capitalize() for g in groups]

    def order(name: str) -> tuple:
        n = results[name].name
        return (n.dataset, -(n.imbalance_factor or 0), n.backbone,
                n.schedule, method_rank(n.method), name)

    rows = []
    for name in sorted(results, key=order):
        result = results[name]
        row = [f'`{name}`', str(result.num_runs),
               result.columns['overall'].format()]
        row += [result.columns[g].format() if g in result.columns else '–'
                for g in groups]
        rows.append(row)
    return '### All runs (ours)\n\n' + _markdown(header, rows)


def render_report(results: Dict[str, Result], source: str,
                  select: str) -> str:
    """The whole Markdown report of :func:`aggregate`'s results."""
    if not results:
        return 'No results found.\n'
    picked = ('tools/test.py metrics where present, else '
              if source == 'auto' else '')
    if source == 'test':
        picked = 'tools/test.py metrics'
    else:
        picked += ('the last validation' if select == 'last' else
                   'the best validation epoch (optimistic)')
    blocks = [f'Results: {picked}; runs of one config are averaged '
              '(mean ± sample std) when configured alike (other options: '
              'a row of their own, `config [k=v]`); one checkpoint counts '
              'once.']
    plain = {k: r for k, r in results.items() if not r.overrides}
    blocks += render_table1(plain)
    blocks += render_table2(plain)
    blocks += render_table3(plain)
    blocks.append(render_details(results))
    return '\n\n'.join(blocks) + '\n'


# --------------------------------------------------------------------------
# A few generated sentences: one method against its baseline and peers.
# --------------------------------------------------------------------------


def _compare_word(gap: float, spread: float) -> str:
    """'above' / 'below' when the gap of the means exceeds the larger seed
    spread, else 'level with'."""
    if gap > spread:
        return 'above'
    if gap < -spread:
        return 'below'
    return 'level with'


def comparison_summary(results_dir: str,
                       suite: str,
                       method: str,
                       baseline: str,
                       peers: Sequence[str] = (),
                       readme_dir: Optional[str] = None) -> str:
    """Two generated lines: ``method``'s top-1 against ``baseline`` and
    ``peers`` (above / below / level with, by the seed spread), and where
    its gain and loss lie (the Few and Many groups against ``baseline``).

    Args:
        results_dir: The ``results`` folder.
        suite: The suite's name.
        method, baseline: Config stems (rows without a variant).
        peers: Further config stems compared with ``method``.
        readme_dir: Folder of the README (for the link to the files).

    Raises:
        ValueError: when a named config has no results in the suite.
    """
    results, _ = dedupe_by_checkpoint(load_run_results(results_dir, suite))
    rows = {stem: runs for (stem, variant), runs in
            group_results(results).items() if variant is None}
    missing = [s for s in (method, baseline, *peers) if s not in rows]
    if missing:
        raise ValueError(f'summary of suite {suite!r}: no results for '
                         f'{missing} (configs with results: '
                         f'{sorted(rows)}).')

    def stat(stem: str, metric: str) -> Stat:
        return Stat([v for v in (metric_value(r.data['metrics'], metric)
                                 for r in rows[stem]) if v is not None])

    def label(stem: str) -> str:
        return row_label(stem, None)

    ours = stat(method, 'top1')
    parts = []
    for i, other in enumerate((baseline, *peers)):
        theirs = stat(other, 'top1')
        # the difference of the means as printed (2 decimals each)
        gap = round(ours.mean, 2) - round(theirs.mean, 2)
        word = _compare_word(gap, max(ours.std, theirs.std))
        parts.append(f'**{word}** {label(other)} ({theirs.mean:.2f}, '
                     f'{gap:+.2f})')
    if len(parts) > 2:
        compared = ', '.join(parts[:-1]) + ' and ' + parts[-1]
    else:
        compared = ' and '.join(parts)
    measured = [r.data['measured'] for stem in (method, baseline, *peers)
                for r in rows[stem]]
    data = ' / '.join(_unique(m.get('data') for m in measured))
    epochs = ' / '.join(str(e) for e in _unique(m.get('epochs')
                                                for m in measured))
    seeds = sorted({len(rows[s]) for s in (method, baseline, *peers)})
    seeds_text = ' / '.join(str(n) for n in seeds)
    folder = osp.join(results_dir, suite)
    link = _rel(folder, readme_dir) if readme_dir else folder
    first = (f'- **Does it work?** On {data} ({epochs} epochs, mean top-1 '
             f'of {seeds_text} seeds, [files]({link}/)), {label(method)} '
             f'reaches {ours.mean:.2f}: {compared}.')
    few, few_base = stat(method, 'few'), stat(baseline, 'few')
    many, many_base = stat(method, 'many'), stat(baseline, 'many')
    many_gap = round(many.mean, 2) - round(many_base.mean, 2)
    head = ('**loses** {:.2f} points'.format(-many_gap) if many_gap < 0
            else 'gains {:.2f} points'.format(many_gap))
    second = (f'- **Where:** on the Few classes {few.mean:.2f} against '
              f'{few_base.mean:.2f} for {label(baseline)} '
              f'({round(few.mean, 2) - round(few_base.mean, 2):+.2f}); on the '
              'Many classes it '
              f'{head} ({many.mean:.2f} against {many_base.mean:.2f}).')
    return first + '\n' + second
