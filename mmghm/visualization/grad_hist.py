"""Gradient-norm histograms of GHM-CWAP: data (:mod:`.grad_hist_state`) and
pictures (:mod:`.grad_hist_draw`), re-exported under one name."""
from .grad_hist_draw import (draw_class_histograms, draw_fig2,  # noqa: F401
                             figure_to_rgb)
from .grad_hist_state import (CHECKPOINT_KEY, GradHistState,  # noqa: F401
                              aura_edges, fig2_data, find_dumps,
                              load_grad_hist, rebin, select_classes,
                              state_from_checkpoint)

__all__ = [
    'CHECKPOINT_KEY', 'GradHistState', 'rebin', 'aura_edges',
    'load_grad_hist', 'state_from_checkpoint', 'find_dumps', 'fig2_data',
    'select_classes', 'draw_fig2', 'draw_class_histograms', 'figure_to_rgb'
]
