"""The CPU-sized comparison's data on the real CIFAR-10 JPEGs (skipped
where the zip is not available; see conftest.py)."""
import copy
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmghm  # noqa: F401  (registers mmghm's modules)

CONFIG = (Path(__file__).resolve().parents[2] / 'configs' / 'ghm_cwap' /
          'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py')


def test_cifar10_jpeg_config_reads_real_data(cifar10_jpeg_root, monkeypatch):
    """CIFAR-10-LT IF 100 on the JPEGs: 12,406 training images."""
    monkeypatch.setenv('CIFAR10_JPEG_ROOT', str(cifar10_jpeg_root))
    cfg = Config.fromfile(str(CONFIG))
    from mmpretrain.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        train = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
        test = DATASETS.build(copy.deepcopy(cfg.val_dataloader.dataset))
    assert list(train.metainfo['class_counts']) == [
        5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert len(train) == 12406 and len(test) == 10000
    sample = train[0]
    assert sample['inputs'].shape == (3, 32, 32)
    assert train.metainfo['classes'][0] == 'airplane'
