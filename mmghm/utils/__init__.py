from .checkpoint import (checkpoint_safe_globals,
                         register_checkpoint_safe_globals)
from .dist import setup_distributed

__all__ = [
    'checkpoint_safe_globals', 'register_checkpoint_safe_globals',
    'setup_distributed'
]
