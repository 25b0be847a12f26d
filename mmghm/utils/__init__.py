from .checkpoint import (CheckpointRefusedError, checkpoint_safe_globals,
                         install_checkpoint_loader, load_checkpoint_file,
                         register_checkpoint_safe_globals,
                         sanitize_checkpoint)
from .class_counts import (broadcast_from_main, dataset_class_counts,
                           to_class_counts)
from .dist import (describe_launch, dist_timeout, explain_timeouts,
                   setup_distributed)
from .launch import add_common_args, load_config, resolve_resume
from .predictions import load_predictions, prediction_arrays
from .provenance import code_commit, device_description

__all__ = [
    'CheckpointRefusedError', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals', 'install_checkpoint_loader',
    'load_checkpoint_file', 'sanitize_checkpoint', 'broadcast_from_main',
    'dataset_class_counts', 'to_class_counts', 'setup_distributed',
    'describe_launch', 'dist_timeout', 'explain_timeouts', 'add_common_args',
    'load_config', 'resolve_resume', 'load_predictions', 'prediction_arrays',
    'code_commit', 'device_description'
]
