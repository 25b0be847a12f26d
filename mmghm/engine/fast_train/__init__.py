"""Train several small image classifiers at once, equivalently to the Runner.

The reproduction harness of ``tools/analysis/reproduce_cifar_lt.py``. For
each (config, seed) it builds what ``tools/train.py`` builds, through the
same registries and in the same order (seeded randomness, the model with the
config's data preprocessor, the ``DefaultSampler``, the optimizer wrapper,
the parameter schedulers, ``init_weights``), and trains it on images that
were decoded once and live on the training device:

- decoding: the config's pipeline up to its first random transform
  (``LoadImageFromFile``, ``Resize``, ...; or the arrays of data sets such as
  MMPretrain's ``CIFAR10``), run once per image on the host, or the
  same decoding of an image pack (:mod:`.image_pack`);
- augmentation: the pipeline's ``RandomCrop`` (zero padding) and
  ``RandomFlip`` (horizontal), done on the device by one gather per batch;
  the model's own data preprocessor then normalises, as in the Runner;
- the step: ``extract_feat`` -> ``head`` -> ``head.loss_module(score,
  label, avg_factor=B)`` -> ``parse_losses`` -> ``OptimWrapper.update_params``
  (what ``ImageClassifier.train_step`` runs, without building a
  ``DataSample`` a image);
- batches: the ``DefaultSampler``'s order (seeded per epoch), batch size and
  ``drop_last`` of the config's train dataloader;
- schedule: the config's ``param_scheduler`` stepped per iteration or per
  epoch as MMEngine's ``ParamSchedulerHook`` does;
- hooks' work: ``ClassCountsHook`` (``set_class_counts`` on the model's
  modules and the metrics), ``LossEpochHook`` (``set_epoch`` before each
  epoch) and ``AURAHook`` (``update()`` of every ``GHMCWAPLoss`` after each
  ``interval`` epochs or iterations), each only where the config lists it,
  through the functions the hooks call;
- evaluation: the config's ``val_evaluator`` (``Accuracy``,
  ``GroupAccuracy``) on softmax scores, as ``head.predict`` gives them.

On CUDA each run has its own stream, so the small kernels of several
ResNet-32s overlap, and each training step is captured once into a CUDA
graph per (batch size, learning rate, loss state) and replayed; steps run
eagerly where a loss synchronises with the host (checked on a copy of the
loss before capturing). Channels-last memory and bf16 autocast are options.
A checkpoint-free harness: it keeps no checkpoint and logs nothing to
``work_dirs``; it writes one result file per run, through
:mod:`mmghm.results`.

Modules: :mod:`.data` (decoding, device augmentation, splits) and
:mod:`.image_pack` (packs of a config's encoded images), :mod:`.config`
(run specs, options, configs through :mod:`mmghm.utils.launch`, which
hooks' work to do), :mod:`.run` (one run and its captured steps),
:mod:`.loop` (many runs at once, the graph check, the Runner comparison),
:mod:`.records` (result files) and :mod:`.cli` (the command line and
sweeps; ``python -m mmghm.engine.fast_train``).
"""
from .cli import SWEEP_SHORTHANDS, build_parser, expand_sweep, main
from .config import (KNOWN_HOOKS, OBSERVING_HOOKS, HarnessOptions, HookPlan,
                     RunSpec, hook_plan, load_run_config)
from .data import (DETERMINISTIC_TRANSFORMS, AugmentSpec, ImageSet,
                   augment_batch, load_image_sets, split_pipeline,
                   stratified_split)
from .loop import RunnerLoop, check_graphs, compare_with_runner, train_runs
from .records import (TOOL, default_suite, device_tag, result_file,
                      result_record)
from .run import TrainRun

__all__ = [
    'AugmentSpec', 'ImageSet', 'RunSpec', 'HarnessOptions', 'HookPlan',
    'TrainRun', 'RunnerLoop', 'split_pipeline', 'augment_batch',
    'load_image_sets', 'load_run_config', 'hook_plan', 'expand_sweep',
    'stratified_split', 'train_runs', 'check_graphs', 'compare_with_runner',
    'result_record', 'result_file', 'default_suite', 'device_tag',
    'build_parser', 'main', 'DETERMINISTIC_TRANSFORMS', 'KNOWN_HOOKS',
    'OBSERVING_HOOKS', 'SWEEP_SHORTHANDS', 'TOOL'
]
