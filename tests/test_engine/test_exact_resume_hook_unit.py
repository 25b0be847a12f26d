"""ExactResumeHook's pieces without a training: per-sample seeds, which data
sets get them, and the global generators it leaves alone."""
import random
import types

import numpy as np
import pytest
import torch
from mmengine.dataset import ClassBalancedDataset

from mmghm.engine.hooks.exact_resume_hook import (ExactResumeHook,
                                                  SampleSeededPipeline)


def draw(results):
    """A 'pipeline' whose output is its random draws."""
    return dict(results, np=np.random.rand(), py=random.random(),
                torch=float(torch.rand(())))


def test_draws_depend_on_seed_epoch_and_index_only():
    epoch = torch.zeros((), dtype=torch.long)
    pipe = SampleSeededPipeline(draw, seed=3, epoch=epoch)
    a = pipe(dict(sample_idx=7))
    np.random.rand(), random.random(), torch.rand(())  # streams move on
    assert pipe(dict(sample_idx=7)) == a
    assert pipe(dict(sample_idx=8)) != a
    epoch.fill_(1)
    assert pipe(dict(sample_idx=7)) != a
    assert SampleSeededPipeline(draw, 4, epoch.zero_())(
        dict(sample_idx=7)) != a


def test_main_process_generators_are_restored():
    pipe = SampleSeededPipeline(draw, seed=0,
                                epoch=torch.zeros((), dtype=torch.long))
    states = (np.random.get_state()[1].copy(), random.getstate(),
              torch.get_rng_state())
    pipe(dict(sample_idx=0))
    assert np.array_equal(np.random.get_state()[1], states[0])
    assert random.getstate() == states[1]
    assert torch.equal(torch.get_rng_state(), states[2])


def test_a_sample_without_index_is_a_clear_error():
    pipe = SampleSeededPipeline(draw, seed=0,
                                epoch=torch.zeros((), dtype=torch.long))
    with pytest.raises(KeyError, match="needs the data info's 'sample_idx'"):
        pipe({})


class FakeData:
    def __init__(self):
        self.pipeline = draw


def fake_runner(dataset, by_epoch=True):
    loop = types.SimpleNamespace(_max_epochs=3 if by_epoch else None)
    messages = []
    logger = types.SimpleNamespace(warning=messages.append,
                                   info=messages.append)
    runner = types.SimpleNamespace(
        seed=0, train_loop=loop, logger=logger,
        train_dataloader=types.SimpleNamespace(dataset=dataset))
    return runner, messages


def test_epoch_loops_seed_every_wrapped_pipeline_and_restore_it_after():
    inner = FakeData()
    outer = types.SimpleNamespace(dataset=inner, pipeline=inner.pipeline)
    runner, _ = fake_runner(outer)
    hook = ExactResumeHook()
    hook.before_train(runner)
    assert isinstance(outer.pipeline, SampleSeededPipeline)
    assert isinstance(inner.pipeline, SampleSeededPipeline)
    hook.after_train(runner)
    assert outer.pipeline is draw and inner.pipeline is draw


def test_repeating_data_sets_and_iteration_loops_are_not_seeded_per_sample():
    inner = FakeData()
    repeated = ClassBalancedDataset.__new__(ClassBalancedDataset)
    repeated.dataset = inner
    runner, messages = fake_runner(repeated)
    ExactResumeHook().before_train(runner)
    assert inner.pipeline is draw and 'repeats samples' in messages[0]

    runner, messages = fake_runner(FakeData(), by_epoch=False)
    ExactResumeHook().before_train(runner)
    assert runner.train_dataloader.dataset.pipeline is draw
    assert 'iteration-based loop' in messages[0]


def test_reseed_depends_on_seed_and_step_only():
    ExactResumeHook.reseed(5, 2)
    a = (np.random.rand(), random.random(), float(torch.rand(())))
    ExactResumeHook.reseed(5, 2)
    assert (np.random.rand(), random.random(), float(torch.rand(()))) == a
    ExactResumeHook.reseed(5, 3)
    assert np.random.rand() != a[0]
