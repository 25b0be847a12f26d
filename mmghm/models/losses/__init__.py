# GHM-CWAP (functional core and module), and the baselines of the paper's
# Tables 1-2 (+ LDAM-DRW, Balanced Softmax).
from . import ghm_cwap_functional
from .balanced_softmax_loss import BalancedSoftmaxLoss
from .base import BaseClsLoss
from .class_balanced_loss import (ClassBalancedLoss, EffectiveNumberLoss,
                                  effective_number_weights,
                                  inverse_frequency_weights)
from .dist_seesaw_loss import DistSeesawLoss, seesaw_log_factors
from .equalization_loss import EqualizationLoss
from .ghm_cwap_loss import AURAUpdate, GHMCWAPBatch, GHMCWAPLoss
from .ghmc_loss import GHMCLoss
from .ldam_loss import LDAMLoss, ldam_margins
from .softmax_focal_loss import SoftmaxFocalLoss, softmax_focal_loss

__all__ = [
    'GHMCWAPLoss', 'GHMCWAPBatch', 'AURAUpdate', 'ghm_cwap_functional',
    'BaseClsLoss', 'ClassBalancedLoss', 'EffectiveNumberLoss',
    'effective_number_weights', 'inverse_frequency_weights',
    'BalancedSoftmaxLoss', 'DistSeesawLoss', 'seesaw_log_factors',
    'EqualizationLoss', 'GHMCLoss', 'LDAMLoss', 'ldam_margins',
    'SoftmaxFocalLoss', 'softmax_focal_loss'
]
