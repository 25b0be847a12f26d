from .ghm_cwap_loss import GHMCWAPLoss, margin_cross_entropy
from .utils import ClassCountsMixin

__all__ = ['GHMCWAPLoss', 'margin_cross_entropy', 'ClassCountsMixin']
