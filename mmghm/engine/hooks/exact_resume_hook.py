"""Make a resumed training continue exactly as an uninterrupted one.

MMEngine 0.10 saves no random state in its checkpoints, and its data
workers draw augmentation randomness from streams that start at a fixed
seed whenever a worker starts. A run killed and resumed therefore sees
different crops and flips than the uninterrupted run from the resumed epoch
on, and ends with other weights and another accuracy.

:class:`ExactResumeHook` removes every dependence on such running streams:

* Each training sample's augmentation randomness is derived from
  ``(seed, epoch, sample index)``: the training data set's pipeline runs
  with numpy's, Python's and torch's global generators seeded from those
  three numbers (and restored afterwards in the main process). The crop of
  image ``i`` in epoch ``e`` is then the same whatever the number of
  workers, whether they persist, and whether the run was resumed.
* At the start of every training epoch (or iteration, for
  iteration-based loops) the main process's generators are re-seeded from
  ``(seed, epoch)`` (or ``(seed, iteration)``), so whatever ran in between
  (validation, a checkpoint, a resume) cannot shift them.

The sampler's order already depends only on ``(seed, epoch)`` (MMEngine's
``DefaultSampler``), and the model, optimizer, schedulers and loss state
(e.g. GHM-CWAP's histograms) are in the checkpoint. Nothing else needs to be
saved. Exactness is bit-for-bit on the CPU; CUDA kernels that are not
deterministic (``randomness.deterministic=False``) still vary.
"""
import random
from contextlib import contextmanager
from typing import Iterator, List, Optional

import numpy as np
import torch
from mmengine.dataset import ClassBalancedDataset, RepeatDataset
from mmengine.hooks import Hook

from mmghm.registry import HOOKS

__all__ = ['ExactResumeHook', 'SampleSeededPipeline', 'derive_seed']

DATA_BATCH = Optional[dict]
# Domain tags: sample seeds and main-process seeds never coincide.
_MAIN, _SAMPLE = 0, 1


def derive_seed(*numbers: int) -> int:
    """A 32-bit seed mixed from non-negative ints (numpy's SeedSequence)."""
    entropy = [int(n) % (1 << 64) for n in numbers]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


@contextmanager
def seeded_global_rngs(seed: int, restore: bool) -> Iterator[None]:
    """Seed numpy's, Python's and torch's CPU global generators; with
    ``restore``, give them their previous states back afterwards."""
    if restore:
        states = (np.random.get_state(), random.getstate(),
                  torch.get_rng_state())
    np.random.seed(seed)
    random.seed(seed)
    torch.default_generator.manual_seed(seed)  # the CPU generator only
    try:
        yield
    finally:
        if restore:
            np.random.set_state(states[0])
            random.setstate(states[1])
            torch.set_rng_state(states[2])


class SampleSeededPipeline:
    """A data pipeline whose randomness comes from ``(seed, epoch, index)``.

    Args:
        pipeline: The wrapped pipeline (a callable on a data-info dict).
        seed: The run's seed.
        epoch: A shared-memory scalar tensor holding the current epoch; the
            hook updates it, and data workers (forked, spawned, persistent)
            see the update through the shared memory.
    """

    def __init__(self, pipeline, seed: int, epoch: torch.Tensor) -> None:
        self.pipeline = pipeline
        self.seed = seed
        self.epoch = epoch

    def __call__(self, results: dict):
        index = results.get('sample_idx')
        if index is None:
            raise KeyError(
                'ExactResumeHook seeds augmentation per sample and needs '
                "the data info's 'sample_idx' (set by MMEngine's "
                "BaseDataset.get_data_info); this data set's samples have "
                "none. Remove mmghm.ExactResumeHook from custom_hooks or "
                "add 'sample_idx' to the data info.")
        seed = derive_seed(_SAMPLE, self.seed, int(self.epoch), int(index))
        # In a data worker the global generators belong to this pipeline
        # alone; in the main process (num_workers=0) they are restored.
        in_worker = torch.utils.data.get_worker_info() is not None
        with seeded_global_rngs(seed, restore=not in_worker):
            return self.pipeline(results)

    def __getattr__(self, name: str):
        # Read-only pass-through (e.g. ``pipeline.transforms``); guarded so
        # that unpickling, which looks up attributes before __init__ ran,
        # does not recurse.
        if name == 'pipeline':
            raise AttributeError(name)
        return getattr(self.pipeline, name)

    def __repr__(self) -> str:
        return f'SampleSeededPipeline(seed={self.seed}, {self.pipeline!r})'


def _dataset_chain(dataset) -> List[object]:
    """The data set and every data set it wraps."""
    chain, todo = [], [dataset]
    while todo:
        ds = todo.pop()
        chain.append(ds)
        todo.extend(getattr(ds, 'datasets', None) or [])
        inner = getattr(ds, 'dataset', None)
        if inner is not None:
            todo.append(inner)
    return chain


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Seed augmentation per sample and the main process per epoch, so that
    ``--resume`` continues exactly (see the module docstring).

    It is part of mmghm's default runtime. Its priority is above every
    other hook, so the generators are re-seeded before anything of the
    epoch (or iteration) draws from them.

    Data sets that repeat samples within an epoch (MMEngine's
    ``RepeatDataset`` and ``ClassBalancedDataset``) would give every
    repetition the same augmentation under per-sample seeds, and an
    iteration-based loop has no epoch to vary them by; in both cases only
    the main process is re-seeded (with a warning for the former: the
    augmentation is then not reproduced after a resume).
    """

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self._epoch = torch.zeros((), dtype=torch.long).share_memory_()
        self._wrapped: List[tuple] = []

    def before_train(self, runner) -> None:
        seed = runner.seed
        chain = _dataset_chain(runner.train_dataloader.dataset)
        repeating = [type(d).__name__ for d in chain
                     if isinstance(d, (RepeatDataset, ClassBalancedDataset))]
        if repeating:
            runner.logger.warning(
                f'ExactResumeHook: {", ".join(repeating)} repeats samples '
                'within an epoch, so augmentation is not seeded per sample '
                'and is not reproduced exactly after a resume (the main '
                'process still is).')
            return
        if not self._by_epoch(runner):
            # An iteration-based loop has no epoch to vary the seeds by:
            # per-sample seeds would repeat every pass over the data.
            runner.logger.info(
                'ExactResumeHook: iteration-based loop, so augmentation is '
                'not seeded per sample; the main process is re-seeded every '
                'iteration.')
            return
        for ds in chain:
            pipeline = getattr(ds, 'pipeline', None)
            if callable(pipeline) and \
                    not isinstance(pipeline, SampleSeededPipeline):
                self._wrapped.append((ds, pipeline))
                ds.pipeline = SampleSeededPipeline(pipeline, seed,
                                                   self._epoch)

    def after_train(self, runner) -> None:
        for ds, pipeline in self._wrapped:
            ds.pipeline = pipeline
        self._wrapped.clear()

    def before_train_epoch(self, runner) -> None:
        self._epoch.fill_(runner.epoch)
        if self._by_epoch(runner):
            self.reseed(runner.seed, runner.epoch)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        if not self._by_epoch(runner):
            self.reseed(runner.seed, runner.iter)

    @staticmethod
    def _by_epoch(runner) -> bool:
        return bool(getattr(runner.train_loop, '_max_epochs', None))

    @staticmethod
    def reseed(seed: int, step: int) -> None:
        """Re-seed every global generator of the main process, CUDA's
        included, from ``(seed, step)``."""
        value = derive_seed(_MAIN, seed, step)
        np.random.seed(value)
        random.seed(value)
        torch.manual_seed(value)
