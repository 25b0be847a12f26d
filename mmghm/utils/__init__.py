from .checkpoint import (CheckpointRefusedError, checkpoint_safe_globals,
                         install_checkpoint_loader, load_checkpoint_file,
                         register_checkpoint_safe_globals,
                         sanitize_checkpoint)
from .checks import check_bool, check_int, check_number
from .class_counts import (ClassCountsMixin, broadcast_from_main,
                           dataset_class_counts, to_class_counts)
from .dist import (describe_launch, dist_timeout, explain_timeouts,
                   setup_distributed)
from .launch import add_common_args, load_config, resolve_resume
from .package_path import package_dir, repo_root
from .predictions import load_predictions, prediction_arrays
from .provenance import code_commit, device_description

__all__ = [
    'CheckpointRefusedError', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals', 'install_checkpoint_loader',
    'load_checkpoint_file', 'sanitize_checkpoint', 'check_bool', 'check_int',
    'check_number', 'ClassCountsMixin', 'broadcast_from_main',
    'dataset_class_counts', 'to_class_counts', 'setup_distributed',
    'describe_launch', 'dist_timeout', 'explain_timeouts', 'add_common_args',
    'load_config', 'resolve_resume', 'package_dir', 'repo_root',
    'load_predictions', 'prediction_arrays', 'code_commit',
    'device_description'
]
