from . import backbones, heads, losses
from .backbones import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403

__all__ = backbones.__all__ + heads.__all__ + losses.__all__
