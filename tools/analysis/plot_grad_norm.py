"""Draw the paper's Fig. 2 for a GHM-CWAP run: gradient-norm histograms.

(a) the gradient-norm distribution of all classes with the contributions of
head and tail classes; (b) uniform bins (URA) and (c) adaptive bins (AURA)
over the real distribution of one class. One PNG, three panels.

Input: a work dir, a dump of ``GradHistVisHook`` (``grad_hist/epoch_k.npz``)
or a checkpoint. Exact with the hook's dumps or a checkpoint saved while the
hook ran; a bare AURA checkpoint lacks the widths of the bins its reference
histogram was counted in (``--approx`` draws it over the current bins). With
``GradHistVisHook(fine_bins=F)`` the black "real" line is a histogram of g in
F uniform bins; without it, the loss's own N-bin histogram.

Example::

    python tools/analysis/plot_grad_norm.py work_dirs/my_run --out fig2.png
    python tools/analysis/plot_grad_norm.py \\
        work_dirs/my_run/grad_hist/epoch_30.npz --cls 9 --yscale log \\
        --out fig2_tail.png
"""
import argparse
import os
import os.path as osp
import sys

from mmghm.visualization.grad_hist import (draw_fig2, fig2_data,
                                           load_grad_hist)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Draw the paper's Fig. 2 (gradient-norm histograms of "
        'GHM-CWAP, URA vs AURA bins) from a run as a PNG.')
    parser.add_argument(
        'src', help='work dir, GradHistVisHook dump (.npz), dump folder or '
        'checkpoint (.pth)')
    parser.add_argument(
        '--out', '-o', default=None,
        help='PNG to write (default: <dump or checkpoint name>_fig2.png '
        'beside the input, or <work dir>/grad_hist_fig2.png)')
    parser.add_argument('--cls', type=int, default=None,
                        help='class of panels (b) and (c) (default: the '
                        'most frequent)')
    parser.add_argument('--head', type=int, nargs='+', default=None,
                        help='head classes of panel (a)')
    parser.add_argument('--tail', type=int, nargs='+', default=None,
                        help='tail classes of panel (a)')
    parser.add_argument('--num-head', type=int, default=1,
                        help='most frequent classes summed as "head" when '
                        '--head is not given')
    parser.add_argument('--num-tail', type=int, default=1,
                        help='least frequent classes summed as "tail" when '
                        '--tail is not given')
    parser.add_argument('--display-bins', type=int, default=None,
                        help='uniform bins of the drawn distributions (a) '
                        'and the black lines; fewer than the fine histogram '
                        'smooth a small class (default: all fine bins)')
    parser.add_argument('--loss-key', default=None,
                        help='module path of the loss when the model has '
                        'several (e.g. head.loss_module)')
    parser.add_argument('--approx', action='store_true',
                        help='allow a bare AURA checkpoint: draw its '
                        'reference histogram over the current bins')
    parser.add_argument('--yscale', choices=['linear', 'log'],
                        default='linear',
                        help='y axis (log shows sparse bins and tail '
                        'classes)')
    parser.add_argument('--xmax', type=float, default=1.0,
                        help='right end of the g axis, to zoom on the easy '
                        'examples (default 1)')
    parser.add_argument('--dpi', type=int, default=100)
    return parser.parse_args(argv)


def default_out(src: str) -> str:
    if osp.isdir(src):
        return osp.join(src, 'grad_hist_fig2.png')
    return osp.splitext(src)[0] + '_fig2.png'


def main(argv=None) -> dict:
    """Run the tool; returns the plotted data (see ``fig2_data``)."""
    args = parse_args(argv)
    state = load_grad_hist(args.src, args.loss_key, args.approx)
    data = fig2_data(state, cls=args.cls, head=args.head, tail=args.tail,
                     num_head=args.num_head, num_tail=args.num_tail,
                     display_bins=args.display_bins)
    fig = draw_fig2(data, yscale=args.yscale, xmax=args.xmax, dpi=args.dpi)
    out = args.out or default_out(args.src)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out)
    data['out'] = out
    print(f'Fig. 2 of {args.src} (update {state.num_updates}, class '
          f'{data["label"]}, real distribution from '
          f'{data["real_source"]}) -> {out}')
    return data


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'plot_grad_norm.py: {e}')
