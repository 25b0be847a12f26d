"""Hand the training set's per-class counts to losses and metrics."""
from typing import Callable, List, Optional, Sequence

from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import DATASETS

from mmghm.datasets.utils import dataset_class_counts
from mmghm.registry import HOOKS

#: Key under ``checkpoint['meta']`` holding the counts.
CHECKPOINT_KEY = 'mmghm_class_counts'


def broadcast_from_main(fn: Callable[[], object]) -> object:
    """Run ``fn`` on rank 0 only and return its result on every rank.

    An exception on rank 0 is re-raised on every rank (as RuntimeError on
    the others) instead of leaving them waiting in the broadcast.
    """
    if dist.get_world_size() == 1:
        return fn()
    box: List[object] = [None, None]
    if dist.is_main_process():
        try:
            box[0] = fn()
        except Exception as e:  # noqa: BLE001 - re-raised below
            box[1] = f'{type(e).__name__}: {e}'
            err = e
    dist.broadcast_object_list(box, src=0)
    if box[1] is not None:
        if dist.is_main_process():
            raise err
        raise RuntimeError(f'rank 0 failed: {box[1]}')
    return box[0]


@HOOKS.register_module()
class ClassCountsHook(Hook):
    """Give class-count losses and group metrics the training set's counts.

    Before training it reads the per-class counts of the distinct training
    images (:func:`mmghm.datasets.dataset_class_counts`:
    ``metainfo['class_counts']``, else the labels, looking through
    ``RepeatDataset``, ``ClassBalancedDataset`` and ``ConcatDataset``) and
    calls ``set_class_counts(counts)`` on

    * every module of the (unwrapped) model that has that method, e.g. the
      losses built on ``ClassCountsMixin`` (class-balanced, effective
      number, EQL, LDAM, balanced softmax, ...);
    * every metric of the validation and test evaluators that has it, e.g.
      :class:`mmghm.evaluation.GroupAccuracy` (which also gets the work dir
      for its ``out_file``).

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
        self._apply(runner, self._loop_metrics(runner.val_loop),
                    with_model=True)

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
        counts = self.class_counts
        if counts is None:
            return
        for metric in metrics:
            if callable(getattr(metric, 'set_class_counts', None)):
                metric.set_class_counts(counts)
        if not with_model:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        for name, module in model.named_modules():
            if callable(getattr(module, 'set_class_counts', None)):
                try:
                    module.set_class_counts(counts)
                except ValueError as e:
                    raise ValueError(
                        f'ClassCountsHook: the training set has '
                        f'{len(counts)} classes, which does not fit '
                        f'{type(module).__name__} at model.{name}: {e}'
                    ) from e

    # -- checkpoints --------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.class_counts is not None:
            checkpoint.setdefault('meta', {})[CHECKPOINT_KEY] = list(
                self.class_counts)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        counts = (checkpoint.get('meta') or {}).get(CHECKPOINT_KEY)
        if counts is not None:
            self.class_counts = [int(c) for c in counts]
