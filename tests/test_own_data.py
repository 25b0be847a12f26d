"""The own-data example configs train on an image folder the test makes:
already long-tailed, and balanced made long-tailed by LongTailedDataset."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# separate processes (tests/conftest.py: -m "not subprocess" leaves them out)
pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs' / 'own_data'
CLASSES = ('cat', 'dog', 'owl')  # sorted: labels 0, 1, 2
COLOURS = ((200, 40, 40), (40, 200, 40), (40, 40, 200))


def make_folder(root: Path, train_counts, test_count=4, seed=0):
    """train/<class>/*.jpg and test/<class>/*.png: noisy 40x40 images of a
    colour per class."""
    rng = np.random.RandomState(seed)
    for split, counts, ext in (('train', train_counts, 'jpg'),
                               ('test', [test_count] * len(CLASSES), 'png')):
        for name, colour, count in zip(CLASSES, COLOURS, counts):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(
                    np.array(colour) + rng.randint(-30, 30, (40, 40, 3)), 0,
                    255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f'{i:04d}.{ext}')
    return root


def train(config: Path, data_root: Path, work_dir: Path, *options):
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'train.py'), str(config),
         '--work-dir', str(work_dir), '--cfg-options',
         'model.head.num_classes=3', 'model.head.loss.num_classes=3',
         'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
         'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
         'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
         *options],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OWN_DATA_ROOT=str(data_root),
                 OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((work_dir / 'per_class.json').read_text())


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp('own')
    return (make_folder(root / 'lt', [24, 9, 3]),
            make_folder(root / 'balanced', [10, 10, 10]))


def test_long_tailed_folder_trains_one_epoch(folders, tmp_path):
    result = train(CONFIGS / 'ghm-cwap_resnet32_30e_own-data.py',
                   folders[0], tmp_path)
    # The folder's own counts, its class names, every test image scored.
    assert result['class_counts'] == [24, 9, 3]
    assert result['classes'] == list(CLASSES)
    assert result['num_test_samples'] == [4, 4, 4]
    assert (tmp_path / 'epoch_1.pth').is_file()
    assert list(tmp_path.glob('*/summary.json'))


def test_balanced_folder_made_long_tailed(folders, tmp_path):
    result = train(CONFIGS / 'ghm-cwap_resnet32_30e_own-data-balanced.py',
                   folders[1], tmp_path,
                   'train_dataloader.dataset.imbalance_factor=4')
    # int(10 * (1/4) ** (i / 2)) for i = 0, 1, 2.
    assert result['class_counts'] == [10, 5, 2]
    assert result['num_test_samples'] == [4, 4, 4]


def _build_train_set(config: Path):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import mmghm  # noqa: F401
    from mmghm.registry import DATASETS
    cfg = Config.fromfile(str(config))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(cfg.train_dataloader.dataset)


@pytest.mark.parametrize('name', [
    'ghm-cwap_resnet32_30e_own-data.py',
    'ghm-cwap_resnet32_30e_own-data-balanced.py'])
def test_unset_own_data_root_names_the_variable_and_the_layout(
        name, tmp_path, monkeypatch):
    """Without OWN_DATA_ROOT the configs fall back to data/own-data; where
    that is missing the error says so, names the variable and the layout
    (not a bare FileNotFoundError of 'data/own-data/train')."""
    monkeypatch.delenv('OWN_DATA_ROOT', raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        _build_train_set(CONFIGS / name)
    message = str(info.value)
    assert "'data/own-data/train' does not exist" in message
    assert 'OWN_DATA_ROOT is not set' in message
    assert 'export OWN_DATA_ROOT=/path/to/root' in message
    assert '<root>/train/<class>/*.jpg' in message
    assert '<root>/test/<class>/*.jpg' in message


def test_own_data_root_without_class_folders_says_it_is_set(tmp_path,
                                                            monkeypatch):
    (tmp_path / 'train' / 'notes.txt').parent.mkdir()
    (tmp_path / 'train' / 'notes.txt').write_text('no class folders')
    monkeypatch.setenv('OWN_DATA_ROOT', str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        _build_train_set(CONFIGS / 'ghm-cwap_resnet32_30e_own-data.py')
    message = str(info.value)
    assert 'has no class sub-folders' in message
    assert f'OWN_DATA_ROOT is set to {str(tmp_path)!r}' in message


def test_own_data_root_set_builds_the_folders_classes(folders, monkeypatch):
    monkeypatch.setenv('OWN_DATA_ROOT', str(folders[0]))
    dataset = _build_train_set(CONFIGS / 'ghm-cwap_resnet32_30e_own-data.py')
    assert type(dataset).__name__ == 'ImageFolder'
    assert dataset.metainfo['classes'] == CLASSES
    assert np.bincount(dataset.get_gt_labels()).tolist() == [24, 9, 3]


def test_image_folder_rejects_a_bad_root_env():
    from mmghm.datasets import ImageFolder
    with pytest.raises(ValueError, match='root_env must be the name'):
        ImageFolder(data_root='x', data_prefix='train', root_env='',
                    lazy_init=True)
