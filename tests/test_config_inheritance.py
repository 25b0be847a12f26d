"""User configs inherit mmghm's and MMPretrain's configs across packages
(MMPretrain's mim layout: configs shipped in the installed package)."""
import pytest

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

REPO = Path(__file__).resolve().parents[1]
USER_CONFIG = (
    "_base_ = ['mmghm::ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py']\n"
    'model = dict(head=dict(loss=dict(gamma=0.5)))\n'
    'train_cfg = dict(max_epochs=1, val_interval=1)\n'
    'train_dataloader = dict(batch_size=128)\n')


@pytest.mark.subprocess  # tools/train.py in a separate process
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
