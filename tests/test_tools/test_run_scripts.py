"""The restartable run scripts of tools/analysis (run_seeds.sh,
run_decoupling.sh): a step counts as finished by its config's own last
checkpoint (tools/analysis/lib.sh), so a restart skips exactly the finished
steps whatever the schedule's length."""
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from mmengine import Config

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / 'tools' / 'analysis' / 'lib.sh'
CE = 'configs/softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py'
DECOUPLING = 'configs/decoupling/{}_resnet32_30e_cifar10jpeg-lt-if100.py'
STAGE2 = ('softmax-crt', 'softmax-lws')


def _env(tmp_path):
    """The scripts' environment, with a ``python`` first on PATH that
    writes the tool it is asked to run (``tools/...``) to ``ran.log``
    instead of running it, and runs everything else (the helpers) with this
    Python."""
    shim = tmp_path / 'bin'
    shim.mkdir(exist_ok=True)
    (shim / 'python').write_text(
        '#!/usr/bin/env bash\n'
        f'case "$1" in tools/*) echo "$1" >> {tmp_path / "ran.log"}; '
        'exit 0;; esac\n'
        f'exec {sys.executable} "$@"\n')
    (shim / 'python').chmod(0o755)
    return dict(os.environ, CIFAR10_JPEG_ROOT=str(tmp_path), THREADS='1',
                PATH=f'{shim}{os.pathsep}{os.environ["PATH"]}')


def _epochs(config: str) -> int:
    # the configs read CIFAR10_JPEG_ROOT; set only while one is read, so
    # that no other test in this process sees it
    with mock.patch.dict(os.environ, CIFAR10_JPEG_ROOT='/nonexistent'):
        return Config.fromfile(str(ROOT / config)).train_cfg.max_epochs


def _ran(tmp_path) -> list:
    """The tools the scripts ran, in order."""
    log = tmp_path / 'ran.log'
    return log.read_text().split() if log.exists() else []


def _bash(script: str, tmp_path, **env) -> str:
    done = subprocess.run(['bash', '-c', script], cwd=ROOT,
                          env=dict(_env(tmp_path), **env),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.subprocess
def test_final_checkpoint_is_the_configs_own_last_epoch(tmp_path):
    configs = [CE] + [DECOUPLING.format(s) for s in STAGE2]
    # the configs read CIFAR10_JPEG_ROOT, so MMEngine logs a line to stdout
    # before the number: the helper must still give the number alone
    out = _bash(f'source {LIB}; ' + '; '.join(
        f'final_checkpoint {c} /w/{i}; echo $REPLY'
        for i, c in enumerate(configs)), tmp_path)
    expected = [f'/w/{i}/epoch_{_epochs(c)}.pth'
                for i, c in enumerate(configs)]
    assert out.split() == expected
    assert _epochs(CE) != _epochs(DECOUPLING.format('softmax-crt'))


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'')


def _work_dir(root: Path, config: str, seed: int) -> Path:
    return root / Path(config).stem / f'seed{seed}'


@pytest.mark.subprocess
def test_run_seeds_skips_a_run_with_its_last_checkpoint_only(tmp_path):
    root = tmp_path / 'runs'
    done = _work_dir(root, CE, 0)
    _touch(done / f'epoch_{_epochs(CE)}.pth')
    _touch(_work_dir(root, CE, 1) / f'epoch_{_epochs(CE) - 1}.pth')
    out = _bash(f'bash tools/analysis/run_seeds.sh {root} "0 1" {CE}',
                tmp_path, PARALLEL='1')
    assert f'skip {done}\n' in out
    # the unfinished seed trains
    assert f'start {_work_dir(root, CE, 1)}\n' in out
    assert _ran(tmp_path) == ['tools/train.py']


@pytest.mark.subprocess
def test_run_decoupling_skips_every_finished_step(tmp_path):
    root = tmp_path / 'runs'
    _touch(_work_dir(root, CE, 0) / f'epoch_{_epochs(CE)}.pth')
    for name in STAGE2:
        config = DECOUPLING.format(name)
        _touch(_work_dir(root, config, 0) / f'epoch_{_epochs(config)}.pth')
    taunorm = _work_dir(root, DECOUPLING.format('softmax-taunorm'), 0)
    _touch(taunorm / '20260101_000000' / '20260101_000000.json')
    out = _bash(f'bash tools/analysis/run_decoupling.sh {root} 0', tmp_path,
                STEPS='ce')
    skipped = [line.split(' ', 1)[1] for line in out.splitlines()
               if line.startswith('skip ')]
    assert skipped == [str(_work_dir(root, c, 0)) for c in (
        CE, *(DECOUPLING.format(s) for s in STAGE2),
        DECOUPLING.format('softmax-taunorm'))]
    assert 'start' not in out and _ran(tmp_path) == []


@pytest.mark.subprocess
def test_run_decoupling_stage2_waits_for_the_last_stage1_epoch(tmp_path):
    root = tmp_path / 'runs'
    stage1 = _work_dir(root, CE, 0)
    # stage 1 stopped one epoch short, so it trains (here: the shim)
    _touch(stage1 / f'epoch_{_epochs(CE) - 1}.pth')
    out = _bash(f'bash tools/analysis/run_decoupling.sh {root} 0', tmp_path,
                STEPS='ce')
    final = stage1 / f'epoch_{_epochs(CE)}.pth'
    for name in STAGE2:
        stage2 = _work_dir(root, DECOUPLING.format(name), 0)
        assert f'missing {final}: skip {stage2}' in out
    assert _ran(tmp_path) == ['tools/train.py']
