"""Per-class accuracy against training frequency: the picture of a run.

Reads the JSON that ``GroupAccuracy(out_file=...)`` writes at each
evaluation (per-class accuracy, training counts, groups) and draws each run
as a line over the classes sorted from the most to the least frequent in
training, with the training counts as bars (log scale) and the frequency
groups marked. Used by ``tools/analysis/plot_class_accuracy.py`` and by
:class:`mmghm.engine.RunSummaryHook` at the end of a training.
"""
import json
from typing import Optional, Sequence

import numpy as np

REQUIRED_KEYS = ('class_counts', 'per_class_accuracy', 'group_of_class',
                 'group_names')


def load_result(path: str) -> dict:
    """Read and check one ``GroupAccuracy`` JSON file."""
    with open(path, encoding='utf-8') as f:
        try:
            res = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path} is not valid JSON: {e}') from e
    missing = [k for k in REQUIRED_KEYS if k not in res]
    if missing:
        raise ValueError(f'{path} lacks {missing}; expected a file written '
                         'by GroupAccuracy(out_file=...).')
    if len(res['per_class_accuracy']) != len(res['class_counts']):
        raise ValueError(f'{path}: per_class_accuracy and class_counts '
                         'differ in length.')
    return res


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over neighbouring ranks, ignoring NaN."""
    if window <= 1:
        return values
    valid = ~np.isnan(values)
    kernel = np.ones(window)
    num = np.convolve(np.where(valid, values, 0.0), kernel, mode='same')
    den = np.convolve(valid.astype(float), kernel, mode='same')
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(den > 0, num / den, np.nan)


def sort_by_frequency(result: dict) -> dict:
    """Classes from most to least frequent in training (ties by index).

    Returns:
        dict: ``order`` (class indices), ``counts``, ``accuracy`` (NaN where
        a class had no test sample) and ``group`` in that order.
    """
    counts = np.asarray(result['class_counts'], dtype=float)
    order = np.lexsort((np.arange(counts.size), -counts))
    acc = np.array([np.nan if a is None else a
                    for a in result['per_class_accuracy']], dtype=float)
    return dict(order=order, counts=counts[order], accuracy=acc[order],
                group=np.asarray(result['group_of_class'])[order])


def draw_class_accuracy(results: Sequence[dict],
                        labels: Sequence[str],
                        title: Optional[str] = None,
                        window: int = 1):
    """Draw the runs' per-class accuracies over training frequency.

    The count bars (right axis, log scale) start at half the smallest
    count, so the rarest class's bar is drawn; the legend sits below the
    axes, where it covers neither bars nor lines.

    Args:
        results: Loaded ``GroupAccuracy`` JSON results, same data set.
        labels: One legend label per run.
        title: Figure title.
        window: Moving-average window over classes (for thousands of
            classes); 1 draws the raw per-class accuracies.

    Returns:
        tuple: (figure, accuracy axes, count-bar axes, legend).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if len(results) != len(labels):
        raise ValueError(f'{len(results)} results but {len(labels)} labels.')
    counts = np.asarray(results[0]['class_counts'], dtype=float)
    for lab, res in zip(labels, results):
        if not np.array_equal(np.asarray(res['class_counts'], float), counts):
            raise ValueError(
                f'Run {lab!r} has other training class counts than '
                f'{labels[0]!r}: the runs must share one training set.')
    ranks = np.arange(counts.size)
    first = sort_by_frequency(results[0])

    fig, ax = plt.subplots(figsize=(max(6.0, min(14.0, counts.size * 0.12)),
                                    4.5 + 0.2 * len(results)), dpi=120)
    bars = ax.twinx()
    bars.bar(ranks, first['counts'], width=1.0, color='0.85', zorder=0)
    bars.set_yscale('log')
    positive = first['counts'][first['counts'] > 0]
    if positive.size:
        # A log axis left to itself starts near the smallest bar's top,
        # which then shows no bar at all.
        bars.set_ylim(0.5 * positive.min(), 1.5 * positive.max())
    bars.set_ylabel('training images per class')
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)

    names = results[0]['group_names']
    for lab, res in zip(labels, results):
        acc = sort_by_frequency(res)['accuracy']
        groups = res.get('groups') or {}
        detail = ', '.join(f'{n} {groups[n]:.1f}' for n in names
                           if groups.get(n) is not None)
        ax.plot(ranks, _smooth(acc, window), marker='o' if counts.size <= 100
                else None, markersize=3, linewidth=1.2,
                label=f'{lab}: top-1 {res.get("top1", float("nan")):.1f}'
                + (f' ({detail})' if detail else ''))

    group = first['group']
    edges = np.flatnonzero(np.diff(group)) + 0.5
    starts = np.concatenate([[-0.5], edges])
    ends = np.concatenate([edges, [counts.size - 0.5]])
    for x in edges:
        ax.axvline(x, color='k', linestyle='--', linewidth=0.8)
    first_of_group = np.r_[0, (edges + 0.5).astype(int)]
    for s, e, g in zip(starts, ends, group[first_of_group]):
        ax.text((s + e) / 2, 101, names[g], ha='center', va='bottom',
                fontsize=8)

    ax.set_xlim(-0.5, counts.size - 0.5)
    ax.set_ylim(0, 108)
    ax.set_xlabel('classes, most to least frequent in training')
    ax.set_ylabel('top-1 accuracy per class (%)')
    legend = ax.legend(loc='upper center', bbox_to_anchor=(0.5, -0.14),
                       fontsize=7, ncol=1, frameon=False)
    if title:
        ax.set_title(title, pad=14)
    fig.tight_layout()
    return fig, ax, bars, legend


def plot_class_accuracy(results: Sequence[dict],
                        labels: Sequence[str],
                        out_file: str,
                        title: Optional[str] = None,
                        window: int = 1) -> str:
    """Draw the runs' per-class accuracies over training frequency as PNG
    (:func:`draw_class_accuracy`, saved with the legend inside the image).

    Returns:
        str: ``out_file``.
    """
    import matplotlib.pyplot as plt

    fig, _, _, legend = draw_class_accuracy(results, labels, title, window)
    fig.savefig(out_file, bbox_inches='tight', bbox_extra_artists=[legend])
    plt.close(fig)
    return out_file
