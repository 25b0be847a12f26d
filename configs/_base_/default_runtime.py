# Runtime shared by every mmghm config: MMPretrain's default runtime
# (configs/_base_/default_runtime.py of MMPretrain 1.2, written out rather
# than inherited with `mmpretrain::`, which needs pkg_resources in MMEngine
# 0.10) plus mmghm's modules and hooks.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmghm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Keep the latest checkpoints only. No `save_best`: the long-tailed
    # benchmarks validate on their test sets, and picking the best epoch on
    # the test set would inflate the result; report the last epoch.
    # MMEngine's CheckpointHook, saving atomically (a crash or a full disk
    # never leaves a truncated epoch_N.pth or last_checkpoint).
    checkpoint=dict(
        type='mmghm.AtomicCheckpointHook', interval=1, max_keep_ckpts=2),
    # A checkpoint whose weights do not fit the model (missing/unexpected
    # keys, other shapes) is refused on --resume, load_from and
    # tools/test.py; partial=True (tools/train.py --partial-load) loads the
    # matching part on purpose, e.g. to fine-tune from another head.
    strict_load=dict(type='mmghm.StrictLoadHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # At the end of training: final metrics, checkpoints, log, scalars and
    # pictures with their paths (and {log_dir}/summary.json). A default
    # hook, so that configs replacing custom_hooks keep it.
    summary=dict(type='mmghm.RunSummaryHook'),
)

custom_hooks = [
    # Before training: per-class training counts -> every loss and metric
    # that needs them (class-balanced, effective number, EQL, LDAM, balanced
    # softmax, group accuracy). Also stored in checkpoints for tools/test.py.
    dict(type='mmghm.ClassCountsHook'),
    # After every epoch: the AURA update (Algorithm 1) of every GHMCWAPLoss
    # in the model. It only logs a warning when the model has none.
    dict(type='mmghm.AURAHook', by_epoch=True, interval=1),
    # Before every epoch: `set_epoch` on losses that depend on it (the
    # deferred re-weighting of LDAM-DRW); a no-op for the others.
    dict(type='mmghm.LossEpochHook'),
    # Exact resume: augmentation randomness from (seed, epoch, sample index)
    # and the main process re-seeded every epoch, so a resumed run repeats
    # the uninterrupted one (checkpoints hold no random state).
    dict(type='mmghm.ExactResumeHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # timeout: seconds a collective waits for the other processes before
    # failing (a stopped or hung process), on GPUs and CPUs alike.
    dist_cfg=dict(backend='nccl', timeout=1800),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False

# A fixed seed makes the runs of a comparison start from the same weights
# and see the same long-tailed subset (the split has its own `seed`).
randomness = dict(seed=0, deterministic=False)
