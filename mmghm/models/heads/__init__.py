from .decoupling_heads import LWSLinearClsHead, TauNormLinearClsHead
from .logit_adjusted_head import LogitAdjustedLinearClsHead
from .normed_linear_head import NormedLinearClsHead

__all__ = [
    'LogitAdjustedLinearClsHead', 'NormedLinearClsHead', 'LWSLinearClsHead',
    'TauNormLinearClsHead'
]
