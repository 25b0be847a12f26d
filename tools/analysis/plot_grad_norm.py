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

    python tools/analysis/plot_grad_norm.py work_dirs/my_run \\
        --out work_dirs/my_run/fig2.png
    python tools/analysis/plot_grad_norm.py \\
        work_dirs/my_run/grad_hist/epoch_30.npz --cls 9 \\
        --out work_dirs/my_run/fig2_tail.png
    # as the paper draws it: linear y axis over the whole g range
    python tools/analysis/plot_grad_norm.py work_dirs/my_run \\
        --yscale linear --xmax 1 --out work_dirs/my_run/fig2_linear.png

By default the y axis is logarithmic and the g axis ends where 99% of the
examples (and all of the drawn class) do: after a few epochs nearly every
example has g near 0, and on a linear axis over [0, 1] the picture is one
spike at 0.
"""
import argparse
import os
import os.path as osp
import sys

from mmghm.visualization.grad_hist import (draw_fig2, fig2_data,
                                           load_grad_hist)


def _xmax(text: str):
    if text == 'auto':
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'auto' or a number in (0, 1], got {text!r}")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"'auto' or a number in (0, 1], got {text!r}")
    return value


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
                        default='log',
                        help='y axis (default log: shows sparse bins and '
                        'tail classes; linear draws it as the paper does)')
    parser.add_argument('--xmax', type=_xmax, default='auto',
                        help="right end of the g axis: 'auto' (default: "
                        'where 99%% of the examples and all of the drawn '
                        "class end, rounded up to 0.1) or a number in "
                        "(0, 1]; 1 is the paper's full axis")
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
    print(f'Fig. 2 of {args.src} (update {state.num_updates}, '
          f'{data["label"]}, real distribution from '
          f'{data["real_source"]}) -> {out}')
    return data


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'plot_grad_norm.py: {e}')
