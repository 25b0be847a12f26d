__all__ = []
from .logit_adjusted_head import LogitAdjustedLinearClsHead  # noqa: E402
from .normed_linear_head import NormedLinearClsHead  # noqa: E402

__all__ += ['LogitAdjustedLinearClsHead', 'NormedLinearClsHead']
from .decoupling_heads import (LWSLinearClsHead,  # noqa: E402
                               TauNormLinearClsHead)

__all__ += ['LWSLinearClsHead', 'TauNormLinearClsHead']
