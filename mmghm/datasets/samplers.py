"""Class-aware samplers for long-tailed training (MMEngine ``DATA_SAMPLERS``).

Every sampler here draws an epoch of ``epoch_length`` sample indices with
replacement in two steps: a class ``c`` with probability ``p_c``, then an
image of that class uniformly. The class probabilities are

* :class:`ClassAwareSampler` (``power=q``): ``p_c = n_c^q / sum_k n_k^q``,
  the family the others belong to (Mahajan et al. 2018; Kang et al., ICLR
  2020, Eq. 1): ``q = 1`` instance-balanced (every image equally likely),
  ``q = 1/2`` square-root, ``q = 0`` class-balanced;
* :class:`ClassBalancedSampler`: ``q = 0``, every class equally likely;
* :class:`SquareRootSampler`: ``q = 1/2``;
* :class:`ProgressivelyBalancedSampler`: Kang et al.'s progressively
  balanced sampling, ``p_c(t) = (1 - t/T) n_c / N + (t/T) / C`` in epoch
  ``t`` of ``T`` (instance-balanced at the start, class-balanced at the
  end).

``n_c`` are the training counts of :func:`mmghm.utils.dataset_class_counts`,
the counts the losses, metrics and hooks use; classes without images are
never drawn.

Use one in a config as MMEngine's ``DefaultSampler``::

    train_dataloader = dict(
        sampler=dict(type='mmghm.ClassBalancedSampler'), ...)

Draws depend only on ``(seed, epoch)``: ``set_epoch`` (called by MMEngine's
``DistSamplerSeedHook`` before every epoch) selects the epoch, the Runner
gives the run's seed, so a resumed run draws what the uninterrupted one
would (with :class:`mmghm.engine.hooks.ExactResumeHook` the whole training
repeats). Distributed: as ``DefaultSampler``, every rank draws the same
epoch, pads it by repeating its start to a multiple of the world size
(``round_up=True``), and keeps every ``world_size``-th index from its rank
on: the ranks' shares are disjoint and together are the single-process
draw. The draw is vectorised (one ``torch.multinomial`` and one
``torch.rand`` per epoch): 115,846 ImageNet-LT indices take milliseconds.

Note: with :class:`~mmghm.engine.hooks.ExactResumeHook`, augmentation is
seeded by ``(seed, epoch, sample index)``, so an image drawn several times
in one epoch (the tail classes under class-balanced sampling) gets the same
crop and flip each time within that epoch (and other ones in other epochs).
"""
import math
from typing import Iterator, List, Optional, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch import Tensor
from torch.utils.data import Sampler

from mmghm.registry import DATA_SAMPLERS
from mmghm.utils.class_counts import dataset_class_counts, to_class_counts

__all__ = [
    'ClassAwareSampler', 'ClassBalancedSampler', 'SquareRootSampler',
    'ProgressivelyBalancedSampler', 'epoch_seed'
]


def epoch_seed(seed: int, epoch: int) -> int:
    """The generator seed of one epoch, mixed from ``(seed, epoch)`` by
    numpy's SeedSequence (``seed + epoch``, as ``DefaultSampler`` does,
    would give run 0's epoch 1 to run 1's epoch 0)."""
    entropy = [int(seed) % (1 << 64), int(epoch) % (1 << 64)]
    state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def _sample_labels(dataset) -> np.ndarray:
    """One integer label per index of ``dataset``."""
    name = type(dataset).__name__
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    if hasattr(dataset, 'get_gt_labels'):
        labels = np.asarray(dataset.get_gt_labels())
    elif hasattr(dataset, 'get_cat_ids'):
        cat_ids = [dataset.get_cat_ids(i) for i in range(len(dataset))]
        if any(len(c) != 1 for c in cat_ids):
            raise ValueError(
                f'class-aware samplers need one label per sample, but '
                f'{name}.get_cat_ids() gives several (multi-label data).')
        labels = np.asarray([c[0] for c in cat_ids])
    else:
        raise TypeError(
            f'class-aware samplers need the labels of the data set, but '
            f'{name} has neither get_gt_labels() nor get_cat_ids().')
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'{name} must give one integer label per sample, '
                         f'but got shape {labels.shape}, dtype '
                         f'{labels.dtype}.')
    return labels.astype(np.int64)


@DATA_SAMPLERS.register_module()
class ClassAwareSampler(Sampler):
    """Draw a class with probability ``n_c^power / sum_k n_k^power``, then
    one of its images uniformly (see the module docstring).

    Args:
        dataset: The training set (labels from ``get_gt_labels()`` or
            ``get_cat_ids()``; counts from ``dataset_class_counts``).
        power: The exponent q >= 0 (1 instance-, 0.5 square-root, 0
            class-balanced).
        seed: Seed of the draws, the same on every rank; the Runner passes
            ``randomness.seed``. None: a random seed synced over ranks.
        epoch_length: Indices drawn per epoch over all ranks. None (the
            default): ``len(dataset)``.
        round_up: As ``DefaultSampler``: pad the epoch to a multiple of the
            world size so that every rank gets the same number of indices.

    Raises:
        ValueError: negative ``power``, ``epoch_length`` < 1, an empty data
            set, or labels that do not match ``dataset_class_counts``.
    """

    def __init__(self,
                 dataset: Sized,
                 power: float = 1.0,
                 seed: Optional[int] = None,
                 epoch_length: Optional[int] = None,
                 round_up: bool = True) -> None:
        if isinstance(power, bool) or not isinstance(power, (int, float)) \
                or not math.isfinite(power) or power < 0:
            raise ValueError(f'{type(self).__name__}: power must be a finite '
                             f'number >= 0, but got {power!r}.')
        self.power = float(power)
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        self.round_up = bool(round_up)

        labels = _sample_labels(dataset)
        if labels.size == 0:
            raise ValueError(f'{type(self).__name__}: the data set is empty.')
        counts = to_class_counts(dataset_class_counts(dataset))
        if labels.size != len(dataset) or labels.min() < 0 or \
                labels.max() >= counts.numel() or not torch.equal(
                    torch.bincount(torch.from_numpy(labels),
                                   minlength=counts.numel()).double(),
                    counts):
            raise ValueError(
                f'{type(self).__name__}: the labels of the '
                f'{type(dataset).__name__} ({labels.size} for '
                f'{len(dataset)} indices) do not give its class counts '
                f'{counts.long().tolist()}; a wrapper that repeats samples '
                '(RepeatDataset, ClassBalancedDataset) does not go with a '
                'class-aware sampler: sample the plain data set.')
        #: Training images per class (float64), as the losses see them.
        self.class_counts = counts
        # The indices of class c are order[offsets[c]:offsets[c] + n_c].
        self._order = torch.from_numpy(np.argsort(labels, kind='stable'))
        self._offsets = torch.cumsum(counts.long(), 0) - counts.long()

        if epoch_length is None:
            epoch_length = len(dataset)
        if isinstance(epoch_length, bool) or \
                not isinstance(epoch_length, int) or epoch_length < 1:
            raise ValueError(f'{type(self).__name__}: epoch_length must be '
                             f'an int >= 1 or None, but got '
                             f'{epoch_length!r}.')
        self.epoch_length = epoch_length
        if self.round_up:
            self.num_samples = math.ceil(epoch_length / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil(
                (epoch_length - self.rank) / self.world_size)
            self.total_size = epoch_length

    def class_probabilities(self, epoch: Optional[int] = None) -> Tensor:
        """``p_c`` of an epoch (default: the current one), float64, (C,)."""
        counts = self.class_counts
        weights = torch.where(counts > 0, counts.pow(self.power),
                              torch.zeros_like(counts))
        return weights / weights.sum()

    def draw(self, epoch: Optional[int] = None) -> Tensor:
        """The whole epoch's ``epoch_length`` indices (all ranks'), int64."""
        epoch = self.epoch if epoch is None else epoch
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        probs = self.class_probabilities(epoch)
        classes = torch.multinomial(probs, self.epoch_length,
                                    replacement=True, generator=gen)
        u = torch.rand(self.epoch_length, generator=gen, dtype=torch.float64)
        n = self.class_counts.long()[classes]
        # floor(u * n) < n for u < 1 (float64: exact for n < 2^52)
        within = torch.minimum((u * n).long(), n - 1)
        return self._order[self._offsets[classes] + within]

    def __iter__(self) -> Iterator[int]:
        indices: List[int] = self.draw().tolist()
        if self.round_up and self.total_size > len(indices):
            # pad by repeating the start, as DefaultSampler does
            indices = (indices * (self.total_size // len(indices) + 1)
                       )[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        """Indices this rank yields per epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (its draw depends only on ``(seed, epoch)``)."""
        self.epoch = epoch

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(power={self.power}, seed={self.seed}'
                f', epoch_length={self.epoch_length}, classes='
                f'{self.class_counts.numel()})')


@DATA_SAMPLERS.register_module()
class ClassBalancedSampler(ClassAwareSampler):
    """Every class equally likely (``power=0``), then an image of it
    uniformly: Kang et al.'s class-balanced sampling (their cRT stage).
    Arguments as :class:`ClassAwareSampler` without ``power``."""

    def __init__(self, dataset: Sized, seed: Optional[int] = None,
                 epoch_length: Optional[int] = None,
                 round_up: bool = True) -> None:
        super().__init__(dataset, power=0.0, seed=seed,
                         epoch_length=epoch_length, round_up=round_up)


@DATA_SAMPLERS.register_module()
class SquareRootSampler(ClassAwareSampler):
    """Class probability proportional to ``sqrt(n_c)`` (``power=0.5``;
    Mahajan et al. 2018, Kang et al. 2020). Arguments as
    :class:`ClassAwareSampler` without ``power``."""

    def __init__(self, dataset: Sized, seed: Optional[int] = None,
                 epoch_length: Optional[int] = None,
                 round_up: bool = True) -> None:
        super().__init__(dataset, power=0.5, seed=seed,
                         epoch_length=epoch_length, round_up=round_up)


@DATA_SAMPLERS.register_module()
class ProgressivelyBalancedSampler(ClassAwareSampler):
    """Kang et al.'s progressively balanced sampling: in epoch ``t`` of
    ``total_epochs`` T, ``p_c(t) = (1 - t/T) n_c / N + (t/T) / C`` over the
    C classes with images (instance-balanced in epoch 0, nearly
    class-balanced in the last; ``t/T`` is capped at 1 beyond T).

    Args:
        dataset: The training set.
        total_epochs: T, the number of training epochs (the config's
            ``train_cfg.max_epochs``).
        seed, epoch_length, round_up: As :class:`ClassAwareSampler`.
    """

    def __init__(self, dataset: Sized, total_epochs: int,
                 seed: Optional[int] = None,
                 epoch_length: Optional[int] = None,
                 round_up: bool = True) -> None:
        if isinstance(total_epochs, bool) or \
                not isinstance(total_epochs, int) or total_epochs < 1:
            raise ValueError('ProgressivelyBalancedSampler: total_epochs '
                             'must be an int >= 1 (train_cfg.max_epochs), '
                             f'but got {total_epochs!r}.')
        self.total_epochs = total_epochs
        super().__init__(dataset, power=1.0, seed=seed,
                         epoch_length=epoch_length, round_up=round_up)

    def class_probabilities(self, epoch: Optional[int] = None) -> Tensor:
        epoch = self.epoch if epoch is None else epoch
        t = min(max(epoch, 0) / self.total_epochs, 1.0)
        counts = self.class_counts
        instance = counts / counts.sum()
        present = (counts > 0).double()
        balanced = present / present.sum()
        return (1 - t) * instance + t * balanced

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(total_epochs={self.total_epochs}, '
                f'seed={self.seed}, epoch_length={self.epoch_length}, '
                f'classes={self.class_counts.numel()})')
