"""User configs inherit mmghm's and MMPretrain's configs across packages
(MMPretrain's mim layout: configs shipped in the installed package)."""
import mmghm  # noqa: F401  (registers `mmghm` for `mmghm::` bases)
from mmengine.config import Config


def test_inherit_mmghm_config(tmp_path):
    user = tmp_path / 'user_ghm.py'
    user.write_text(
        "_base_ = ['mmghm::ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py']\n"
        'model = dict(head=dict(loss=dict(gamma=0.5)))\n')
    cfg = Config.fromfile(str(user))
    assert cfg.model.head.loss.type == 'mmghm.GHMCWAPLoss'
    assert cfg.model.head.loss.gamma == 0.5
    assert cfg.model.head.loss.alpha == 0.9
    assert cfg.default_scope == 'mmpretrain'
    # Read like a local base: built under default_scope, not _scope_=mmghm
    # (mmghm has no ImageClassifier or UniversalVisualizer).
    assert '_scope_' not in cfg.model and '_scope_' not in cfg.visualizer


def test_inherit_mmpretrain_config(tmp_path):
    user = tmp_path / 'user_mmpretrain.py'
    user.write_text(
        "_base_ = ['mmpretrain::_base_/models/resnet18_cifar.py']\n"
        "model = dict(head=dict(loss=dict(_delete_=True, "
        "type='mmghm.GHMCWAPLoss', num_classes=10)))\n")
    cfg = Config.fromfile(str(user))
    assert cfg.model.backbone.type == 'ResNet_CIFAR'
    # Other packages' bases keep MMEngine's _scope_.
    assert cfg.model._scope_ == 'mmpretrain'
    assert cfg.model.head.loss == dict(
        type='mmghm.GHMCWAPLoss', num_classes=10)


# --- From any folder, editable and regular installs ------------------------
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
USER_CONFIG = (
    "_base_ = ['mmghm::ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py']\n"
    'model = dict(head=dict(loss=dict(gamma=0.5)))\n'
    'train_cfg = dict(max_epochs=1, val_interval=1)\n'
    'train_dataloader = dict(batch_size=128)\n')


def test_train_a_user_config_from_another_folder(tmp_path):
    """tools/train.py on a user config with an mmghm:: base, run from a
    folder that is not the repository (the bug: MMEngine looked for an
    editable install's configs in site-packages/mmghm/.mim)."""
    (tmp_path / 'my_config.py').write_text(USER_CONFIG)
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'train.py'), 'my_config.py',
         '--work-dir', 'out'],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'out' / 'epoch_1.pth').is_file()
    dumped = (tmp_path / 'out' / 'my_config.py').read_text()
    assert 'gamma=0.5' in dumped and "'mmghm.GHMCWAPLoss'" in dumped
    (summary, ) = (tmp_path / 'out').glob('*/summary.json')
    assert json.loads(summary.read_text())['checkpoints']['last'].endswith(
        'epoch_1.pth')


def _tracked_files():
    out = subprocess.run(
        ['git', '-C', str(REPO), 'ls-files', '--cached', '--others',
         '--exclude-standard', '-z'], capture_output=True, timeout=60)
    if out.returncode != 0:
        pytest.skip('not a git checkout: cannot copy the sources to build')
    return [f for f in out.stdout.decode().split('\0')
            if f and (REPO / f).is_file()]


def test_regular_install_resolves_mmghm_bases(tmp_path):
    """A wheel (what `pip install .` installs) ships configs/ and
    model-index.yml in mmghm/.mim and the paper's numbers, and an mmghm::
    base resolves from another folder with it."""
    import shutil
    src = tmp_path / 'src'
    for rel in _tracked_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    build = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(tmp_path / 'wheel'), '.'],
        cwd=src, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel, ) = (tmp_path / 'wheel').glob('mmghm-*.whl')
    target = tmp_path / 'site'
    install = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
         '--target', str(target), str(wheel)],
        capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    mim = target / 'mmghm' / '.mim'
    assert (mim / 'model-index.yml').is_file()
    assert (mim / 'configs' / '_base_' / 'default_runtime.py').is_file()
    assert (mim / 'tools' / 'train.py').is_file()
    assert (target / 'mmghm' / 'results' / 'paper_tables.yml').is_file()
    (tmp_path / 'my_config.py').write_text(USER_CONFIG)
    code = ('import mmghm; from mmengine.config import Config; '
            "c = Config.fromfile('my_config.py'); "
            'print(mmghm.__file__); print(c.model.head.loss.gamma)')
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    where, gamma = proc.stdout.split()[-2:]
    assert where == str(target / 'mmghm' / '__init__.py')
    assert gamma == '0.5'
