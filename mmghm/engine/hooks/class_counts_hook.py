"""Hand the training set's per-class counts to losses and metrics."""
from typing import List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import DATASETS

from mmghm.registry import HOOKS
from mmghm.utils.class_counts import broadcast_from_main, dataset_class_counts

#: Key under ``checkpoint['meta']`` holding the counts.
CHECKPOINT_KEY = 'mmghm_class_counts'


def _describe(dataset) -> str:
    """'LongTailedDataset of CustomDataset (data_prefix='...')' for
    messages: the wrappers and where the data lies."""
    chain = [dataset]
    while hasattr(chain[-1], 'dataset'):
        chain.append(chain[-1].dataset)
    where = ''
    for ds in reversed(chain):
        for key in ('data_prefix', 'data_root'):
            value = getattr(ds, key, None)
            if isinstance(value, dict):  # MMEngine: dict(img_path=...)
                value = next((v for v in value.values() if v), None)
            if value:
                where = f' ({key}={value!r})'
                break
        if where:
            break
    return ' of '.join(type(d).__name__ for d in chain) + where


def _model_classes(model) -> List[tuple]:
    """(module path, type name, number of classes) of every classifier head
    and GHM-CWAP loss of the model: what the training labels must fit."""
    from mmghm.models.losses import GHMCWAPLoss
    try:
        from mmpretrain.models.heads import ClsHead
    except ImportError:  # pragma: no cover - mmpretrain is a dependency
        ClsHead = ()
    found = []
    for name, module in model.named_modules():
        num = getattr(module, 'num_classes', None)
        if isinstance(module, GHMCWAPLoss) and \
                module.background_index is not None:
            num -= 1  # the background logit has no training class
        elif not isinstance(module, (GHMCWAPLoss, ClsHead)):
            continue
        if isinstance(num, int):
            found.append((f'model.{name}' if name else 'model',
                          type(module).__name__, num))
    return found


def apply_class_counts(model, counts: Sequence[int],
                       metrics: Sequence = ()) -> None:
    """Call ``set_class_counts(counts)`` on every metric and on every
    module of the (unwrapped) model that has it: the work of
    :class:`ClassCountsHook`, for training loops of one's own.

    Args:
        model: The model (a model wrapper is unwrapped), or None to give
            the counts to the metrics only.
        counts: Per-class training counts.
        metrics: Evaluator metrics.

    Raises:
        ValueError: a module refuses the counts, naming it and where it is.
    """
    for metric in metrics:
        if callable(getattr(metric, 'set_class_counts', None)):
            metric.set_class_counts(counts)
    if model is None:
        return
    if is_model_wrapper(model):
        model = model.module
    for name, module in model.named_modules():
        if callable(getattr(module, 'set_class_counts', None)):
            try:
                module.set_class_counts(counts)
            except ValueError as e:
                raise ValueError(
                    f'ClassCountsHook: the training set has {len(counts)} '
                    f'classes, which does not fit {type(module).__name__} at '
                    f'model.{name}: {e}') from e


@HOOKS.register_module()
class ClassCountsHook(Hook):
    """Give class-count losses and group metrics the training set's counts.

    Before training it reads the per-class counts of the distinct training
    images (:func:`mmghm.utils.dataset_class_counts`:
    ``metainfo['class_counts']``, else the labels, looking through
    ``RepeatDataset``, ``ClassBalancedDataset`` and ``ConcatDataset``) and
    calls ``set_class_counts(counts)`` on

    * every module of the (unwrapped) model that has that method, e.g. the
      losses built on ``ClassCountsMixin`` (class-balanced, effective
      number, EQL, LDAM, balanced softmax, ...);
    * every metric of the validation and test evaluators that has it, e.g.
      :class:`mmghm.evaluation.GroupAccuracy` (which also gets the work dir
      for its ``out_file``).

    Before that it checks that the training set's classes are the model's:
    a training set with a class missing (e.g. 9 class folders for a
    10-class head) is an error naming the data set, both numbers and the
    fix, before the first step. This is also the label-range check of the
    losses on CUDA, whose forward does not read labels back to the host:
    every training label lies within the counted classes.

    Rank 0 counts and broadcasts, so every rank gets identical counts under
    DDP. The counts are saved in the checkpoint
    (``meta['mmghm_class_counts']``) and restored when a checkpoint is
    loaded, so ``tools/test.py``, which builds no training set, still groups
    classes by the training counts.
    If a test or stand-alone validation starts without counts (a checkpoint
    from a run without this hook), the training set of the config is built
    and counted once, unless ``count_train_set_on_test=False``; failing that,
    the metric raises a clear error.

    Args:
        count_train_set_on_test: Build ``train_dataloader.dataset`` from the
            config when testing without known counts. Defaults to True.
    """

    priority = 'ABOVE_NORMAL'  # before hooks that may rely on the counts

    def __init__(self, count_train_set_on_test: bool = True) -> None:
        self.count_train_set_on_test = count_train_set_on_test
        self.class_counts: Optional[List[int]] = None

    # -- collecting ---------------------------------------------------------
    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        self.class_counts = broadcast_from_main(
            lambda: dataset_class_counts(dataset))
        runner.logger.info(
            f'ClassCountsHook: {len(self.class_counts)} classes, '
            f'{sum(self.class_counts)} training images, counts from '
            f'{max(self.class_counts)} down to {min(self.class_counts)}.')
        self._check_classes(runner, dataset)
        self._apply(runner, self._loop_metrics(runner.val_loop),
                    with_model=True)

    def _check_classes(self, runner, dataset) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        n = len(self.class_counts)
        for where, kind, num in _model_classes(model):
            if num == n:
                continue
            fix = (
                'Every class needs its own folder under the training data '
                '(a CustomDataset numbers classes by its sorted folder '
                'names, so a missing folder shifts every later label): add '
                "the missing class's folder (an empty one keeps the "
                'numbering)' if n < num else
                'Check that the training set holds only the classes the '
                'model predicts')
            raise ValueError(
                f'ClassCountsHook: the training set {_describe(dataset)} has '
                f'{n} classes but {where} ({kind}) predicts {num}. {fix}; '
                f'or, if the data really has {n} classes, set '
                f'num_classes={n} in the model\'s head and loss.')

    def before_val(self, runner) -> None:
        self._ensure_counts(runner)
        self._apply(runner, self._loop_metrics(runner.val_loop),
                    with_model=False)

    def before_test(self, runner) -> None:
        self._ensure_counts(runner)
        self._apply(runner, self._loop_metrics(runner.test_loop),
                    with_model=True)

    def _ensure_counts(self, runner) -> None:
        if self.class_counts is not None or not self.count_train_set_on_test:
            return
        cfg = runner.cfg.get('train_dataloader') or {}
        dataset_cfg = cfg.get('dataset')
        if dataset_cfg is None:
            return
        runner.logger.info(
            'ClassCountsHook: no class counts in the checkpoint; counting '
            'the training set of the config (set count_train_set_on_test='
            'False to skip).')
        try:
            self.class_counts = broadcast_from_main(
                lambda: dataset_class_counts(DATASETS.build(dataset_cfg)))
        except Exception as e:  # noqa: BLE001 - the metric reports it
            runner.logger.warning(
                f'ClassCountsHook: could not count the training set ({e}).')

    # -- applying -----------------------------------------------------------
    @staticmethod
    def _loop_metrics(loop) -> list:
        evaluator = getattr(loop, 'evaluator', None)
        return list(getattr(evaluator, 'metrics', []) or [])

    def _apply(self, runner, metrics: Sequence, with_model: bool) -> None:
        for metric in metrics:
            if callable(getattr(metric, 'set_work_dir', None)):
                metric.set_work_dir(runner.work_dir)
        if self.class_counts is not None:
            apply_class_counts(runner.model if with_model else None,
                               self.class_counts, metrics)

    # -- checkpoints --------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.class_counts is not None:
            checkpoint.setdefault('meta', {})[CHECKPOINT_KEY] = list(
                self.class_counts)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        counts = (checkpoint.get('meta') or {}).get(CHECKPOINT_KEY)
        if counts is not None:
            self.class_counts = [int(c) for c in counts]
