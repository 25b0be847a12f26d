from .aura_hook import AURAHook, find_ghm_cwap_losses

__all__ = ['AURAHook', 'find_ghm_cwap_losses']
from .class_counts_hook import ClassCountsHook  # noqa: F401,E402

__all__ += ['ClassCountsHook']
from .loss_epoch_hook import LossEpochHook  # noqa: E402

__all__ += ['LossEpochHook']
from .grad_hist_vis_hook import GradHistVisHook  # noqa: F401,E402

__all__ += ['GradHistVisHook']
from .exact_resume_hook import ExactResumeHook  # noqa: F401,E402

__all__ += ['ExactResumeHook']
from .run_summary_hook import RunSummaryHook  # noqa: F401,E402

__all__ += ['RunSummaryHook']
from .channels_last_hook import ChannelsLastHook  # noqa: F401,E402

__all__ += ['ChannelsLastHook']
from .freeze_representation_hook import \
    FreezeRepresentationHook  # noqa: F401,E402

__all__ += ['FreezeRepresentationHook']
from .checkpoint_hooks import (AtomicCheckpointHook,  # noqa: F401,E402
                               CheckpointMismatchError, StrictLoadHook)

__all__ += [
    'AtomicCheckpointHook', 'StrictLoadHook', 'CheckpointMismatchError'
]
