"""Generated pictures: per-class accuracy against training count, drawn
from the result files.

A ``results:class-accuracy suite=NAME image=PATH [configs=stem,stem]``
block renders as the picture's link and a caption naming the runs drawn;
the caption ends with a digest of the numbers drawn, and the PNG carries
the same digest in its metadata. ``collect_results.py readmes`` draws the
PNG when its digest differs from what the result files give, and a README
is out of date (``readmes --check``, the test that keeps READMEs true)
when either digest does.

Each line is one row of the suite (a config, or one of its variants): the
mean over its seeds of the per-class top-1 accuracies that the result files
hold (``per_class``, written when the run's ``GroupAccuracy`` had an
``out_file``); rows without them are not drawn, and the caption says so.
"""
import hashlib
import io
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmghm.evaluation.metrics.group_accuracy import GroupAccuracy
from mmghm.utils.files import atomic_write
from .files import top1_of
from .tables import _link, _suite_results, group_results, row_label

#: PNG text key that holds the digest of the numbers drawn.
DIGEST_KEY = 'mmghm-data-digest'
#: The frequency groups of the lines' legends (GroupAccuracy, quantile 3).
GROUP_NAMES = ('many', 'medium', 'few')


def class_accuracy_series(results_dir: str, suite: str,
                          configs: Optional[Sequence[str]] = None
                          ) -> List[dict]:
    """One series per row of ``suite`` whose results hold per-class
    accuracies (in ``configs`` order when given, else table order).

    Raises:
        ValueError: when runs of one picture were trained on different
            class counts (they must share one training set).
    """
    results, _, _ = _suite_results(results_dir, suite, None)
    series = []
    for (stem, variant), runs in group_results(results).items():
        if configs is not None and stem not in configs:
            continue
        runs = [r for r in runs if r.data.get('per_class')]
        if not runs:
            continue
        acc = np.array([[np.nan if a is None else a
                         for a in r.data['per_class']['accuracy']]
                        for r in runs], dtype=float)
        group = {}
        for name in GROUP_NAMES:
            values = [r.data['metrics'].get(f'group_accuracy/{name}')
                      for r in runs]
            if all(v is not None for v in values):
                group[name] = float(np.mean(values))
        series.append(dict(
            label=row_label(stem, variant),
            config=stem,
            variant=variant,
            seeds=[r.data['seed'] for r in runs],
            counts=runs[0].data['per_class']['train_counts'],
            accuracy=[None if np.isnan(a) else round(float(a), 6)
                      for a in np.nanmean(acc, axis=0)],
            top1=round(float(np.mean([top1_of(r.data['metrics'])
                                      for r in runs])), 6),
            groups={k: round(v, 6) for k, v in group.items()}))
        for r in runs:
            if r.data['per_class']['train_counts'] != series[-1]['counts']:
                raise ValueError(f'{r.path}: other training class counts '
                                 f'than {stem} seed {runs[0].data["seed"]}')
    if configs is not None:
        series.sort(key=lambda s: configs.index(s['config']))
    for s in series[1:]:
        if s['counts'] != series[0]['counts']:
            raise ValueError(
                f'{suite}: {s["config"]} was trained on other class counts '
                f'than {series[0]["config"]}; one picture needs one '
                'training set.')
    return series


def series_digest(series: Sequence[dict]) -> str:
    """Digest (12 hex digits) of the numbers a picture draws."""
    text = json.dumps(list(series), sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]


def _seed_list(seeds: Sequence[int]) -> str:
    return ('seed ' if len(seeds) == 1 else 'seeds ') + ', '.join(
        map(str, seeds))


def class_accuracy_block(results_dir: str, suite: str, image: str,
                         configs: Optional[Sequence[str]],
                         readme_dir: Optional[str]) -> str:
    """The Markdown of a ``results:class-accuracy`` block."""
    series = class_accuracy_series(results_dir, suite, configs)
    link = _link(osp.join(results_dir, suite), readme_dir)
    if not series:
        return (f'Not yet drawn: no result file in `{link}/` holds '
                'per-class accuracies yet.')
    drawn = '; '.join(f'{s["label"]} ({_seed_list(s["seeds"])})'
                      for s in series)
    lines = [
        f'![Per-class top-1 accuracy against training count, {suite}]'
        f'({image})', '',
        'Classes from the most to the least frequent in training (grey '
        'bars: training images, log scale); one line per method: the mean '
        'over its seeds of each class\'s top-1 accuracy on the balanced '
        f'test set. Drawn from `{link}/` by `python tools/analysis/'
        f'collect_results.py readmes`: {drawn}.'
    ]
    if configs is not None:
        missing = [c for c in configs
                   if c not in {s['config'] for s in series}]
        if missing:
            lines[-1] += (' Not drawn (no per-class accuracies in their '
                          'result files): ' + ', '.join(
                              row_label(c, None) for c in missing) + '.')
    lines[-1] += f' Data digest `{series_digest(series)}`.'
    return '\n'.join(lines)


def png_digest(path: str) -> Optional[str]:
    """The digest a picture drawn by :func:`draw_class_accuracy_png` holds
    (None for a missing file, one that is no PNG, or one without it)."""
    if not osp.isfile(path):
        return None
    from PIL import Image
    try:
        with Image.open(path) as img:
            digest = img.info.get(DIGEST_KEY) if img.format == 'PNG' else None
    except OSError:  # not an image (PIL's UnidentifiedImageError)
        return None
    return digest if isinstance(digest, str) else None


def draw_class_accuracy_png(series: Sequence[dict], path: str,
                            title: Optional[str] = None) -> None:
    """Draw ``series`` into the PNG ``path`` (written atomically), its
    digest in the metadata."""
    import matplotlib.pyplot as plt

    from mmghm.visualization.class_accuracy import draw_class_accuracy
    counts = series[0]['counts']
    group = GroupAccuracy.assign_groups(counts, mode='quantile',
                                        num_groups=len(GROUP_NAMES))
    runs: List[Dict] = [
        dict(class_counts=counts, per_class_accuracy=s['accuracy'],
             group_of_class=group.tolist(),
             group_names=[n.capitalize() for n in GROUP_NAMES],
             top1=s['top1'],
             groups={k.capitalize(): v for k, v in s['groups'].items()})
        for s in series
    ]
    labels = [f'{s["label"]} (n={len(s["seeds"])})' for s in series]
    fig, _, _, legend = draw_class_accuracy(runs, labels, title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', bbox_inches='tight',
                bbox_extra_artists=[legend],
                metadata={DIGEST_KEY: series_digest(series)})
    plt.close(fig)
    atomic_write(path, buffer.getvalue())


def update_class_accuracy_png(results_dir: str, suite: str, image_path: str,
                              configs: Optional[Sequence[str]],
                              write: bool = True) -> bool:
    """Whether the PNG differs from what the result files give (drawing
    it anew when ``write``)."""
    series = class_accuracy_series(results_dir, suite, configs)
    if not series:
        return False
    if png_digest(image_path) == series_digest(series):
        return False
    if write:
        draw_class_accuracy_png(series, image_path, title=suite)
    return True
