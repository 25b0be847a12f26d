from . import hooks, model_wrappers
from .hooks import *  # noqa: F401,F403
from .model_wrappers import *  # noqa: F401,F403

__all__ = hooks.__all__ + model_wrappers.__all__
