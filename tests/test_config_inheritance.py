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


def test_inherit_mmpretrain_config(tmp_path):
    user = tmp_path / 'user_mmpretrain.py'
    user.write_text(
        "_base_ = ['mmpretrain::_base_/models/resnet18_cifar.py']\n"
        "model = dict(head=dict(loss=dict(_delete_=True, "
        "type='mmghm.GHMCWAPLoss', num_classes=10)))\n")
    cfg = Config.fromfile(str(user))
    assert cfg.model.backbone.type == 'ResNet_CIFAR'
    assert cfg.model.head.loss == dict(
        type='mmghm.GHMCWAPLoss', num_classes=10)
