__all__ = []
from .logit_adjusted_head import LogitAdjustedLinearClsHead  # noqa: E402
from .normed_linear_head import NormedLinearClsHead  # noqa: E402

__all__ += ['LogitAdjustedLinearClsHead', 'NormedLinearClsHead']
