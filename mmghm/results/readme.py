"""Generated blocks in Markdown files: every results table between markers.

A block is opened by an HTML comment that says what to render and closed
by ``<!-- /results -->``; everything between them is generated::

    <!-- results:suite suite=digits-lt_demo_cpu metrics=top1,few -->
    | Method | ... (generated) |
    <!-- /results -->

Kinds and their options (:data:`BLOCKS`):

- ``results:suite suite=NAME [metrics=a,b] [configs=stem,stem] [paper=1]
  [wall=1]``: :func:`~mmghm.results.tables.suite_table`;
- ``results:paper suite=NAME``: the suite laid out like the paper's
  Tables 1-3, the paper's numbers beside ours
  (:func:`~mmghm.results.tables.paper_table`);
- ``results:config-folder folder=NAME``:
  :func:`~mmghm.results.tables.config_folder_table`;
- ``results:benchmark file=results/benchmarks/NAME_DEVICE.json`` (one
  file) or ``results:benchmark benchmark=NAME`` (every device's file of that
  benchmark): :func:`~mmghm.results.tables.benchmark_table`;
- ``results:summary suite=NAME method=STEM baseline=STEM [peers=stem,stem]``:
  :func:`~mmghm.results.tables.comparison_summary` (two sentences);
- ``results:class-accuracy suite=NAME image=PATH.png [configs=stem,stem]``:
  a picture of per-class accuracy against training count, the PNG (``PATH``
  relative to the Markdown file) drawn too
  (:mod:`~mmghm.results.figures`).

:func:`update_file` rewrites the blocks of a file (and draws their
pictures); :func:`check_files` lists the files whose blocks or pictures
differ from what the result files give (the test that keeps READMEs true
calls it).
"""
import glob
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from mmghm.utils.files import atomic_write
from .figures import class_accuracy_block, update_class_accuracy_png
from .tables import (benchmark_table, comparison_summary, config_folder_table,
                     paper_table, suite_table)

_BLOCK_RE = re.compile(
    r'(?P<open><!-- results:(?P<kind>[a-z-]+)(?P<args>(?: [a-z_]+=\S+)*) -->'
    r'\n)(?P<body>.*?)(?P<close><!-- /results -->)', re.S)
_OPEN_RE = re.compile(r'<!-- results:')


#: Block kinds -> (required options, optional options).
BLOCKS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    'suite': (('suite', ), ('metrics', 'configs', 'paper', 'wall')),
    'paper': (('suite', ), ()),
    'config-folder': (('folder', ), ()),
    'benchmark': ((), ('file', 'benchmark')),
    'summary': (('suite', 'method', 'baseline'), ('peers', )),
    'class-accuracy': (('suite', 'image'), ('configs', )),
}


def _benchmarks(args: Dict[str, str], repo_root: str,
                readme_dir: str) -> str:
    if 'file' in args:
        paths = [osp.join(repo_root, args['file'])]
        missing = args['file']
    else:
        paths = sorted(glob.glob(osp.join(
            repo_root, 'results', 'benchmarks',
            f'{args["benchmark"]}_*.json')))
        missing = f'results/benchmarks/{args["benchmark"]}_<device>.json'
    paths = [p for p in paths if osp.isfile(p)]
    if not paths:
        return (f'Not yet measured: `{missing}` does not exist yet, so no '
                'numbers are shown.')
    return '\n\n'.join(benchmark_table(p, readme_dir) for p in paths)


def render_block(kind: str, args: Dict[str, str], repo_root: str,
                 readme_dir: str, where: str = 'block') -> str:
    """The generated text of one block (without the markers).

    Raises:
        ValueError: for an unknown kind or a missing or unknown option,
            naming ``where``.
    """
    if kind not in BLOCKS:
        raise ValueError(f'{where}: unknown block kind {kind!r}; allowed: '
                         f'{sorted(BLOCKS)}.')
    required, optional = BLOCKS[kind]
    unknown = set(args) - set(required + optional)
    if unknown:
        raise ValueError(f'{where}: options {sorted(unknown)} are not known '
                         f'for {kind!r} blocks (allowed: '
                         f'{sorted(required + optional)}).')
    needed = [k for k in required if k not in args]
    if needed:
        value = 'NAME' if len(required) == 1 else '...'
        raise ValueError(f'{where}: a {kind} block needs '
                         f'{", ".join(f"{k}={value}" for k in needed)}.')
    results_dir = osp.join(repo_root, 'results')

    def listed(key: str) -> Optional[List[str]]:
        return args[key].split(',') if key in args else None

    if kind == 'suite':
        metrics = listed('metrics') or ['top1', 'many', 'medium', 'few']
        return suite_table(results_dir, args['suite'], metrics,
                           listed('configs'), paper=args.get('paper') == '1',
                           wall=args.get('wall') == '1',
                           readme_dir=readme_dir)
    if kind == 'paper':
        return paper_table(results_dir, args['suite'], readme_dir)
    if kind == 'summary':
        return comparison_summary(results_dir, args['suite'], args['method'],
                                  args['baseline'], listed('peers') or (),
                                  readme_dir)
    if kind == 'class-accuracy':
        _image_path(args['image'], repo_root, readme_dir, where)
        return class_accuracy_block(results_dir, args['suite'], args['image'],
                                    listed('configs'), readme_dir)
    if kind == 'config-folder':
        return config_folder_table(results_dir,
                                   osp.join(repo_root, 'configs'),
                                   args['folder'], readme_dir)
    if ('file' in args) == ('benchmark' in args):
        raise ValueError(f'{where}: a benchmark block needs file=PATH or '
                         'benchmark=NAME (one of them).')
    return _benchmarks(args, repo_root, readme_dir)


def _image_path(image: str, repo_root: str, readme_dir: str,
                where: str) -> str:
    """The picture a block names: a ``.png`` inside the repository."""
    path = osp.normpath(osp.join(readme_dir, image))
    root = osp.normpath(repo_root)
    if not image.endswith('.png') or osp.isabs(image) or \
            osp.commonpath([root, path]) != root:
        raise ValueError(f'{where}: image={image} must be a .png path '
                         'relative to the Markdown file, inside the '
                         'repository.')
    return path


def _update_pictures(text: str, path: str, repo_root: str,
                     write: bool) -> bool:
    """Whether a picture of the blocks in ``text`` is out of date
    (drawing it anew when ``write``)."""
    readme_dir = osp.dirname(osp.abspath(path))
    stale = False
    for m in _BLOCK_RE.finditer(text):
        if m['kind'] != 'class-accuracy':
            continue
        args = _block_args(m)
        image = _image_path(args['image'], repo_root, readme_dir, path)
        configs = args['configs'].split(',') if 'configs' in args else None
        stale |= update_class_accuracy_png(
            osp.join(repo_root, 'results'), args['suite'], image, configs,
            write)
    return stale


def _block_args(m: 're.Match') -> Dict[str, str]:
    """The ``key=value`` options of a matched block's opening marker."""
    return dict(token.partition('=')[::2] for token in m['args'].split())


def render_text(text: str, path: str, repo_root: str) -> Tuple[str, int]:
    """``text`` with every block regenerated; and the number of blocks.

    Raises:
        ValueError: for an opening marker without its closing marker.
    """
    readme_dir = osp.dirname(osp.abspath(path))
    blocks = list(_BLOCK_RE.finditer(text))
    if len(_OPEN_RE.findall(text)) != len(blocks):
        raise ValueError(f'{path}: a "<!-- results:... -->" marker has no '
                         'matching "<!-- /results -->" (or a malformed '
                         'option list).')
    out, pos = [], 0
    for m in blocks:
        lineno = text.count('\n', 0, m.start()) + 1
        where = f'{path}:{lineno}'
        args = _block_args(m)
        body = render_block(m['kind'], args, repo_root, readme_dir, where)
        out += [text[pos:m.end('open')], body.rstrip('\n') + '\n',
                m['close']]
        pos = m.end()
    out.append(text[pos:])
    return ''.join(out), len(blocks)


def readme_files(repo_root: str) -> List[str]:
    """The Markdown files that may hold generated blocks."""
    files = [osp.join(repo_root, 'README.md')]
    files += sorted(glob.glob(osp.join(repo_root, 'configs', '*',
                                       'README.md')))
    files += sorted(glob.glob(osp.join(repo_root, 'docs', '**', '*.md'),
                              recursive=True))
    return [f for f in files if osp.isfile(f)]


def update_file(path: str, repo_root: str, write: bool = True) -> bool:
    """Regenerate the blocks of one file and their pictures; returns
    whether either changed."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    new, _ = render_text(text, path, repo_root)
    if new != text and write:
        atomic_write(path, new)
    pictures = _update_pictures(new, path, repo_root, write)
    return new != text or pictures


def check_files(repo_root: str) -> List[str]:
    """Files (relative to ``repo_root``) whose blocks are out of date."""
    return [
        osp.relpath(p, repo_root) for p in readme_files(repo_root)
        if update_file(p, repo_root, write=False)
    ]


def count_blocks(path: str) -> int:
    """How many generated blocks a file has."""
    with open(path, encoding='utf-8') as f:
        return len(_BLOCK_RE.findall(f.read()))
