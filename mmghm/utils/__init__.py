from .checkpoint import (CheckpointRefusedError, checkpoint_safe_globals,
                         register_checkpoint_safe_globals)
from .dist import (describe_launch, dist_timeout, explain_timeouts,
                   setup_distributed)
from .launch import add_common_args, load_config, resolve_resume

__all__ = [
    'CheckpointRefusedError', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals',
    'setup_distributed', 'describe_launch', 'dist_timeout', 'explain_timeouts', 'add_common_args', 'load_config', 'resolve_resume'
]
