"""What a harness run trains and how: run specs, options, configs, hooks."""
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional

from mmengine.config import Config
from mmengine.registry import HOOKS

from mmghm.engine.hooks import (AURAHook, ClassCountsHook, ExactResumeHook,
                                GradHistVisHook, LossEpochHook)
from mmghm.utils.launch import (apply_cfg_options, parse_cfg_options,
                                read_config)

__all__ = [
    'KNOWN_HOOKS', 'OBSERVING_HOOKS', 'RunSpec', 'HarnessOptions',
    'HookPlan', 'load_run_config', 'hook_plan'
]

#: Custom hooks whose work the harness does; any other stops it.
KNOWN_HOOKS = (ClassCountsHook, AURAHook, LossEpochHook, ExactResumeHook)
#: Custom hooks that only observe training (plots, logs): skipped, as
#: their absence does not change what is trained.
OBSERVING_HOOKS = (GradHistVisHook, )


@dataclass
class RunSpec:
    """What to train: a config file, a seed and config overrides.

    Attributes:
        config: Path of the config file.
        seed: ``randomness.seed`` of the run (as ``--cfg-options
            randomness.seed=k`` with tools/train.py).
        cfg_options: ``key=value`` overrides (the ``--cfg-options`` syntax).
        variant: A short name when the overrides make a new method (sweeps).
    """
    config: str
    seed: int = 0
    cfg_options: List[str] = field(default_factory=list)
    variant: Optional[str] = None

    @property
    def stem(self) -> str:
        return osp.splitext(osp.basename(self.config))[0]

    @property
    def name(self) -> str:
        base = self.stem if self.variant is None else \
            f'{self.stem}@{self.variant}'
        return f'{base}/seed{self.seed}'


@dataclass
class HarnessOptions:
    """How the harness trains (not what: that is the config).

    Attributes:
        device: ``'cpu'`` or ``'cuda'`` (or ``'cuda:k'``).
        augment: Apply the pipeline's random crop and flip (False: the
            equivalence check against the Runner without augmentation).
        channels_last: Channels-last memory for the model and inputs.
        bf16: bf16 autocast for the forward pass (losses stay float32).
            Off by default; see the module docstring of the CLI.
        cuda_graphs: Capture training steps in CUDA graphs (CUDA only).
        cudnn_benchmark: Let cuDNN pick its algorithms by timing them.
        epochs: Override ``train_cfg.max_epochs`` (smoke tests only).
        eval_interval: Evaluate every k epochs (0: after the last only).
        val_split: Hold out this share of each class of the training set
            and evaluate on it instead of the test set (for sweeps).
        val_seed: Seed of that split.
        max_train: Keep about this many training images (stratified).
        max_test: Keep about this many test images (stratified).
        time_limit: Stop after the epoch that would pass this many seconds
            from the start of :func:`train_runs` (``main`` counts them from
            its own start).
        eval_batch_size: Images a forward pass in evaluation.
        capture_after: Run a (batch size, lr, loss state) eagerly this many
            times before capturing it (warms up cuDNN and the optimizer).
    """
    device: str = 'cpu'
    augment: bool = True
    channels_last: bool = False
    bf16: bool = False
    cuda_graphs: bool = False
    cudnn_benchmark: bool = False
    epochs: Optional[int] = None
    eval_interval: int = 0
    val_split: Optional[float] = None
    val_seed: int = 0
    max_train: Optional[int] = None
    max_test: Optional[int] = None
    time_limit: Optional[float] = None
    eval_batch_size: int = 1000
    capture_after: int = 2


def load_run_config(spec: RunSpec, epochs: Optional[int] = None) -> Config:
    """Load a config as tools/train.py does, with the run's overrides.

    Through :mod:`mmghm.utils.launch`: a syntax error names its file and
    line, a misspelt top-level ``cfg_options`` key warns and a value of the
    wrong type is refused.
    """
    if not osp.isfile(spec.config):
        raise FileNotFoundError(f'config file not found: {spec.config}')
    cfg = read_config(spec.config)
    if spec.cfg_options:
        apply_cfg_options(cfg, parse_cfg_options(spec.cfg_options))
    cfg.randomness = dict(cfg.get('randomness', {}), seed=int(spec.seed))
    if epochs is not None:
        cfg.train_cfg.max_epochs = int(epochs)
    return cfg


@dataclass
class HookPlan:
    """Which hooks' work the harness does for a config.

    Attributes:
        class_counts: :class:`~mmghm.engine.hooks.ClassCountsHook`'s.
        loss_epoch: :class:`~mmghm.engine.hooks.LossEpochHook`'s.
        aura: The config's :class:`~mmghm.engine.hooks.AURAHook` (built
            from its entry: its ``by_epoch`` and ``interval``), or None.
        exact_resume: :class:`~mmghm.engine.hooks.ExactResumeHook`'s
            per-epoch re-seeding. Its per-sample seeding concerns the
            DataLoader's pipeline, which the harness replaces.
    """
    class_counts: bool = False
    loss_epoch: bool = False
    aura: Optional[AURAHook] = None
    exact_resume: bool = False


def _hook_class(hook: dict, scope: str) -> type:
    """The class a ``custom_hooks`` entry builds, looked up in the registry
    of the config's scope as the Runner looks it up."""
    type_ = hook.get('type')
    if isinstance(type_, type):
        return type_
    with HOOKS.switch_scope_and_registry(scope) as registry:
        cls = registry.get(type_)
    if cls is None:
        raise ValueError(f'the config has custom hook {type_!r}, which is '
                         'not registered; train it with tools/train.py.')
    return cls


def hook_plan(cfg: Config) -> HookPlan:
    """Which hooks' work to do, from ``custom_hooks``.

    Raises:
        ValueError: for a hook the harness neither does the work of nor
            may skip (:data:`KNOWN_HOOKS`, :data:`OBSERVING_HOOKS`).
    """
    plan = HookPlan()
    scope = cfg.get('default_scope', 'mmpretrain')
    for hook in cfg.get('custom_hooks') or []:
        cls = _hook_class(hook, scope)
        if cls is ClassCountsHook:
            plan.class_counts = True
        elif cls is LossEpochHook:
            plan.loss_epoch = True
        elif cls is AURAHook:
            plan.aura = AURAHook(**{k: v for k, v in hook.items()
                                    if k not in ('type', 'priority')})
        elif cls is ExactResumeHook:
            plan.exact_resume = True
        elif cls not in OBSERVING_HOOKS:
            known = ', '.join(h.__name__ for h in KNOWN_HOOKS)
            raise ValueError(
                f'the config has custom hook {cls.__name__}, whose work the '
                f'harness does not do (it knows {known}); train it with '
                'tools/train.py.')
    return plan
