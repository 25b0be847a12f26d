"""Class-aware samplers: class frequencies against the exact probabilities
(chi-square, alpha = 1e-3), the draw index for index against the definition,
seeding by (seed, epoch), epoch length and the ranks' shares.

Sizes: the CIFAR-10-LT and CIFAR-100-LT IF 100 class counts (12,406 and
10,847 images), and ImageNet-LT's scale for the speed check.
"""
import copy
import time

import numpy as np
import pytest
import torch
from mmengine.dataset import ClassBalancedDataset
from mmengine.registry import DATA_SAMPLERS, DefaultScope
from scipy import stats

import mmghm  # noqa: F401  (registers the samplers)
from mmghm.datasets import (ClassAwareSampler, ClassBalancedSampler,
                            ProgressivelyBalancedSampler, SquareRootSampler,
                            long_tailed_counts)
from mmghm.datasets import samplers as samplers_module

#: False-alarm rate of every chi-square test below: with the fixed seeds the
#: tests are deterministic, and a correct sampler fails one with chance
#: 1e-3 per seed choice.
ALPHA = 1e-3
COUNTS = {
    10: long_tailed_counts(10, 5000, 100),  # 5000 ... 50
    100: long_tailed_counts(100, 500, 100),  # 500 ... 5
}


class LabelledSet:
    """A data set of labels only, in a shuffled order (as real data)."""

    def __init__(self, counts, seed=0):
        labels = np.repeat(np.arange(len(counts)), counts)
        self.labels = np.random.RandomState(seed).permutation(labels)
        self.metainfo = dict(classes=[f'c{i}' for i in range(len(counts))])

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


def expected_probabilities(counts, q):
    """n_c^q / sum_k n_k^q, in float64 from the definition."""
    w = [float(n)**q for n in counts]
    return [x / sum(w) for x in w]


def progressive_probabilities(counts, epoch, total):
    t = min(epoch / total, 1.0)
    n = sum(counts)
    return [(1 - t) * c / n + t / len(counts) for c in counts]


def class_frequencies(sampler, labels, epoch=0):
    sampler.set_epoch(epoch)
    drawn = labels[np.asarray(list(iter(sampler)))]
    return np.bincount(drawn, minlength=len(COUNTS[10]) if labels.max() < 10
                       else labels.max() + 1)


CASES = [
    ('class-balanced', lambda d: ClassBalancedSampler(d, seed=3,
                                                      epoch_length=50000),
     lambda c, e: expected_probabilities(c, 0.0)),
    ('square-root', lambda d: SquareRootSampler(d, seed=3,
                                                epoch_length=50000),
     lambda c, e: expected_probabilities(c, 0.5)),
    ('power-0.3', lambda d: ClassAwareSampler(d, power=0.3, seed=3,
                                              epoch_length=50000),
     lambda c, e: expected_probabilities(c, 0.3)),
    ('instance', lambda d: ClassAwareSampler(d, power=1.0, seed=3,
                                             epoch_length=50000),
     lambda c, e: expected_probabilities(c, 1.0)),
    ('progressive', lambda d: ProgressivelyBalancedSampler(
        d, total_epochs=30, seed=3, epoch_length=50000),
     lambda c, e: progressive_probabilities(c, e, 30)),
]


@pytest.mark.parametrize('num_classes', [10, 100])
@pytest.mark.parametrize('name,build,probs', CASES,
                         ids=[c[0] for c in CASES])
def test_class_frequencies_pass_chi_square_against_exact_probabilities(
        name, build, probs, num_classes):
    counts = COUNTS[num_classes]
    data = LabelledSet(counts)
    sampler = build(data)
    epochs = (0, 12, 30) if name == 'progressive' else (0, 1)
    for epoch in epochs:
        p = np.array(probs(counts, epoch))
        torch.testing.assert_close(
            sampler.class_probabilities(epoch),
            torch.as_tensor(p, dtype=torch.float64), rtol=1e-12, atol=0)
        freq = class_frequencies(sampler, data.labels, epoch)
        assert freq.sum() == 50000
        result = stats.chisquare(freq, p * freq.sum())
        assert result.pvalue > ALPHA, (name, epoch, result)


@pytest.mark.parametrize('num_classes', [10, 100])
def test_chi_square_rejects_the_wrong_distribution(num_classes):
    """The test above can fail: square-root draws are not class-balanced."""
    counts = COUNTS[num_classes]
    data = LabelledSet(counts)
    freq = class_frequencies(
        SquareRootSampler(data, seed=3, epoch_length=50000), data.labels)
    p = np.array(expected_probabilities(counts, 0.0))
    assert stats.chisquare(freq, p * freq.sum()).pvalue < ALPHA


def _epoch_seed(seed, epoch):
    """(seed, epoch) -> generator seed, written out from the definition:
    numpy's SeedSequence over [seed, epoch], first 64-bit word, halved."""
    word = np.random.SeedSequence([seed, epoch]).generate_state(1,
                                                                np.uint64)
    return int(word[0]) // 2


def reference_draw(labels, probs, length, seed, epoch):
    """The definition, with per-draw Python: a class from torch.multinomial
    of ``probs``, then the floor(u * n_c)-th image of that class in index
    order, u from the same generator."""
    gen = torch.Generator().manual_seed(_epoch_seed(seed, epoch))
    classes = torch.multinomial(torch.tensor(probs, dtype=torch.float64),
                                length, replacement=True, generator=gen)
    u = torch.rand(length, generator=gen, dtype=torch.float64)
    members = {c: [i for i, y in enumerate(labels) if y == c]
               for c in set(labels.tolist())}
    out = []
    for c, x in zip(classes.tolist(), u.tolist()):
        out.append(members[c][int(x * len(members[c]))])
    return out


@pytest.mark.parametrize('num_classes', [10, 100])
@pytest.mark.parametrize('kind', ['class-balanced', 'square-root',
                                  'progressive'])
def test_draw_equals_the_definition_index_for_index(kind, num_classes):
    counts = COUNTS[num_classes]
    data = LabelledSet(counts, seed=1)
    length, seed, epoch = 6000, 11, 7
    if kind == 'class-balanced':
        sampler = ClassBalancedSampler(data, seed=seed, epoch_length=length)
        probs = expected_probabilities(counts, 0.0)
    elif kind == 'square-root':
        sampler = SquareRootSampler(data, seed=seed, epoch_length=length)
        probs = expected_probabilities(counts, 0.5)
    else:
        sampler = ProgressivelyBalancedSampler(
            data, total_epochs=20, seed=seed, epoch_length=length)
        probs = progressive_probabilities(counts, epoch, 20)
    sampler.set_epoch(epoch)
    drawn = list(iter(sampler))
    expected = reference_draw(data.labels, probs, length, seed, epoch)
    assert drawn == expected
    # hence the exact class counts of this seed
    assert np.bincount(data.labels[drawn], minlength=num_classes).tolist() \
        == np.bincount(data.labels[expected],
                       minlength=num_classes).tolist()
    assert len(sampler) == length


def test_images_are_uniform_within_their_class():
    counts = COUNTS[10]
    data = LabelledSet(counts)
    sampler = ClassBalancedSampler(data, seed=5, epoch_length=100000)
    drawn = np.asarray(list(iter(sampler)))
    for cls in (0, 9):  # the head (5,000 images) and the tail (50)
        members = np.flatnonzero(data.labels == cls)
        hits = np.bincount(drawn[data.labels[drawn] == cls],
                           minlength=len(data))[members]
        assert stats.chisquare(hits).pvalue > ALPHA, cls
        if cls == 9:
            assert (hits > 0).all()


def test_draw_depends_on_seed_and_epoch_only():
    data = LabelledSet(COUNTS[10])
    a = ClassBalancedSampler(data, seed=0)
    b = ClassBalancedSampler(data, seed=0)
    assert len(a) == len(data) == 12406  # default epoch length
    a.set_epoch(4)
    first = list(iter(a))
    list(iter(b))  # whatever ran before does not matter
    b.set_epoch(4)
    assert list(iter(b)) == first == list(iter(a))
    a.set_epoch(5)
    assert list(iter(a)) != first
    # seed 0 epoch 1 is not seed 1 epoch 0 (seed + epoch would collide)
    c = ClassBalancedSampler(data, seed=0)
    d = ClassBalancedSampler(data, seed=1)
    c.set_epoch(1)
    assert list(iter(c)) != list(iter(d))


@pytest.mark.parametrize('round_up', [True, False])
@pytest.mark.parametrize('world', [2, 3])
def test_rank_shares_are_disjoint_and_make_the_single_process_draw(
        monkeypatch, world, round_up):
    """The ranks' shares with get_dist_info mocked (the gloo test runs two
    real processes)."""
    data = LabelledSet(COUNTS[10])
    length = 1001  # not a multiple of 2 or 3: padding
    single = SquareRootSampler(data, seed=2, epoch_length=length,
                               round_up=round_up)
    single.set_epoch(3)
    whole = list(iter(single))
    shares = []
    for rank in range(world):
        monkeypatch.setattr(samplers_module, 'get_dist_info',
                            lambda r=rank: (r, world))
        s = SquareRootSampler(data, seed=2, epoch_length=length,
                              round_up=round_up)
        s.set_epoch(3)
        shares.append(list(iter(s)))
        assert len(shares[-1]) == len(s)
    total = sum(len(s) for s in shares)
    padded = -(-length // world) * world if round_up else length
    assert total == padded
    interleaved = [shares[i % world][i // world] for i in range(total)]
    # positions are disjoint by construction; together the single draw,
    # padded by its own start as DefaultSampler pads
    assert interleaved == (whole + whole)[:padded]


def test_imagenet_lt_scale_draw_is_vectorised():
    """115,846 samples of 1,000 classes (ImageNet-LT's train size)."""
    counts = long_tailed_counts(1000, 1280, 256)
    counts = (np.array(counts) * 115846 / sum(counts)).astype(int)
    counts[0] += 115846 - counts.sum()
    data = LabelledSet(counts.tolist())
    start = time.perf_counter()
    sampler = ClassBalancedSampler(data, seed=0)
    indices = sampler.draw()
    elapsed = time.perf_counter() - start
    assert indices.shape == (115846, )
    assert elapsed < 5.0, elapsed  # milliseconds in practice


@pytest.fixture(scope='module')
def digits_lt():
    from mmghm.datasets import LongTailedDataset, SklearnDigits
    return LongTailedDataset(SklearnDigits(split='train', pipeline=[]),
                             imbalance_factor=10)


def test_builds_from_a_host_scope_and_reads_the_shared_counts(digits_lt):
    data = digits_lt
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        sampler = DATA_SAMPLERS.build(
            dict(type='mmghm.ProgressivelyBalancedSampler', total_epochs=4),
            default_args=dict(dataset=data, seed=0))
    assert type(sampler) is ProgressivelyBalancedSampler
    assert sampler.class_counts.tolist() == \
        data.metainfo['class_counts'] == [int(140 * 0.1**(i / 9))
                                          for i in range(10)]


def test_bad_arguments_are_named():
    data = LabelledSet(COUNTS[10])
    with pytest.raises(ValueError, match='power must be'):
        ClassAwareSampler(data, power=-1)
    with pytest.raises(ValueError, match='epoch_length must be'):
        ClassBalancedSampler(data, epoch_length=0)
    with pytest.raises(ValueError, match='total_epochs must be'):
        ProgressivelyBalancedSampler(data, total_epochs=0)
    empty = LabelledSet([0, 0])
    with pytest.raises(ValueError, match='empty'):
        ClassBalancedSampler(empty)


def test_classes_without_images_are_never_drawn():
    counts = copy.copy(COUNTS[10])
    counts[4] = 0
    data = LabelledSet(counts)
    sampler = ClassBalancedSampler(data, seed=0, epoch_length=20000)
    freq = np.bincount(data.labels[list(iter(sampler))], minlength=10)
    assert freq[4] == 0 and (np.delete(freq, 4) > 0).all()
    assert sampler.class_probabilities()[4] == 0


def test_a_repeating_wrapper_is_refused(digits_lt):
    repeated = ClassBalancedDataset(digits_lt, oversample_thr=0.5)
    with pytest.raises(ValueError, match='repeats samples'):
        ClassBalancedSampler(repeated)
