from .logit_shift import (best_shift, logit_shift_curve, mean_curve,
                          shifted_predictions)
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all

__all__ = _metrics_all + ['best_shift', 'logit_shift_curve', 'mean_curve',
                          'shifted_predictions']
