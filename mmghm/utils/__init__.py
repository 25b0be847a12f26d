from .checkpoint import (CheckpointRefusedError, checkpoint_safe_globals,
                         register_checkpoint_safe_globals)
from .dist import setup_distributed
from .launch import add_common_args, load_config, resolve_resume

__all__ = [
    'CheckpointRefusedError', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals',
    'setup_distributed', 'add_common_args', 'load_config', 'resolve_resume'
]
