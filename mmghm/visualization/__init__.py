from .grad_hist import (GradHistState, draw_class_histograms, draw_fig2,
                        fig2_data, figure_to_rgb, load_grad_hist, rebin,
                        state_from_checkpoint)

__all__ = [
    'GradHistState', 'draw_class_histograms', 'draw_fig2', 'fig2_data',
    'figure_to_rgb', 'load_grad_hist', 'rebin', 'state_from_checkpoint'
]
