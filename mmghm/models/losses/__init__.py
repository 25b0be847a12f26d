from . import ghm_cwap_functional
from .ghm_cwap_loss import AURAUpdate, GHMCWAPBatch, GHMCWAPLoss
from .utils import ClassCountsMixin

__all__ = [
    'GHMCWAPLoss', 'GHMCWAPBatch', 'AURAUpdate', 'ghm_cwap_functional',
    'ClassCountsMixin'
]

# Baselines of the paper's Tables 1-2 (+ LDAM-DRW, Balanced Softmax).
from .balanced_softmax_loss import BalancedSoftmaxLoss  # noqa: E402
from .base import BaseClsLoss  # noqa: E402
from .class_balanced_loss import (ClassBalancedLoss,  # noqa: E402
                                  EffectiveNumberLoss,
                                  effective_number_weights,
                                  inverse_frequency_weights)
from .dist_seesaw_loss import DistSeesawLoss, seesaw_log_factors  # noqa: E402
from .equalization_loss import EqualizationLoss  # noqa: E402
from .ghmc_loss import GHMCLoss  # noqa: E402
from .ldam_loss import LDAMLoss, ldam_margins  # noqa: E402
from .softmax_focal_loss import (SoftmaxFocalLoss,  # noqa: E402
                                 softmax_focal_loss)

__all__ += [
    'BaseClsLoss', 'ClassBalancedLoss', 'EffectiveNumberLoss',
    'effective_number_weights', 'inverse_frequency_weights',
    'BalancedSoftmaxLoss', 'DistSeesawLoss', 'seesaw_log_factors',
    'EqualizationLoss', 'GHMCLoss', 'LDAMLoss', 'ldam_margins',
    'SoftmaxFocalLoss', 'softmax_focal_loss'
]
