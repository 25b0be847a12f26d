"""A resumed training ends exactly where an uninterrupted one does.

tools/train.py trains the digits demo (RandomCrop augmentation, GHM-CWAP
with its AURA histograms) for 2 epochs straight, and ``--resume`` of its
epoch-1 checkpoint to 2 in a fresh process; the final weights, buffers
(histograms) and optimizer state must be identical, for the data loading
settings users have: no workers, workers restarted every epoch, and
persistent workers. The same comparison without ``ExactResumeHook`` differs
(it is what the hook fixes), which shows the test can fail.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mmghm  # noqa: F401  (allow-lists MMEngine's checkpoint contents)

# separate processes (tests/conftest.py: -m "not subprocess" leaves them out)
pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'
COMMON = ['train_cfg.val_interval=1', 'default_hooks.logger.interval=5']
# The demo without ExactResumeHook (a user config inheriting the demo).
NO_HOOK_CONFIG = f"""_base_ = [{str(DEMO)!r}]
custom_hooks = [
    dict(type='mmghm.ClassCountsHook'),
    dict(type='mmghm.AURAHook', by_epoch=True, interval=1),
]
"""
LOADERS = {
    'no_workers': ['train_dataloader.num_workers=0'],
    'workers': [
        'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=False'
    ],
    'persistent_workers': [
        'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=True'
    ],
}


def train(work_dir: Path, max_epochs: int, options, resume=None,
          config=DEMO):
    args = [
        sys.executable,
        str(ROOT / 'tools/train.py'),
        str(config), '--work-dir',
        str(work_dir)
    ]
    if resume is not None:
        args += ['--resume', str(resume)]
    args += ['--cfg-options', f'train_cfg.max_epochs={max_epochs}',
             *COMMON, *options]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS='1'),
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(work_dir / f'epoch_{max_epochs}.pth',
                      map_location='cpu')


def differing(a: dict, b: dict) -> list:
    """Names of the state entries that are not bit-for-bit equal."""
    names = []
    for key in a['state_dict']:
        if not torch.equal(a['state_dict'][key], b['state_dict'][key]):
            names.append(key)
    for i, (sa, sb) in enumerate(
            zip(a['optimizer']['state'].values(),
                b['optimizer']['state'].values())):
        if not torch.equal(sa['momentum_buffer'], sb['momentum_buffer']):
            names.append(f'optimizer.state[{i}]')
    return names


def straight_and_resumed(tmp_path, options, config=DEMO):
    """Train 2 epochs straight, then resume that run's epoch-1 checkpoint
    in a fresh process: the state a run stopped after epoch 1 leaves (the
    checkpoint is the same whether or not training went on after it was
    saved)."""
    straight = train(tmp_path / 'straight', 2, options, config=config)
    first = tmp_path / 'straight' / 'epoch_1.pth'
    assert torch.load(first, map_location='cpu')['meta']['epoch'] == 1
    resumed = train(tmp_path / 'resumed', 2, options, resume=first,
                    config=config)
    assert resumed['meta']['epoch'] == straight['meta']['epoch'] == 2
    assert resumed['meta']['iter'] == straight['meta']['iter']
    return straight, resumed


@pytest.mark.parametrize('loader', sorted(LOADERS))
def test_resume_matches_uninterrupted_run_bit_for_bit(loader, tmp_path):
    straight, resumed = straight_and_resumed(tmp_path, LOADERS[loader])
    assert differing(straight, resumed) == []
    # the histograms really are in the comparison
    assert int(straight['state_dict']['head.loss_module.num_updates']) == 2
    assert straight['state_dict']['head.loss_module.ref_density'].sum() > 0


def test_without_the_hook_resume_differs(tmp_path):
    """What the hook fixes: with augmentation drawn from running streams,
    the resumed run's second epoch sees other crops."""
    config = tmp_path / 'no_hook.py'
    config.write_text(NO_HOOK_CONFIG)
    straight, resumed = straight_and_resumed(
        tmp_path, LOADERS['no_workers'], config=config)
    assert 'backbone.conv1.weight' in differing(straight, resumed)
