"""Image packs (mmghm.engine.fast_train.image_pack, pack_cifar_lt.py).

A pack holds exactly the images a config selects, and decoding it gives
the pixels LoadImageFromFile reads from the files; the harness reads a pack
instead of the folder with the same result, and refuses a pack made for
other data.
"""
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmghm  # noqa: F401
from mmghm.engine import fast_train as ft
from mmghm.engine.fast_train import image_pack as ip

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/ghm_cwap' / \
    'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py'
#: n_max = 20 a class at IF 10: int(20 * 0.1 ** (i / 9)).
IF10 = dict(train_dataloader=dict(dataset=dict(imbalance_factor=10)))
IF10_COUNTS = [20, 15, 11, 9, 7, 5, 4, 3, 2, 2]


def write_jpeg_folder(root: Path, train: int, test: int) -> Path:
    """``train/c<k>/<i>.jpg`` and ``test/...``: 10 classes of noise."""
    rng = np.random.RandomState(1)
    for split, n in (('train', train), ('test', test)):
        for c in range(10):
            folder = root / split / f'c{c}'
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.randint(0, 256, (32, 32, 3), dtype=np.uint8)
                cv2.imwrite(str(folder / f'{i:04d}.jpg'), img)
    return root


@pytest.fixture(scope='module')
def jpeg_root(tmp_path_factory) -> Path:
    return write_jpeg_folder(tmp_path_factory.mktemp('jpeg'), 20, 3)


def _config(root: Path, extra: dict = IF10) -> Config:
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict(extra)
    ip.set_data_root(cfg, str(root))
    return cfg


@pytest.fixture(scope='module')
def pack(jpeg_root, tmp_path_factory):
    path = tmp_path_factory.mktemp('pack') / 'small.npz'
    ip.pack_from_config(_config(jpeg_root), str(path), dict(note='test'))
    return path


def _loaded_by_pipeline(cfg: Config, loader: str) -> list:
    """Images as the config's own LoadImageFromFile reads them."""
    from mmpretrain.registry import DATASETS, TRANSFORMS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(cfg[loader].dataset)
        load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    return [load(dataset.get_data_info(i))['img']
            for i in range(len(dataset))], dataset


def test_pack_holds_the_selected_images_with_identical_pixels(
        pack, jpeg_root):
    loaded = ip.load_pack(str(pack))
    meta = loaded.meta
    assert meta['format'] == ip.PACK_FORMAT and meta['note'] == 'test'
    assert meta['classes'] == [f'c{c}' for c in range(10)]
    assert meta['splits']['train']['class_counts'] == IF10_COUNTS
    assert meta['splits']['test']['class_counts'] == [3] * 10
    assert meta['specs']['train']['long_tailed'] == dict(
        imbalance_factor=10, imbalance_type='exp', seed=0, n_max=None)
    cfg = _config(jpeg_root)
    for split, loader in (('train', 'train_dataloader'),
                          ('test', 'val_dataloader')):
        images, dataset = _loaded_by_pipeline(cfg, loader)
        decoded = ip.decode_pack_split(loaded, split)
        assert decoded.shape == (len(dataset), 32, 32, 3)
        for i, img in enumerate(images):
            assert np.array_equal(decoded[i], img), (split, i)
        # in the data set's own order, with its labels and files
        assert loaded.labels(split).tolist() == [
            int(dataset.get_data_info(i)['gt_label'])
            for i in range(len(dataset))]
        assert str(loaded.arrays[f'{split}_paths'][0]).startswith(split)
        assert meta['splits'][split]['decoded_sha256'] == \
            ip.pixels_sha256(np.stack(images))


def test_pack_loads_without_pickle_and_rejects_other_files(pack, tmp_path):
    bad = tmp_path / 'bad.npz'
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(ValueError, match='not an mmghm image pack'):
        ip.load_pack(str(bad))
    with pytest.raises(FileNotFoundError, match='missing.npz'):
        ip.load_pack(str(tmp_path / 'missing.npz'))
    # object arrays (pickles) are refused by np.load(allow_pickle=False)
    evil = tmp_path / 'evil.npz'
    np.savez(evil, meta=np.array([{'format': ip.PACK_FORMAT}], dtype=object))
    with pytest.raises(ValueError, match='holds Python objects'):
        ip.load_pack(str(evil))


def test_harness_reads_the_pack_like_the_folder(pack, jpeg_root):
    cfg = _config(jpeg_root)
    from_folder = ft.load_image_sets(cfg, torch.device('cpu'))
    from_pack = ft.load_image_sets(cfg, torch.device('cpu'),
                                   pack_path=str(pack))
    for split in ('train', 'test'):
        assert torch.equal(from_pack[split].images,
                           from_folder[split].images)
        assert torch.equal(from_pack[split].labels,
                           from_folder[split].labels)
        assert from_pack[split].sha256 == from_folder[split].sha256
        assert 'pixels identical' in from_pack[split].description


def test_harness_refuses_a_pack_of_other_data(pack, jpeg_root):
    cfg = _config(jpeg_root, dict(train_dataloader=dict(
        dataset=dict(imbalance_factor=5))))
    with pytest.raises(ValueError, match='imbalance_factor: config 5, '
                       'pack 10'):
        ft.load_image_sets(cfg, torch.device('cpu'), pack_path=str(pack))


def test_data_spec_needs_load_image_from_file():
    cfg = Config.fromfile(
        str(ROOT / 'configs/softmax/softmax_resnet20_demo_digits-lt.py'))
    with pytest.raises(ValueError, match='LoadImageFromFile'):
        ip.data_spec(cfg.train_dataloader.dataset)
    spec = ip.data_spec(Config.fromfile(str(CONFIG)).val_dataloader.dataset)
    assert spec == dict(long_tailed=None, type='CustomDataset',
                        data_prefix='test', split=None, ann_file=None,
                        loader=dict(type='LoadImageFromFile',
                                    color_type='color',
                                    imdecode_backend='cv2'))


def _pack_tool():
    sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
    try:
        import pack_cifar_lt
    finally:
        sys.path.pop(0)
    return pack_cifar_lt


def test_pack_tool_checks_cfg_options_as_tools_train_does(tmp_path):
    """--cfg-options go through mmghm.utils.launch: a value of the wrong
    type is refused naming the option, a misspelt key warns, before any
    image is read."""
    out = tmp_path / 'x.npz'
    with pytest.raises(
            ValueError,
            match='train_dataloader.batch_size must be an integer'):
        _pack_tool().main([str(CONFIG), '--data-root', str(tmp_path),
                           '--out', str(out), '--cfg-options',
                           'train_dataloader.batch_size=abc'])
    # (then the empty data root is what stops it)
    with pytest.warns(UserWarning, match="did you mean 'train_dataloader'"), \
            pytest.raises(FileNotFoundError, match='train'):
        _pack_tool().main([str(CONFIG), '--data-root', str(tmp_path),
                           '--out', str(out), '--cfg-options',
                           'train_dataloadr.batch_size=4'])
    assert not out.exists()


def test_pack_tool_on_the_real_cifar10_lt(cifar10_jpeg_root, tmp_path):
    """The pack a device run carries: CIFAR-10-LT IF 100, 12,406 + 10,000
    JPEGs, small enough to carry with the wheels."""
    pack_cifar_lt = _pack_tool()
    out = tmp_path / 'cifar.npz'
    assert pack_cifar_lt.main([str(CONFIG), '--data-root',
                               str(cifar10_jpeg_root), '--out',
                               str(out)]) == 0
    loaded = ip.load_pack(str(out))
    splits = loaded.meta['splits']
    assert splits['train']['class_counts'] == [
        5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert splits['test']['class_counts'] == [1000] * 10
    assert out.stat().st_size < 12 * 2**20  # 6.5 MiB when written
    # spot check: the first and last test images decode as the files do
    cfg = Config.fromfile(str(CONFIG))
    ip.set_data_root(cfg, str(cifar10_jpeg_root))
    for i in (0, 9999):
        path = cifar10_jpeg_root / str(loaded.arrays['test_paths'][i])
        expected = cv2.imread(str(path), cv2.IMREAD_COLOR)
        got = ip.decode_image(loaded.encoded('test', i),
                              loaded.meta['specs']['test']['loader'])
        assert np.array_equal(got, expected)
    assert json.loads(json.dumps(loaded.meta))['config'] == CONFIG.name
