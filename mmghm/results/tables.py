"""Markdown tables of run results, for README blocks and for work dirs.

Every table is made from run results (:class:`~mmghm.results.files.
RunResult`): the committed result files for README blocks
(:mod:`mmghm.results.readme`), or work dirs exported in memory
(:func:`~mmghm.results.export.export_work_dirs`) for ``collect_results.py
tables``. Layouts:

- :func:`suite_table`: one row per config (and variant) of a suite, each
  metric as mean ± sample standard deviation over seeds, n, and a "how
  measured" paragraph;
- :func:`config_folder_table`: one row per config of a ``configs/<folder>``
  (from its ``metafile.yml``), the paper's number beside ours from every
  suite that ran it;
- :func:`comparison_summary`: two sentences, one method against its
  baseline and peers;
- :func:`paper_layout` (of :func:`paper_rows`): the paper's Tables 1-3
  with the paper's numbers beside ours, and every row of ours;

and :func:`benchmark_table` renders any benchmark file.
"""
import math
import os.path as osp
import statistics
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple)

import yaml

from .files import (RunResult, dedupe_by_checkpoint, load_benchmark,
                    load_run_results, top1_of)
from .names import (DATASET_NAMES, PAPER_METHOD, PAPER_REFERENCE,
                    ConfigName, is_paper_data, method_label, method_rank,
                    parse_config_name)
from .paper import load_paper_tables, paper_top1

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
    for key in METRICS.get(name, (name, )):
        value = metrics.get(key)
        if value is not None and not (isinstance(value, float)
                                      and math.isnan(value)):
            return float(value)
    return None


def metric_stat(results: Iterable[RunResult], name: str) -> Stat:
    """One metric over results (those without it left out)."""
    values = (metric_value(r.data['metrics'], name) for r in results)
    return Stat([v for v in values if v is not None])


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]],
              align: Optional[Sequence[str]] = None) -> str:
    align = align or ['---'] + [':-:'] * (len(header) - 1)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(align) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def _link(path: str, readme_dir: Optional[str]) -> str:
    """``path`` as a README in ``readme_dir`` links it (as is without)."""
    if readme_dir is None:
        return path
    return osp.relpath(path, readme_dir).replace(osp.sep, '/')


def _suite_results(
        results_dir: str, suite: str,
        readme_dir: Optional[str]) -> Tuple[List[RunResult], List[str], str]:
    """(a suite's results, each checkpoint once; warnings; link to it)."""
    results, warnings = dedupe_by_checkpoint(
        load_run_results(results_dir, suite))
    return results, warnings, _link(osp.join(results_dir, suite), readme_dir)


def _not_yet_run(link: str) -> str:
    return (f'Not yet run: no result files in `{link}/` yet, so no '
            'numbers are shown.')


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

    def join(key: str) -> str:
        return ' / '.join(str(v) for v in _unique(m.get(key)
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


def _notes(warnings: Sequence[str]) -> str:
    return ''.join(f'\n\nNote: {warning}' for warning in warnings)


def _format_wall(seconds: Sequence[float]) -> str:
    if not seconds:
        return '–'
    mean = statistics.fmean(seconds)
    return f'{mean / 60:.1f} min' if mean >= 60 else f'{mean:.0f} s'


def _paper_cell(stem: str) -> str:
    """The paper's 200-epoch top-1 for the data a config stands for."""
    try:
        name = parse_config_name(stem)
    except ValueError:
        return '–'
    value = paper_top1(PAPER_METHOD.get(name.method, name.method),
                       PAPER_REFERENCE.get(name.dataset, name.dataset),
                       name.imbalance_factor)
    return f'{value:.2f}' if value is not None else '–'


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
    results, warnings, link = _suite_results(results_dir, suite, readme_dir)
    if configs is not None:
        results = [r for r in results if r.config_stem in configs]
    if not results:
        return _not_yet_run(link)
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
        row += [metric_stat(runs, m).format() for m in metrics]
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
    return text + _notes(warnings)


def config_folder_table(results_dir: str, configs_dir: str, folder: str,
                        readme_dir: Optional[str] = None) -> str:
    """The results table of one config folder's README.

    One row per config of ``configs/<folder>/metafile.yml`` (and per
    variant that has results), the paper's top-1 where the paper has this
    cell, and ours from every suite that ran the config.
    """
    with open(osp.join(configs_dir, folder, 'metafile.yml'),
              encoding='utf-8') as f:
        stems = [osp.splitext(osp.basename(m['Config']))[0]
                 for m in yaml.safe_load(f).get('Models', [])]
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
        ours_parts, how_parts = [], []
        for suite, runs in by_key.get((stem, variant), {}).items():
            groups = ', '.join(
                f'{METRIC_LABELS[m]} {metric_stat(runs, m).format()}'
                for m in ('many', 'medium', 'few')
                if metric_stat(runs, m).values)
            ours_parts.append(f'{metric_stat(runs, "top1").format()} '
                              f'(n={len(runs)}' +
                              (f'; {groups}' if groups else '') + ')')
            link = _link(osp.join(results_dir, suite), readme_dir)
            m = runs[0].data['measured']
            how_parts.append(
                f'[{suite}]({link}/): {m.get("epochs")} epochs, '
                f'{m["evaluated"]}, {m["device"]}, torch {m["torch"]}')
        rows.append([label, f'{paper:.2f}' if paper is not None else '–',
                     '<br>'.join(ours_parts) or 'not yet run',
                     '<br>'.join(how_parts)])
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
    details = '; '.join(f'{k}: {str(v).rstrip(".")}'
                        for k, v in data.get('measured', {}).items())
    return (_markdown(header, rows) +
            f'\n\nHow measured: device {data["device"]}, torch '
            f'{data["torch"]}' + (f'; {details}' if details else '') +
            f'; file: [`{osp.basename(path)}`]({_link(path, readme_dir)}).')


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
    results, _, link = _suite_results(results_dir, suite, readme_dir)
    rows = {stem: runs for (stem, variant), runs in
            group_results(results).items() if variant is None}
    named = (method, baseline, *peers)
    missing = [s for s in named if s not in rows]
    if missing:
        raise ValueError(f'summary of suite {suite!r}: no results for '
                         f'{missing} (configs with results: '
                         f'{sorted(rows)}).')

    def label(stem: str) -> str:
        return row_label(stem, None)

    def means(metric: str, stem: str = method) -> Tuple[Stat, Stat, float]:
        """(``method``'s stat, ``stem``'s, and the difference of the means
        as printed, 2 decimals each)."""
        ours, theirs = metric_stat(rows[method], metric), metric_stat(
            rows[stem], metric)
        return ours, theirs, round(ours.mean, 2) - round(theirs.mean, 2)

    parts = []
    for other in (baseline, *peers):
        ours, theirs, gap = means('top1', other)
        word = _compare_word(gap, max(ours.std, theirs.std))
        parts.append(f'**{word}** {label(other)} ({theirs.mean:.2f}, '
                     f'{gap:+.2f})')
    if len(parts) > 2:
        compared = ', '.join(parts[:-1]) + ' and ' + parts[-1]
    else:
        compared = ' and '.join(parts)
    measured = [r.data['measured'] for stem in named for r in rows[stem]]
    data = ' / '.join(_unique(m.get('data') for m in measured))
    epochs = ' / '.join(str(e) for e in _unique(m.get('epochs')
                                                for m in measured))
    seeds = ' / '.join(str(n) for n in sorted({len(rows[s]) for s in named}))
    first = (f'- **Does it work?** On {data} ({epochs} epochs, mean top-1 '
             f'of {seeds} seeds, [files]({link}/)), {label(method)} '
             f'reaches {metric_stat(rows[method], "top1").mean:.2f}: '
             f'{compared}.')
    few, few_base, few_gap = means('few', baseline)
    many, many_base, many_gap = means('many', baseline)
    head = ('**loses** {:.2f} points'.format(-many_gap) if many_gap < 0
            else 'gains {:.2f} points'.format(many_gap))
    second = (f'- **Where:** on the Few classes {few.mean:.2f} against '
              f'{few_base.mean:.2f} for {label(baseline)} '
              f'({few_gap:+.2f}); on the Many classes it '
              f'{head} ({many.mean:.2f} against {many_base.mean:.2f}).')
    return first + '\n' + second


# --------------------------------------------------------------------------
# The paper's layout: Tables 1-3, ours / paper in each cell.
# --------------------------------------------------------------------------


@dataclass
class PaperRow:
    """The results of one config name with one set of options: per column
    of the paper's Tables 2-3 (groups, then ``overall``), the values."""
    name: ConfigName
    #: The variant, ``cfg_options`` and flags of these results; empty for
    #: the config as it is (the only rows beside the paper's).
    overrides: Tuple[str, ...] = ()
    columns: Dict[str, Stat] = field(default_factory=dict)
    num_runs: int = 0


def _paper_columns(metrics: Dict[str, Optional[float]],
                   columns: Sequence[str]) -> Dict[str, float]:
    """Group accuracies by group name (``many``...) from keys like
    ``group_accuracy/many``; plus ``overall`` = the top-1."""
    known = {k: v for k, v in metrics.items()
             if v is not None and not math.isnan(v)}
    out = {}
    for key, value in known.items():
        group = key.rsplit('/', 1)[-1].lower()
        if group in columns[:-1]:
            out.setdefault(group, value)
    top1 = top1_of(known)
    if top1 is not None:
        out['overall'] = top1
    return out


def paper_rows(results: Sequence[RunResult]) -> Dict[str, PaperRow]:
    """Results averaged by config name and options.

    Results of one config are averaged only when configured alike: a
    variant, ``cfg_options`` or flags (an unfinished training) make a row
    of their own, keyed ``<config> [k=v, ...]`` and kept out of the
    paper's tables. Config names are taken with their aliases applied
    (:func:`~mmghm.results.names.parse_config_name`); results whose name
    does not follow the convention are left out.
    """
    columns = load_paper_tables().group_columns
    rows: Dict[str, PaperRow] = {}
    for res in results:
        try:
            name = parse_config_name(res.config_stem)
        except ValueError:
            continue
        options = ((res.variant, ) if res.variant else ()) + tuple(
            res.data['cfg_options']) + tuple(res.flags)
        key = name.name + (f' [{", ".join(options)}]' if options else '')
        row = rows.setdefault(key, PaperRow(name, options))
        row.num_runs += 1
        for column, value in _paper_columns(res.data['metrics'],
                                            columns).items():
            row.columns.setdefault(column, Stat()).values.append(value)
    return rows


def _cell(ours: Optional[Stat], paper: Optional[float]) -> str:
    left = ours.format() if ours is not None else '–'
    if ours is not None and ours.n > 1:
        left += f' (n={ours.n})'
    right = f'{paper:.2f}' if paper is not None else '–'
    return f'{left} / {right}'


def _method_order(methods: Iterable[str]) -> List[str]:
    return sorted(set(methods), key=method_rank)


def _table1(rows: Dict[str, PaperRow]) -> List[str]:
    """Table 1 blocks: one per (data set, backbone, schedule) with rows."""
    tables = load_paper_tables()
    blocks = []
    keys = sorted({(r.name.dataset, r.name.backbone, r.name.schedule)
                   for r in rows.values()
                   if r.name.dataset in tables.table1_datasets + tuple(
                       PAPER_REFERENCE)
                   and r.name.imbalance_factor is not None})
    for dataset, backbone, schedule in keys:
        ref = PAPER_REFERENCE.get(dataset, dataset)
        ours = {(r.name.method, r.name.imbalance_factor): r
                for r in rows.values()
                if (r.name.dataset, r.name.backbone,
                    r.name.schedule) == (dataset, backbone, schedule)}
        ifs = {imb for _, imb in ours}
        if ref == dataset:  # the paper's data: all of its columns
            ifs |= set(tables.table1_ifs)
        ifs = sorted(ifs, reverse=True)
        lines = []
        for method in _method_order({m for m, _ in ours} | set(tables.table1)):
            cells = [method_label(method)]
            for imb in ifs:
                row = ours.get((method, imb))
                cells.append(_cell(
                    row.columns.get('overall') if row else None,
                    paper_top1(PAPER_METHOD.get(method, method), ref, imb)))
            lines.append(cells)
        title = (f'### Table 1: {DATASET_NAMES.get(dataset, dataset)}, '
                 f'{backbone}, {schedule} (top-1 %, ours / paper)')
        note = ''
        if ref != dataset or schedule != '200e':
            note = ('\n\nPaper numbers: ResNet-32, 200 epochs on '
                    f'{DATASET_NAMES[ref]}; ours differ in data or '
                    'schedule, so compare methods within the ours column.')
        blocks.append(title + '\n\n' +
                      _markdown(['Method'] + [f'IF {i}' for i in ifs], lines)
                      + note)
    return blocks


def _group_tables(rows: Dict[str, PaperRow], title: str, dataset: str,
                  paper: Dict[str, Tuple[float, ...]],
                  shown: Callable[[str], bool],
                  opening: Callable[[str], bool]) -> List[str]:
    """Blocks of a table by frequency group (the paper's Tables 2 and 3):
    one per (backbone, schedule) of ``dataset`` with a row of a method
    ``opening`` names; each holds the rows of the methods ``shown`` keeps
    and ``paper``'s."""
    columns = load_paper_tables().group_columns
    mine = [r for r in rows.values() if r.name.dataset == dataset
            and is_paper_data(dataset, r.name.imbalance_factor)]
    blocks = []
    for backbone, schedule in sorted({(r.name.backbone, r.name.schedule)
                                      for r in mine
                                      if opening(r.name.method)}):
        ours = {r.name.method: r for r in mine
                if (r.name.backbone, r.name.schedule) == (backbone, schedule)
                and shown(r.name.method)}
        lines = []
        for method in _method_order(set(ours) | set(paper)):
            row = ours.get(method)
            paper_row = paper.get(PAPER_METHOD.get(method, method))
            lines.append([method_label(method)] + [
                _cell(row.columns.get(column) if row else None,
                      paper_row[i] if paper_row else None)
                for i, column in enumerate(columns)])
        blocks.append(
            f'### {title}, {backbone}, {schedule} (top-1 %, ours / paper)'
            '\n\n' + _markdown(['Method'] + [c.capitalize() for c in columns],
                               lines))
    return blocks


def _details(rows: Dict[str, PaperRow]) -> str:
    """Every row with its top-1 and group accuracies (ours only)."""
    columns = load_paper_tables().group_columns
    groups = [g for g in columns[:-1]
              if any(g in r.columns for r in rows.values())]
    header = ['Config', 'Runs', 'Top-1'] + [g.capitalize() for g in groups]

    def order(key: str) -> tuple:
        n = rows[key].name
        return (n.dataset, -(n.imbalance_factor or 0), n.backbone,
                n.schedule, method_rank(n.method), key)

    lines = []
    for key in sorted(rows, key=order):
        row = rows[key]
        lines.append([f'`{key}`', str(row.num_runs),
                      row.columns['overall'].format()] +
                     [row.columns[g].format() if g in row.columns else '–'
                      for g in groups])
    return '### All runs (ours)\n\n' + _markdown(header, lines)


def paper_layout(rows: Dict[str, PaperRow]) -> List[str]:
    """Markdown blocks laid out like the paper's Tables 1-3, ours / the
    paper's in each cell (rows without options only), then every row of
    ours."""
    tables = load_paper_tables()
    plain = {k: r for k, r in rows.items() if not r.overrides}
    blocks = _table1(plain)
    for dataset, paper in tables.table2.items():
        blocks += _group_tables(
            plain, f'Table 2: {DATASET_NAMES[dataset]}', dataset, paper,
            shown=lambda m, p=paper: m in p or m not in tables.table3,
            opening=lambda m: True)
    ablation = set(tables.table3) - set(tables.table2.get('imagenet-lt', {}))
    blocks += _group_tables(
        plain, 'Table 3: ablation on ImageNet-LT', 'imagenet-lt',
        tables.table3, shown=lambda m: m in tables.table3,
        opening=lambda m: m in ablation)
    return blocks + [_details(rows)]


def paper_table(results_dir: str, suite: str,
                readme_dir: Optional[str] = None) -> str:
    """The Markdown block of one suite in the paper's layout
    (:func:`paper_layout`) + how measured."""
    results, warnings, link = _suite_results(results_dir, suite, readme_dir)
    if not results:
        return _not_yet_run(link)
    text = '\n\n'.join(paper_layout(paper_rows(results)))
    text += ('\n\n' + how_measured(results) + ' Each cell: ours (mean ± '
             "sample standard deviation over n seeds) / the paper's; files: "
             f'[`{link}/`]({link}/).')
    return text + _notes(warnings)
