"""Pictures of GHM-CWAP's gradient-norm histograms: the paper's Fig. 2 and
the per-class panels :class:`~mmghm.engine.hooks.GradHistVisHook` logs.

Matplotlib with the Agg canvas only (no pyplot state), from the data of
:mod:`.grad_hist_state`.
"""
import math
from typing import Sequence, Union

import numpy as np

from .grad_hist_state import GradHistState, rebin

__all__ = ['draw_fig2', 'draw_class_histograms', 'figure_to_rgb', 'auto_xmax']


def _step(ax, edges, heights, **kwargs) -> None:
    """A piecewise-constant curve as a line."""
    ax.stairs(heights, edges, baseline=None, **kwargs)


def _bars(ax, edges, heights, color='tab:blue', alpha=0.45, **kwargs):
    """Bars spanning their true bin widths: one filled outline plus the
    bin edges (two artists, far cheaper to draw than one patch a bar)."""
    ax.stairs(heights, edges, fill=True, color=color, alpha=alpha, **kwargs)
    ax.stairs(heights, edges, color=color, lw=0.6)
    ax.vlines(edges[1:-1], 0, np.minimum(heights[:-1], heights[1:]),
              color=color, lw=0.4)


def _few_ticks(ax) -> None:
    """Small tick labels, no minor ticks (cheap to lay out)."""
    from matplotlib.ticker import MaxNLocator, NullLocator
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.tick_params(labelsize=7)


def _new_figure(width: float, height: float, dpi: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _log_floor(ax, *arrays) -> None:
    """On a log axis, show down to half the smallest positive value."""
    positive = [a[a > 0].min() for a in arrays if np.any(a > 0)]
    if positive:
        ax.set_ylim(bottom=0.5 * min(positive))


def _last_edge(edges, heights) -> float:
    """Right edge of the last bin with something in it (0 when empty)."""
    heights = np.asarray(heights)
    nonzero = np.flatnonzero(heights > 0)
    return float(np.asarray(edges)[nonzero[-1] + 1]) if nonzero.size else 0.


def auto_xmax(data: dict, quantile: float = 0.99, step: float = 0.1) -> float:
    """Where Fig. 2's g axis ends by default.

    The larger of the ``quantile`` of g over all classes (panel (a)) and
    the right end of the drawn class's distribution (panels (b), (c)),
    rounded up to a multiple of ``step``; at least ``step``, at most 1.
    After a few epochs almost every example is easy (g near 0): on the full
    axis the rest is a few pixels wide.
    """
    if not 0 < quantile <= 1:
        raise ValueError(f'quantile must be in (0, 1], got {quantile!r}.')
    edges = np.asarray(data['a_edges'], dtype=float)
    mass = np.asarray(data['a_overall'], dtype=float) * np.diff(edges)
    right = 0.0
    if mass.sum() > 0:
        cumulative = np.cumsum(mass) / mass.sum()
        right = float(edges[1:][np.searchsorted(cumulative, quantile)])
    for kind in ('real', 'ura', 'aura'):
        right = max(right, _last_edge(data[f'{kind}_edges'],
                                      data[f'{kind}_heights']))
    # round up to the step, ignoring float noise (0.30000000000000004)
    right = math.ceil(round(right / step, 6)) * step
    return float(min(1.0, max(step, round(right, 6))))


def draw_fig2(data: dict,
              yscale: str = 'log',
              xmax: Union[float, str] = 'auto',
              dpi: int = 100):
    """Draw the three panels of Fig. 2 from :func:`fig2_data`.

    The defaults make the picture readable: after a few epochs nearly every
    example has g near 0, so on a linear axis over [0, 1] (the paper's
    drawing) only a spike at 0 shows. A log y axis shows the sparse bins
    and the tail classes, and the g axis ends where the examples do.

    Args:
        data: The output of :func:`fig2_data`.
        yscale: 'log' (default) or 'linear' (as the paper).
        xmax: Right end of the g axis: 'auto' (default, :func:`auto_xmax`)
            or a number in (0, 1] (1: the paper's full axis).
        dpi: Resolution; the figure is 13.5 x 4 inches.

    Returns:
        matplotlib.figure.Figure: save it with ``fig.savefig(path)``.
    """
    if yscale not in ('linear', 'log'):
        raise ValueError(f"yscale must be 'linear' or 'log', got {yscale!r}.")
    if xmax == 'auto':
        xmax = auto_xmax(data)
    elif isinstance(xmax, bool) or not isinstance(xmax, (int, float)) \
            or not 0 < xmax <= 1:
        raise ValueError(f"xmax must be 'auto' or a number in (0, 1], got "
                         f'{xmax!r}.')
    fig = _new_figure(13.5, 4.0, dpi)
    axes = fig.subplots(1, 3)
    ax = axes[0]
    _step(ax, data['a_edges'], data['a_overall'], color='black', lw=1.5,
          label='all classes')
    _step(ax, data['a_edges'], data['a_head'], color='tab:red', ls=':',
          lw=1.5, label=f'head {data["head"]}')
    _step(ax, data['a_edges'], data['a_tail'], color='tab:green', ls=':',
          lw=1.5, label=f'tail {data["tail"]}')
    ax.set_title('(a) gradient-norm distribution')
    ax.legend(fontsize=8)
    ax.set_yscale(yscale)
    if yscale == 'log':
        _log_floor(ax, data['a_overall'], data['a_head'], data['a_tail'])
    real_label = ('real distribution' if data['real_source'] == 'fine' else
                  "real (the loss's own bins)")
    for ax, kind, title in ((axes[1], 'ura', '(b) URA: uniform bins'),
                            (axes[2], 'aura', '(c) AURA: adaptive bins')):
        source = data[f'{kind}_source']
        _bars(ax, data[f'{kind}_edges'], data[f'{kind}_heights'],
              label=('histogram of the loss' if source == 'state' else
                     'histogram (re-binned)'))
        _step(ax, data['real_edges'], data['real_heights'], color='black',
              lw=1.2, label=real_label)
        ax.set_title(f'{title}, {data["label"]}')
        ax.legend(fontsize=8)
        ax.set_yscale(yscale)
        if yscale == 'log':
            _log_floor(ax, data[f'{kind}_heights'], data['real_heights'])
    for ax in axes:
        ax.set_xlim(0, xmax)
        ax.set_xlabel('gradient norm g = 1 - p_y')
        _few_ticks(ax)
    axes[0].set_ylabel('examples per unit g')
    when = (f'epoch {data["epoch"]}' if data['epoch'] else
            f'iteration {data["iter"]}')
    note = '' if data['ref_edges_known'] else \
        ' [bin widths approximate: edges of the reference unknown]'
    axis = '' if xmax >= 1 else f'; g axis cut at {xmax:g}'
    fig.suptitle(f'Gradient-norm histograms at {when}, N = '
                 f'{data["num_bins"]} bins; {data["label"]}: '
                 f'{data["count"]:.0f} examples{note}; y axis {yscale}'
                 f'{axis}', fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.13, top=0.85,
                        wspace=0.22)
    return fig


def draw_class_histograms(state: GradHistState,
                          classes: Sequence[int],
                          yscale: str = 'log',
                          display_bins: int = 100,
                          dpi: int = 72):
    """One small panel per class: the reference histogram as bars with their
    true widths (examples per unit g), the fine histogram if recorded (black
    line, re-binned to at most ``display_bins`` uniform bins so that a small
    class is not a comb of single examples) and the bins of the next period
    (orange ticks on top)."""
    classes = list(classes)
    fig = _new_figure(3.0 * max(len(classes), 1), 2.6, dpi)
    axes = np.atleast_1d(fig.subplots(1, max(len(classes), 1)))
    heights = state.heights()
    counts = state.counts()
    if state.fine_hist is not None:
        fine_edges, fine = state.fine_edges, state.fine_hist[classes]
        if state.fine_bins > display_bins:
            grid = np.linspace(0.0, 1.0, display_bins + 1)
            fine, fine_edges = rebin(fine, fine_edges, grid), grid
        fine = fine / np.diff(fine_edges)
    for k, (ax, c) in enumerate(zip(axes, classes)):
        _bars(ax, state.ref_edges[c], heights[c])
        if state.fine_hist is not None:
            _step(ax, fine_edges, fine[k], color='black', lw=0.8)
        # log needs something positive (a class not seen yet has nothing)
        ax.set_yscale(yscale if heights[c].max() > 0 else 'linear')
        if yscale == 'log':
            _log_floor(ax, heights[c])
        ax.set_xlim(0, 1)
        ax.vlines(state.edges[c], 0.9, 1.0, color='tab:orange', lw=0.6,
                  transform=ax.get_xaxis_transform())
        ax.set_title(f'{state.class_label(c)} (n={counts[c]:.0f})',
                     fontsize=8)
        _few_ticks(ax)
    # a fixed layout: tight_layout measures every label (slow at each update)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.12, top=0.88,
                        wspace=0.3)
    return fig


def figure_to_rgb(fig) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of a Matplotlib figure (for
    ``Visualizer.add_image``)."""
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., :3])
