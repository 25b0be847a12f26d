from .aura_hook import AURAHook, find_ghm_cwap_losses
from .channels_last_hook import ChannelsLastHook
from .checkpoint_hooks import (AtomicCheckpointHook, CheckpointMismatchError,
                               StrictLoadHook)
from .class_counts_hook import ClassCountsHook
from .exact_resume_hook import ExactResumeHook
from .freeze_representation_hook import FreezeRepresentationHook
from .grad_hist_vis_hook import GradHistVisHook
from .loss_epoch_hook import LossEpochHook
from .run_summary_hook import RunSummaryHook

__all__ = [
    'AURAHook', 'find_ghm_cwap_losses', 'ClassCountsHook', 'LossEpochHook',
    'GradHistVisHook', 'ExactResumeHook', 'RunSummaryHook',
    'ChannelsLastHook', 'FreezeRepresentationHook', 'AtomicCheckpointHook',
    'StrictLoadHook', 'CheckpointMismatchError'
]
