"""tools/train.py's thread choice: small CPU runs on one thread unless the
user set a thread count (mmghm.utils.threads)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmghm.utils.threads import (SMALL_BATCH, apply_cpu_threads,
                                 choose_cpu_threads)

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'ghm_cwap'


def test_small_cpu_batch_without_thread_variables_gets_one_thread():
    threads, why = choose_cpu_threads(32, environ={}, cuda=False)
    assert threads == 1 and SMALL_BATCH == 32
    assert why.startswith('CPU threads: 1 (a small CPU run: batches of 32')
    assert 'OMP_NUM_THREADS' in why


@pytest.mark.parametrize('name', ['OMP_NUM_THREADS', 'MKL_NUM_THREADS'])
def test_a_set_thread_variable_is_left_alone(name):
    threads, why = choose_cpu_threads(8, environ={name: '2'}, cuda=False)
    assert threads is None
    assert f'({name}=2 is set)' in why


def test_gpu_runs_and_large_batches_keep_torchs_default():
    assert choose_cpu_threads(32, environ={}, cuda=True)[0] is None
    threads, why = choose_cpu_threads(33, environ={}, cuda=False)
    assert threads is None and 'batches of 33 images' in why
    assert choose_cpu_threads(None, environ={}, cuda=False)[0] is None


@pytest.mark.parametrize('bad', [0, -1, 3.0, True, '32'])
def test_bad_batch_size_is_refused(bad):
    with pytest.raises(ValueError, match='batch_size must be a positive int'):
        choose_cpu_threads(bad, environ={}, cuda=False)


def test_demo_config_runs_on_one_thread_and_cifar_config_on_the_default():
    """README's main job (batches of 32) is set to 1 thread; the CIFAR-LT
    configs (batches of 128) keep torch's default."""
    torch.set_num_threads(2)
    demo = Config.fromfile(CONFIGS / 'ghm-cwap_resnet20_demo_digits-lt.py')
    why = apply_cpu_threads(demo, environ={}, cuda=False)
    assert torch.get_num_threads() == 1, why
    torch.set_num_threads(2)
    cifar = Config.fromfile(
        CONFIGS / 'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py')
    assert cifar.train_dataloader.batch_size == 128
    apply_cpu_threads(cifar, environ={}, cuda=False)
    assert torch.get_num_threads() == 2
    apply_cpu_threads(demo, environ={'OMP_NUM_THREADS': '2'}, cuda=False)
    assert torch.get_num_threads() == 2
