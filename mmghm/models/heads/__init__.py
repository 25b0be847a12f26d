__all__ = []
from .normed_linear_head import NormedLinearClsHead  # noqa: E402

__all__ += ['NormedLinearClsHead']
