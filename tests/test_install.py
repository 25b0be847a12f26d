"""A regular (non-editable) install: what the wheel ships, mmghm:: bases
from another folder, and OpenMMLab's `mim train` / `mim test` on it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# separate processes (tests/conftest.py: -m "not subprocess" leaves them out)
pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parents[1]
DEMO = 'ghm-cwap_resnet20_demo_digits-lt'
USER_CONFIG = (
    f"_base_ = ['mmghm::ghm_cwap/{DEMO}.py']\n"
    'model = dict(head=dict(loss=dict(gamma=0.5)))\n')


def _sources():
    out = subprocess.run(
        ['git', '-C', str(REPO), 'ls-files', '--cached', '--others',
         '--exclude-standard', '-z'], capture_output=True, timeout=60)
    if out.returncode != 0:
        pytest.skip('not a git checkout: cannot copy the sources to build')
    return [f for f in out.stdout.decode().split('\0')
            if f and (REPO / f).is_file()]


@pytest.fixture(scope='module')
def installed(tmp_path_factory) -> Path:
    """mmghm built as a wheel from a copy of the sources (the build writes
    mmghm/.mim into the tree it builds) and installed with --target."""
    tmp = tmp_path_factory.mktemp('install')
    src = tmp / 'src'
    for rel in _sources():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    build = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(tmp / 'wheel'), '.'],
        cwd=src, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel, ) = (tmp / 'wheel').glob('mmghm-*.whl')
    target = tmp / 'site'
    install = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
         '--target', str(target), str(wheel)],
        capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    return target


def _run(args, cwd, target, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(target), OMP_NUM_THREADS='1')
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def test_wheel_ships_configs_tools_and_the_papers_numbers(installed):
    mim = installed / 'mmghm' / '.mim'
    assert (mim / 'model-index.yml').is_file()
    for metafile in (REPO / 'configs').glob('*/metafile.yml'):
        rel = metafile.relative_to(REPO)
        assert (mim / rel).is_file(), rel
    assert (mim / 'configs' / '_base_' / 'default_runtime.py').is_file()
    assert (mim / 'tools' / 'train.py').is_file()
    assert (mim / 'tools' / 'analysis' / 'collect_results.py').is_file()
    assert (installed / 'mmghm' / 'results' / 'paper_tables.yml').is_file()


def test_regular_install_resolves_mmghm_bases(installed, tmp_path):
    (tmp_path / 'my_config.py').write_text(USER_CONFIG)
    code = ('import mmghm; from mmengine.config import Config; '
            "c = Config.fromfile('my_config.py'); "
            'print(mmghm.__file__); print(c.model.head.loss.gamma)')
    where, gamma = _run([sys.executable, '-c', code], tmp_path,
                        installed).split()[-2:]
    assert where == str(installed / 'mmghm' / '__init__.py')
    assert gamma == '0.5'


def test_mim_train_and_test(installed, tmp_path):
    """`mim train mmghm CONFIG` / `mim test mmghm CONFIG --checkpoint`
    find the config and the tools inside the installed package."""
    pytest.importorskip('mim', reason='openmim is not installed '
                        '(pip install openmim; see docs/install.md)')
    mim = [sys.executable, '-m', 'mim']
    out = _run(mim + [
        'train', 'mmghm', f'{DEMO}.py', '--gpus', '0', '--work-dir',
        str(tmp_path / 'train'), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1'
    ], tmp_path, installed)
    assert 'Training finished successfully' in out
    ckpt = tmp_path / 'train' / 'epoch_1.pth'
    assert ckpt.is_file()
    out = _run(mim + [
        'test', 'mmghm', f'{DEMO}.py', '--checkpoint', str(ckpt), '--gpus',
        '0', '--work-dir', str(tmp_path / 'test'), '--out',
        str(tmp_path / 'metrics.json'), '--out-item', 'metrics'
    ], tmp_path, installed)
    assert 'Testing finished successfully' in out
    import json
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert 0 <= metrics['accuracy/top1'] <= 100
    assert {'group_accuracy/many', 'group_accuracy/few'} <= set(metrics)
