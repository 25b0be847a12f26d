"""The command line of ``tools/analysis/collect_results.py``.

Kept in the package so that it is imported and tested like any module; the
tool only passes its repository root. Commands: ``export`` (work dirs ->
result files), ``readmes`` (regenerate or ``--check`` every results table),
``tables`` (work dirs exported in memory, in the paper's Tables 1-3
layout: the renderer of the README blocks).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

from mmghm.utils.provenance import code_commit
from mmghm.utils.files import atomic_write
from .export import export_run, export_work_dirs
from .files import write_result
from .readme import check_files, readme_files, update_file
from .runs import load_runs
from .tables import PaperRow, paper_layout, paper_rows

COMMANDS = ('export', 'readmes', 'tables')


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--source', choices=['auto', 'test', 'val'], default='auto',
        help='tools/test.py output (test), validation during training '
        '(val), or test where present else val (auto, default)')
    parser.add_argument(
        '--select', choices=['last', 'best'], default='last',
        help='which validation stands for a run: the last epoch (default) '
        'or the best top-1 (optimistic: validation is the test set)')


def parse_args(argv: Optional[Sequence[str]] = None,
               root: str = '.') -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Shortcuts, and the former interface (paths only) = `tables`.
    if argv and argv[0] in ('--update-readmes', '--check-readmes'):
        argv = ['readmes'] + (['--check'] if argv[0] == '--check-readmes'
                              else []) + argv[1:]
    elif argv and argv[0] not in COMMANDS + ('-h', '--help'):
        argv = ['tables'] + argv
    parser = argparse.ArgumentParser(
        description='Export runs into result files, regenerate README '
        'tables from them, or print the paper-layout tables.')
    sub = parser.add_subparsers(dest='command', required=True)

    exp = sub.add_parser('export', help='work dirs -> result files')
    exp.add_argument('paths', nargs='+',
                     help='work dirs, folders of work dirs, or metrics '
                     'files of tools/test.py --out ... --out-item metrics')
    exp.add_argument('--suite', required=True,
                     help='suite name: data + schedule + where it ran, '
                     'e.g. digits-lt_demo_cpu')
    exp.add_argument('--results-dir', default=osp.join(root, 'results'))
    exp.add_argument('--variant', default=None,
                     help='short name when --cfg-options made a new '
                     'method (kept apart from the config\'s own rows)')
    exp.add_argument('--data', default=None,
                     help='data description (default: from the config '
                     'name and the per-class counts the run logged)')
    exp.add_argument('--device', default=None,
                     help='device description (default: from the run\'s '
                     'summary.json or its log)')
    exp.add_argument('--commit', default=None,
                     help='code version (default: the run\'s summary.json, '
                     'else the git HEAD of this repository)')
    exp.add_argument('--allow-unfinished', action='store_true',
                     help='also export trainings that stopped before their '
                     'max_epochs')
    exp.add_argument('--dry-run', action='store_true',
                     help='print what would be written')
    _add_selection(exp)

    rd = sub.add_parser('readmes', help='regenerate README tables')
    rd.add_argument('--check', action='store_true',
                    help='write nothing; exit 1 if any table is stale')
    rd.add_argument('--root', default=root,
                    help='repository root (README.md, configs/, docs/, '
                    'results/)')

    tab = sub.add_parser('tables', help="paper-layout tables of work dirs")
    tab.add_argument('paths', nargs='+',
                     help='work dirs, folders of work dirs, or Runner JSON '
                     'files')
    tab.add_argument('--out', help='also write the Markdown to this file')
    tab.add_argument('--allow-unfinished', action='store_true',
                     help='show trainings that stopped before their '
                     'max_epochs, each as a row of its own (left out by '
                     'default)')
    _add_selection(tab)
    return parser.parse_args(argv)


def find_config(stem: str, root: str) -> Optional[str]:
    """``configs/<folder>/<stem>.py`` under ``root``, or None."""
    found = sorted(glob.glob(osp.join(root, 'configs', '**', f'{stem}.py'),
                             recursive=True))
    return found[0] if found else None


def cmd_export(args: argparse.Namespace, root: str) -> int:
    from mmengine.config import Config

    runs = load_runs(args.paths)
    if not runs:
        print('No runs found.', file=sys.stderr)
        return 1
    for run in runs:
        config_file = find_config(run.config, root)
        original = (Config.fromfile(config_file).to_dict()
                    if config_file else None)
        config = (osp.relpath(config_file, root).replace(osp.sep, '/')
                  if config_file else f'{run.config}.py')
        result = export_run(
            run, suite=args.suite, config=config, original_config=original,
            variant=args.variant, source=args.source, select=args.select,
            data=args.data, device=args.device,
            commit=args.commit, allow_unfinished=args.allow_unfinished)
        if result['measured'].get('commit') is None:
            result['measured']['commit'] = code_commit(root)
        if args.dry_run:
            print(json.dumps(result, indent=1))
            continue
        path = write_result(result, args.results_dir, args.suite)
        top1 = result['metrics'].get('accuracy/top1',
                                     result['metrics'].get(
                                         'group_accuracy/top1'))
        print(f'{run.work_dir} -> {path} (top-1 {top1:.2f}, '
              f'{result["measured"]["evaluated"]})')
    return 0


def cmd_readmes(args: argparse.Namespace, root: str) -> int:
    root = osp.abspath(args.root)
    if args.check:
        stale = check_files(root)
        for rel in stale:
            print(f'stale: {rel}')
        print(f'{len(stale)} file(s) stale; regenerate with: python '
              'tools/analysis/collect_results.py readmes')
        return 1 if stale else 0
    changed = [p for p in readme_files(root) if update_file(p, root)]
    for path in changed:
        print(f'updated: {osp.relpath(path, root)}')
    print(f'{len(changed)} file(s) updated')
    return 0


def report(rows: Dict[str, PaperRow], source: str, select: str) -> str:
    """The Markdown report of ``tables``: what stands for a run, then
    :func:`~mmghm.results.tables.paper_layout`."""
    if not rows:
        return 'No results found.\n'
    picked = ('tools/test.py metrics where present, else '
              if source == 'auto' else '')
    if source == 'test':
        picked = 'tools/test.py metrics'
    else:
        picked += ('the last validation' if select == 'last' else
                   'the best validation epoch (optimistic)')
    intro = (f'Results: {picked}; runs of one config are averaged '
             '(mean ± sample std) when configured alike (other options: '
             'a row of their own, `config [k=v]`); one checkpoint counts '
             'once.')
    return '\n\n'.join([intro] + paper_layout(rows)) + '\n'


def cmd_tables(args: argparse.Namespace, root: str) -> int:
    results, warnings = export_work_dirs(
        load_runs(args.paths), lambda stem: find_config(stem, root),
        args.source, args.select, args.allow_unfinished)
    rows = paper_rows(results)
    warnings += [
        f'{key}: {row.num_runs} run(s) configured differently from the '
        'config file (or unfinished), kept apart from its other runs and '
        'out of the paper-layout tables.'
        for key, row in rows.items() if row.overrides
    ]
    for warning in warnings:
        print(f'warning: {warning}', file=sys.stderr)
    text = report(rows, args.source, args.select)
    print(text, end='')
    if args.out:
        atomic_write(args.out, text)
    return 0 if rows else 1


def main(argv: Optional[Sequence[str]] = None, root: str = '.') -> int:
    """Run the command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
        root: The repository root: ``results/``, ``configs/``, README
            files (the tool passes its own checkout or ``.mim`` folder).

    Returns:
        int: 0 on success, 1 when nothing was found or a table is stale,
        2 on bad input (the message names it).
    """
    args = parse_args(argv, root)
    try:
        return {'export': cmd_export, 'readmes': cmd_readmes,
                'tables': cmd_tables}[args.command](args, root)
    except (ValueError, FileNotFoundError) as e:
        print(f'collect_results.py: {e}', file=sys.stderr)
        return 2
